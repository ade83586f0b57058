"""Talking to the assistant from the terminal, and reading the message log."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

from assistant.settings import Settings

SIMULATOR_NUMBER = "+15005550006"


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


def register(commands: Any) -> None:
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
