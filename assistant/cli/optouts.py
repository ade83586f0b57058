"""The opt-out (consent) ledger: export and verify."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from assistant.settings import Settings

if TYPE_CHECKING:
    from storage.consent import ConsentBook


async def _optouts_export(settings: Settings, args: argparse.Namespace) -> int:
    from storage.consent import to_csv

    async with _consent_book(settings) as book:
        rows = await book.export(history=args.history)
    if args.format == "csv":
        print(to_csv(rows, history=args.history), end="")
        return 0
    print(json.dumps(rows, indent=2, ensure_ascii=False))
    return 0


async def _optouts_verify(settings: Settings, args: argparse.Namespace) -> int:
    async with _consent_book(settings) as book:
        result = await book.verify()
    if result.ok:
        print(f"ledger intact: {result.rows} entries, every hash and link checks out")
        return 0
    print(f"ledger TAMPERED at entry {result.first_bad_id}: {result.reason}", file=sys.stderr)
    return 1


@contextlib.asynccontextmanager
async def _consent_book(settings: Settings) -> AsyncIterator[ConsentBook]:
    from assistant.database import open_database
    from storage.clock import system_clock
    from storage.consent import ConsentBook
    from storage.redis import connect_redis

    async with open_database(settings) as sessions:
        redis = connect_redis(settings.redis_url)
        try:
            yield ConsentBook(sessions, redis, scope=settings.consent_scope, clock=system_clock)
        finally:
            await redis.aclose()


def register(commands: Any) -> None:
    optouts = commands.add_parser("optouts", help="the opt-out (consent) ledger")
    optout_commands = optouts.add_subparsers(dest="optouts_command", required=True, metavar="ACTION")
    export = optout_commands.add_parser("export", help="every number's consent state (or its whole history)")
    export.add_argument("--format", choices=["csv", "json"], default="csv", help="the output format")
    export.add_argument("--history", action="store_true", help="every event, not just the latest state")
    export.set_defaults(handler=_optouts_export)
    verify = optout_commands.add_parser("verify", help="check the ledger's hash chain for tampering")
    verify.set_defaults(handler=_optouts_verify)
