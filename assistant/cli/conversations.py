"""Talking to the assistant from the terminal, and reading the message log."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

from assistant.cli import options
from assistant.settings import Settings

SIMULATOR_NUMBER = "+15005550006"
CUSTOMER_NUMBER = "+14155550123"


def _reply_lines(reply: Any) -> str:
    """One reply as the simulator prints it: the text, then what its actions did."""
    from actions.registry import outcome

    ran = ", ".join(f"{action['name']} {outcome(action)}" for action in reply.details.get("actions", []))
    suppressed = " [suppressed: opted out]" if reply.status == "suppressed" else ""
    return reply.body + suppressed + (f"\n  [actions: {ran}]" if ran else "")


async def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.runtime import open_runtime
    from storage.messages import InboundText

    phone = options.phone(args.from_number, settings, option="--from")
    async with open_runtime(settings, sandbox=True) as runtime:
        worker = runtime.worker()

        async def turn(text: str) -> str:
            inbound = InboundText(
                sid="SM" + uuid.uuid4().hex,
                from_number=phone,
                to_number=SIMULATOR_NUMBER,
                body=text,
                media=[],
            )
            recorded_id, _ = await runtime.inbound.accept(inbound)
            # The worker's own path, on this process's own queue: the phone's lock, the burst window, the
            # turn, and the job's acknowledgement.
            await worker.drain()
            replies = [
                row
                for row in reversed(await runtime.messages.listing(phone=phone, limit=10))
                if row.direction == "outbound" and row.id > recorded_id
            ]
            return "\n".join(_reply_lines(reply) for reply in replies) or "(no reply)"

        if args.message:
            print(await turn(" ".join(args.message)))
            return 0
        print(f"Texting {runtime.clients.business.name} as {phone}. Ctrl-D to stop.")
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                print()
                return 0
            if line.strip():
                print("assistant> " + await turn(line))


async def _messages_list(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.business import load_business
    from assistant.database import open_database
    from storage.clock import system_clock
    from storage.messages import MessageLog

    business = load_business(settings.business_config)
    phone = options.phone(args.phone, settings, option="--phone") if args.phone else None
    async with open_database(settings) as sessions:
        log = MessageLog(sessions, clock=system_clock, consent_scope=settings.consent_scope)
        rows = await log.listing(phone=phone, limit=args.limit)
    if args.json:
        records = [
            {
                "sid": row.sid,
                "direction": row.direction,
                "kind": row.kind,
                "from": row.from_number,
                "to": row.to_number,
                "body": row.body,
                "status": row.status,
                "error_code": row.error_code,
                "segments": row.segments,
                "price_usd": row.price,  # outbound: an estimate until Twilio reports its price
                "price_source": row.price_source,
                "created_at": row.created_at.isoformat(),
                # Handed to the gateway then (what was never handed over cost nothing).
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            }
            for row in rows
        ]
        print(json.dumps(records, indent=2, ensure_ascii=False))
        return 0
    for row in rows:
        arrow = "<-" if row.direction == "inbound" else "->"
        print(
            f"{business.timestamp(row.created_at, seconds=True)} {arrow} {row.from_number} > {row.to_number} "
            f"[{row.status}] {row.body!r}"
        )
    return 0


def register(commands: Any) -> None:
    simulate = commands.add_parser(
        "simulate",
        help="text the assistant from the terminal (never sends SMS)",
        description="Text the assistant as a customer. One-shot calls from the same number continue one "
        "conversation: `simulate 'cancel my appointment'`, then `simulate yes`.",
    )
    simulate.add_argument(
        "--from",
        dest="from_number",
        metavar="NUMBER",
        default=CUSTOMER_NUMBER,
        help="the customer's number, written any way",
    )
    simulate.add_argument("message", nargs="*", help="one message; without it, an interactive session")
    simulate.set_defaults(handler=_simulate)

    messages = commands.add_parser("messages", help="the message log")
    message_commands = messages.add_subparsers(dest="messages_command", required=True, metavar="ACTION")
    listing = message_commands.add_parser("list", help="recent messages, newest first")
    listing.add_argument("--phone", help="only texts with this number, written any way")
    listing.add_argument("--limit", type=int, default=50, help="at most this many messages")
    listing.add_argument("--json", action="store_true", help="print JSON (times in UTC, ISO 8601)")
    listing.set_defaults(handler=_messages_list)
