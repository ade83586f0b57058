"""Staff accounts: names and Argon2id password hashes, with equal work for known and unknown names."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.staff_tables import ConsoleKey, StaffAccount
from storage.tables import utcnow

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # Argon2 takes any length; this only stops a megabyte "password" from a form
# argon2-cffi's defaults are RFC 9106's second recommended profile (Argon2id, 64 MiB, 3 passes).
_hasher = PasswordHasher()
# Unknown names are checked against this, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A staff account request that can't be carried out; the message says why."""


@dataclass(frozen=True, slots=True)
class StaffMember:
    """An account as the console and the CLI show it (never the hash)."""

    username: str
    created_at: datetime
    last_login_at: datetime | None


def check_password(password: str) -> None:
    """Raise AccountError when a new password is too weak to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters")


class StaffAccounts:
    """Creates, lists, removes and authenticates staff accounts."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, username: str, password: str) -> StaffMember:
        if not USERNAME.fullmatch(username):
            raise AccountError("a username is 1-64 letters, digits, '.', '_', '@' or '-', starting with one")
        check_password(password)
        hashed = await asyncio.to_thread(_hasher.hash, password)  # ~50 ms of CPU: keep the loop free
        account = StaffAccount(username=username, password_hash=hashed)
        try:
            async with self._sessions() as session, session.begin():
                session.add(account)
        except IntegrityError:
            raise AccountError(f"there is already a staff member called {username!r}") from None
        return StaffMember(account.username, account.created_at, None)

    async def remove(self, username: str) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(StaffAccount).where(StaffAccount.username == username))
            return result.rowcount == 1

    async def listing(self) -> list[StaffMember]:
        async with self._sessions() as session:
            rows = await session.scalars(select(StaffAccount).order_by(StaffAccount.username))
            return [StaffMember(row.username, row.created_at, row.last_login_at) for row in rows]

    async def exists(self, username: str) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))
            return found is not None

    async def authenticate(self, username: str, password: str) -> bool:
        """Whether this name and password match an account; records the sign-in when they do."""
        async with self._sessions() as session:
            account = await session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        stored = account.password_hash if account is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(_verify, stored, password[:MAX_PASSWORD_LENGTH])
        if not ok or account is None:
            return False
        values: dict[str, object] = {"last_login_at": utcnow()}
        if _hasher.check_needs_rehash(stored):  # parameters were raised since this hash was made
            values["password_hash"] = await asyncio.to_thread(_hasher.hash, password)
        async with self._sessions() as session, session.begin():
            await session.execute(update(StaffAccount).where(StaffAccount.id == account.id).values(**values))
        return True

    async def console_key(self, name: str) -> str:
        """A random secret stored once in the database, so every process sharing it uses the same one."""
        async with self._sessions() as session:
            found = await session.get(ConsoleKey, name)
            if found is not None:
                return found.value
        try:
            async with self._sessions() as session, session.begin():
                session.add(ConsoleKey(name=name, value=secrets.token_urlsafe(48)))
        except IntegrityError:
            pass  # another process stored one first: everyone uses that one
        async with self._sessions() as session:
            stored = await session.get(ConsoleKey, name)
            assert stored is not None
            return stored.value


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
