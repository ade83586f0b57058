"""The `sms-assistant` command line; each noun's commands live in a module beside this one."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from assistant.cli import conversations, operate, optouts, records, staff
from assistant.cli.options import BadOption, Parser
from assistant.logs import configure_logging
from assistant.settings import ConfigError, environment_near_misses, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="sms-assistant", description="A two-way AI assistant over SMS.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (operate, conversations, optouts, records, staff):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for warning in environment_near_misses(os.environ):
        print(f"sms-assistant: warning: {warning}", file=sys.stderr)
    try:
        settings = load_settings()
        # The simulator's conversation is the output; keep routine logs out of it.
        configure_logging(
            "WARNING" if args.command == "simulate" else settings.log_level, settings.log_format
        )
        if hasattr(args, "sync_handler"):
            return args.sync_handler(settings, args)
        return asyncio.run(args.handler(settings, args))
    except (ConfigError, BadOption) as exc:
        print(f"sms-assistant: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
