"""Staff accounts for the web console: add, list, remove."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from assistant.business import load_business
from assistant.settings import Settings

if TYPE_CHECKING:
    from storage.staff import StaffAccounts


@contextlib.asynccontextmanager
async def _accounts(settings: Settings) -> AsyncIterator[StaffAccounts]:
    """Accounts on the configured database, once it is known to be usable."""
    from assistant.database import open_database
    from storage.staff import StaffAccounts

    async with open_database(settings) as sessions:
        yield StaffAccounts(sessions)


def _read_password(args: argparse.Namespace) -> str | None:
    """The new password: one line from stdin with --password-stdin, else asked twice at the terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print("sms-assistant: no terminal to ask for a password; use --password-stdin", file=sys.stderr)
        return None
    first = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Again: ") != first:
        print("sms-assistant: the passwords differ; nothing was added", file=sys.stderr)
        return None
    return first


async def _staff_add(settings: Settings, args: argparse.Namespace) -> int:
    from storage.staff import AccountError

    password = _read_password(args)
    if password is None:
        return 1
    async with _accounts(settings) as accounts:
        try:
            await accounts.add(args.name, password)
        except AccountError as exc:
            print(f"sms-assistant: {exc}", file=sys.stderr)
            return 1
    print(f"added {args.name}")
    return 0


async def _staff_list(settings: Settings, args: argparse.Namespace) -> int:
    async with _accounts(settings) as accounts:
        members = await accounts.listing()
    business = load_business(settings.business_config)
    for member in members:
        last = business.timestamp(member.last_login_at) if member.last_login_at else "never"
        print(f"{member.username}\tadded {business.timestamp(member.created_at)}\tlast sign-in {last}")
    if not members:
        print("no staff accounts yet: sms-assistant staff add NAME --password-stdin", file=sys.stderr)
    return 0


async def _staff_remove(settings: Settings, args: argparse.Namespace) -> int:
    async with _accounts(settings) as accounts:
        removed = await accounts.remove(args.name)
    if not removed:
        print(f"sms-assistant: no staff member called {args.name!r}", file=sys.stderr)
        return 1
    print(f"removed {args.name} (their open sessions end at their next request)")
    return 0


def register(commands: Any) -> None:
    staff = commands.add_parser("staff", help="staff accounts for the web console (/admin)")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    add = staff_commands.add_parser("add", help="add a staff member (asks for the password)")
    add.add_argument("name", help="the username to sign in with")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    add.set_defaults(handler=_staff_add)
    staff_commands.add_parser("list", help="every staff member and their last sign-in").set_defaults(
        handler=_staff_list
    )
    remove = staff_commands.add_parser("remove", help="remove a staff member; their sessions end")
    remove.add_argument("name", help="the username")
    remove.set_defaults(handler=_staff_remove)
