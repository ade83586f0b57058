"""How commands read and document options: help that shows defaults, numbers as people type them."""

from __future__ import annotations

import argparse
from typing import Any

from assistant.phones import to_e164
from assistant.settings import Settings


class BadOption(Exception):
    """An option value that can't be used; the message names the option and what is wrong."""


class DefaultsShown(argparse.HelpFormatter):
    """Help that ends each option with its default, where it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help = action.help or ""
        default = action.default
        if "%(default)" in help or default in (None, False, [], argparse.SUPPRESS):
            return help
        return f"{help} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """The parser for every command and subcommand, so all of them format help the same way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsShown)
        super().__init__(*args, **kwargs)


def phone(raw: str, settings: Settings, *, option: str) -> str:
    """A phone option as E.164, however it was typed (PHONE_REGION for numbers without a country code)."""
    try:
        return to_e164(raw, settings.phone_region)
    except ValueError as exc:
        raise BadOption(f"{option}: {exc}") from None
