"""The `sms-assistant` command line: serve, worker, db, simulate, messages, optouts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from assistant.logs import configure_logging
from assistant.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from storage.consent import ConsentBook

SIMULATOR_NUMBER = "+15005550006"


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from assistant.app import create_app

    if args.no_worker:
        settings = settings.model_copy(update={"embedded_worker": False})
    # The signature check reads X-Forwarded-* itself, from trusted proxies only; uvicorn must not rewrite.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, proxy_headers=False, log_config=None)
    return 0


async def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.runtime import open_runtime

    if settings.redis_in_process:
        raise ConfigError(
            "the worker needs a shared REDIS_URL (redis://...); with memory:// it runs inside serve"
        )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    async with open_runtime(settings) as runtime:
        await runtime.worker().run(stopping)
    return 0


async def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from storage.database import create_engine
    from storage.migrate import current_revision, upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        print(f"database at revision {await current_revision(engine)}")
    finally:
        await engine.dispose()
    return 0


async def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.runtime import open_runtime
    from storage.messages import InboundText

    async with open_runtime(
        settings, migrate=settings.database_url.startswith("sqlite"), sandbox=True
    ) as runtime:

        async def turn(text: str) -> str:
            inbound = InboundText(
                sid="SM" + uuid.uuid4().hex,
                from_number=args.from_number,
                to_number=SIMULATOR_NUMBER,
                body=text,
                media=[],
            )
            recorded, _ = await runtime.messages.record_inbound(inbound)
            pending = await runtime.messages.pending_for(args.from_number)
            await runtime.conversation.answer(args.from_number, pending)
            replies = [
                row
                for row in reversed(await runtime.messages.listing(phone=args.from_number, limit=10))
                if row.direction == "outbound" and row.id > recorded.id
            ]
            if not replies:
                return "(no reply)"
            lines = []
            for reply in replies:
                ran = ", ".join(
                    f"{action['name']} {'ok' if action['ok'] else 'failed'}"
                    for action in reply.details.get("actions", [])
                )
                suppressed = " [suppressed: opted out]" if reply.status == "suppressed" else ""
                lines.append(reply.body + suppressed + (f"\n  [actions: {ran}]" if ran else ""))
            return "\n".join(lines)

        if args.message:
            print(await turn(" ".join(args.message)))
            return 0
        print(f"Texting {runtime.business.name} as {args.from_number}. Ctrl-D to stop.")
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                print()
                return 0
            if line.strip():
                print("assistant> " + await turn(line))


async def _messages_list(settings: Settings, args: argparse.Namespace) -> int:
    from storage.database import create_engine, session_factory
    from storage.messages import MessageLog

    engine = create_engine(settings.database_url)
    try:
        rows = await MessageLog(session_factory(engine)).listing(phone=args.phone, limit=args.limit)
    finally:
        await engine.dispose()
    records = [
        {
            "sid": row.sid,
            "direction": row.direction,
            "from": row.from_number,
            "to": row.to_number,
            "body": row.body,
            "status": row.status,
            "segments": row.segments,
            "created_at": row.created_at.isoformat(),
        }
        for row in rows
    ]
    if args.json:
        print(json.dumps(records, indent=2, ensure_ascii=False))
    else:
        for record in records:
            arrow = "<-" if record["direction"] == "inbound" else "->"
            print(
                f"{record['created_at'][:19]} {arrow} {record['from']} > {record['to']} "
                f"[{record['status']}] {record['body']!r}"
            )
    return 0


async def _optouts_export(settings: Settings, args: argparse.Namespace) -> int:
    from storage.consent import to_csv

    async with _consent_book(settings) as book:
        rows = await book.export(history=args.history)
    print(json.dumps(rows, indent=2, ensure_ascii=False) if args.format == "json" else to_csv(rows), end="")
    if args.format == "json":
        print()
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
    from storage.consent import ConsentBook
    from storage.database import create_engine, session_factory
    from storage.redis import connect_redis

    engine = create_engine(settings.database_url)
    redis = connect_redis(settings.redis_url)
    try:
        yield ConsentBook(session_factory(engine), redis, scope=settings.consent_scope)
    finally:
        await redis.aclose()
        await engine.dispose()


Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sms-assistant", description="A two-way AI assistant over SMS.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the web app (and, in embedded mode, the worker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-worker", action="store_true", help="don't run the worker loop in this process")
    serve.set_defaults(sync_handler=_serve)

    worker = commands.add_parser("worker", help="answer queued texts (needs a shared REDIS_URL)")
    worker.set_defaults(handler=_worker)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations up to the latest").set_defaults(
        handler=_db_upgrade
    )

    simulate = commands.add_parser("simulate", help="text the assistant from the terminal (never sends SMS)")
    simulate.add_argument("--from", dest="from_number", default="+14155550123", help="the customer's number")
    simulate.add_argument("message", nargs="*", help="one message; without it, an interactive session")
    simulate.set_defaults(handler=_simulate)

    messages = commands.add_parser("messages", help="the message log")
    message_commands = messages.add_subparsers(dest="messages_command", required=True, metavar="ACTION")
    listing = message_commands.add_parser("list", help="recent messages, newest first")
    listing.add_argument("--phone", help="only this number (E.164)")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_messages_list)

    optouts = commands.add_parser("optouts", help="the opt-out (consent) ledger")
    optout_commands = optouts.add_subparsers(dest="optouts_command", required=True, metavar="ACTION")
    export = optout_commands.add_parser("export", help="every number's consent state (or its whole history)")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--history", action="store_true", help="every event, not just the latest state")
    export.set_defaults(handler=_optouts_export)
    verify = optout_commands.add_parser("verify", help="check the ledger's hash chain for tampering")
    verify.set_defaults(handler=_optouts_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        # The simulator's conversation is the output; keep routine logs out of it.
        configure_logging("WARNING" if args.command == "simulate" else settings.log_level)
        if hasattr(args, "sync_handler"):
            return args.sync_handler(settings, args)
        return asyncio.run(args.handler(settings, args))
    except ConfigError as exc:
        print(f"sms-assistant: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
