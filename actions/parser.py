"""Find, strip and neutralise `[ACTION:NAME key="value" ...]` tags."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TAG = re.compile(
    r"\[ACTION:(?P<name>[A-Za-z_]+)(?P<args>(?:\s+[A-Za-z_]+=\"[^\"\]]*\")*)\s*\]", re.IGNORECASE
)
ARG = re.compile(r"(?P<key>[A-Za-z_]+)=\"(?P<value>[^\"\]]*)\"")
# Anything that opens like a tag, even malformed, must never reach a customer.
LOOSE_TAG = re.compile(r"\[\s*ACTION\b[^\]]*\]?", re.IGNORECASE)
MARKER = re.compile(r"\[(\s*)(ACTION)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ActionCall:
    """One requested action with its raw string arguments."""

    name: str
    args: dict[str, str] = field(default_factory=dict)


NAME = re.compile(r"\[\s*ACTION\s*:?\s*(?P<name>[A-Za-z_]*)", re.IGNORECASE)


def parse_actions(text: str) -> list[ActionCall]:
    """Every tag in the text, in order; a malformed one comes without its arguments, so it fails validation.

    Nothing that looks like a tag is skipped: its words may say it happened, so it must be answered for.
    """
    calls = []
    for loose in LOOSE_TAG.finditer(text):
        if match := TAG.fullmatch(loose[0]):
            args = {arg["key"].lower(): arg["value"].strip() for arg in ARG.finditer(match["args"])}
            calls.append(ActionCall(name=match["name"].upper(), args=args))
        else:
            name = NAME.match(loose[0])
            calls.append(ActionCall(name=(name["name"] if name else "").upper() or "MALFORMED"))
    return calls


def strip_actions(text: str) -> str:
    """The text with every tag (well-formed or not) removed and the gaps tidied."""
    cleaned = LOOSE_TAG.sub("", TAG.sub("", text))
    cleaned = re.sub(r"[ \t]+\n", "\n", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    return cleaned.strip()


def neutralise(text: str) -> str:
    """Inbound text is data: break any `[ACTION` marker so it can never be read as a tag."""
    return MARKER.sub(r"(\1\2", text)
