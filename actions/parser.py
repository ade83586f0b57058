"""Find, strip and neutralise `[ACTION:NAME key="value" ...]` tags."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

TAG = re.compile(
    r"\[ACTION:(?P<name>[A-Za-z_]+)(?P<args>(?:\s+[A-Za-z_]+=\"[^\"\]]*\")*)\s*\]", re.IGNORECASE
)
ARG = re.compile(r"(?P<key>[A-Za-z_]+)=\"(?P<value>[^\"\]]*)\"")
# Anything that opens like a tag, even malformed, must never reach a customer.
LOOSE_TAG = re.compile(r"\[\s*ACTION\b[^\]]*\]?", re.IGNORECASE)
NAME = re.compile(r"\[\s*ACTION\s*:?\s*(?P<name>[A-Za-z_]*)", re.IGNORECASE)

# Characters that render as nothing: a tag spelled with them inside still reads as a tag to a person.
_INVISIBLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff")
# Brackets NFKC leaves alone that a reader still takes for square ones.
_BRACKETS = {"【": "[", "〔": "[", "〖": "[", "⟦": "[", "】": "]", "〕": "]", "〗": "]", "⟧": "]"}


@dataclass(frozen=True, slots=True)
class ActionCall:
    """One requested action with its raw string arguments."""

    name: str
    args: dict[str, str] = field(default_factory=dict)

    def tag(self) -> str:
        """The call written as a text tag, as logs and the console show every action."""
        args = "".join(
            f' {key}="{value.replace(chr(34), chr(39)).replace("]", ")")}"'
            for key, value in self.args.items()
        )
        return f"[ACTION:{self.name}{args}]"


@dataclass(frozen=True, slots=True)
class _Folded:
    """The text as a reader sees it (compatibility forms folded, invisible characters gone), mapped back."""

    text: str
    origin: list[int]  # origin[i] is where folded character i came from in the original text

    @classmethod
    def of(cls, text: str) -> _Folded:
        if text.isascii():
            return cls(text, list(range(len(text))))
        chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(text):
            if char in _INVISIBLE:
                continue
            for folded in _BRACKETS.get(char) or unicodedata.normalize("NFKC", char):
                chars.append(folded)
                origin.append(index)
        return cls("".join(chars), origin)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original text's span behind folded[start:end]."""
        return self.origin[start], self.origin[end - 1] + 1


def _tags(text: str) -> Iterator[tuple[re.Match[str], tuple[int, int]]]:
    """Every tag-like stretch as read, with the span of the original text it came from."""
    folded = _Folded.of(text)
    for loose in LOOSE_TAG.finditer(folded.text):
        yield loose, folded.span(*loose.span())


def parse_actions(text: str) -> list[ActionCall]:
    """Every tag in the text, in order; a malformed one comes without its arguments, so it fails validation.

    Nothing that looks like a tag is skipped: its words may say it happened, so it must be answered for.
    """
    calls = []
    for loose, _ in _tags(text):
        if match := TAG.fullmatch(loose[0]):
            args = {arg["key"].lower(): arg["value"].strip() for arg in ARG.finditer(match["args"])}
            calls.append(ActionCall(name=match["name"].upper(), args=args))
        else:
            name = NAME.match(loose[0])
            calls.append(ActionCall(name=(name["name"] if name else "").upper() or "MALFORMED"))
    return calls


def strip_actions(text: str) -> str:
    """The text with every tag (well-formed or not, however it is spelled) removed and the gaps tidied."""
    cleaned = text
    for _, (start, end) in reversed(list(_tags(text))):
        cleaned = cleaned[:start] + cleaned[end:]
    cleaned = re.sub(r"[ \t]+\n", "\n", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    return cleaned.strip()


def neutralise(text: str) -> str:
    """Inbound text is data: break every `[ACTION` marker, however spelled, so it is never read as a tag."""
    opening = [start for _, (start, _end) in _tags(text)]
    chars = list(text)
    for start in opening:
        chars[start] = "("
    return "".join(chars)
