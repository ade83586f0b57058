"""Turn an LLM answer into an SMS body: plain text, GSM-7 where possible, within a segment budget."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.segments import count_segments, smart_encode

_FENCE = re.compile(r"^\s*(```|~~~)")
_HRULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(\s+#+)?\s*$")
_QUOTE = re.compile(r"^\s{0,3}(>\s?)+")
_BULLET = re.compile(r"^\s*[-*+]\s+")
_NUMBERED = re.compile(r"^\s*(\d{1,3})[.)]\s+")

# Spans whose content must not be touched by the emphasis rules, swapped out for placeholders first.
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!~>|])")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^>\s]+)>")
_BOLD_STARS = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
# Underscores and single stars only count as emphasis at word edges, so snake_case and "$5 * 2" survive.
_BOLD_UNDERSCORES = re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_ITALIC_UNDERSCORE = re.compile(r"(?<!\w)_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")

_MANY_NEWLINES = re.compile(r"\n{3,}")
_SPACE_RUN = re.compile(r"[ \t]+")
# Sentence end: . ! or ? (closing quotes/brackets may follow) and then whitespace.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s)")
_LIST_NUMBER = re.compile(r"(?:^|\n)\s*\d{1,3}\.$")

ELLIPSIS = "..."
# C0 and C1 controls (but tab and newline), DEL, and the bidi overrides and isolates that make a text read
# differently from what it says. PostgreSQL can't store NUL at all.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """The text without control characters and bidi overrides (CR becomes a newline)."""
    return _UNPRINTABLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _link(match: re.Match[str]) -> str:
    """Render a link as its text then its URL, or just the URL when they are the same."""
    label, url = match.group(1), match.group(2)
    return url if label.strip() == url else f"{label} {url}"


def _inline(line: str) -> str:
    """Strip inline markdown from one line of prose."""
    kept: list[str] = []

    def keep(text: str) -> str:
        kept.append(text)
        return f"\x00{len(kept) - 1}\x00"

    line = _CODE_SPAN.sub(lambda m: keep(m.group(2).strip()), line)
    line = _ESCAPE.sub(lambda m: keep(m.group(1)), line)
    line = _IMAGE.sub(lambda m: m.group(1), line)
    line = _LINK.sub(lambda m: keep(_link(m)), line)  # URLs often hold underscores: shield them
    line = _AUTOLINK.sub(lambda m: keep(m.group(1)), line)
    for pattern in (_BOLD_STARS, _BOLD_UNDERSCORES, _ITALIC_STAR, _ITALIC_UNDERSCORE, _STRIKE):
        line = pattern.sub(r"\1", line)
    # Placeholders can nest (a code span inside a link label), so restore until none is left.
    while _PLACEHOLDER.search(line):
        line = _PLACEHOLDER.sub(lambda m: kept[int(m.group(1))], line)
    return line


def strip_markdown(text: str) -> str:
    """Remove markdown syntax, keeping the words, code content, link URLs and list items as lines."""
    out: list[str] = []
    in_fence = False
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            out.append(line)
            continue
        if _HRULE.match(line):
            out.append("")
            continue
        line = _QUOTE.sub("", line)
        heading = _HEADING.match(line)
        if heading:
            line = heading.group(1)
        elif _BULLET.match(line):
            line = "- " + _BULLET.sub("", line)
        elif numbered := _NUMBERED.match(line):
            line = f"{numbered.group(1)}. " + line[numbered.end() :]
        out.append(_inline(line))
    return _MANY_NEWLINES.sub("\n\n", "\n".join(out)).strip()


def _fits(max_segments: int, suffix: str = "") -> Callable[[str], bool]:
    return lambda candidate: count_segments(candidate + suffix).segments <= max_segments


def _longest_fitting(text: str, fits: Callable[[str], bool], suffix: str = "") -> int:
    """Longest prefix length n with fits(text[:n] + suffix); segments only grow with length, so bisect."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if fits(text[:mid] + suffix):
            low = mid
        else:
            high = mid - 1
    return low


def _sentence_cut(text: str, limit: int) -> str:
    """The longest prefix, at most limit characters, that ends a sentence or a line; "" if none."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit + 1) if m.end() <= limit]
    ends += [i for i, ch in enumerate(text[: limit + 1]) if ch == "\n"]
    for end in sorted(ends, reverse=True):
        candidate = text[:end].rstrip()
        # "2." at the start of a numbered list item is not the end of a sentence.
        if candidate and not _LIST_NUMBER.search(candidate):
            return candidate
    return ""


def fit_to_budget(text: str, max_segments: int, suffix: str = "") -> str:
    """Shorten text so text + suffix fits max_segments: cut at a sentence end, else at a word with "..."."""
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    fits = _fits(max_segments, suffix)
    if fits(text):
        return text
    sentence = _sentence_cut(text, _longest_fitting(text, fits))
    limit = _longest_fitting(text, fits, ELLIPSIS)
    # A sentence cut that throws away more than half of what a word cut keeps reads worse than "...".
    if sentence and len(sentence) * 2 >= limit:
        return sentence
    if limit < len(text) and text[limit].isspace():
        cut = limit
    else:
        cut = max((i for i in range(limit) if text[i].isspace()), default=0)
    head = text[:cut].rstrip(" \t\n,;:-")
    if not head:
        # One word longer than the budget: a hard cut is the only way to send anything at all.
        head = text[:limit].rstrip()
    return head + ELLIPSIS


@dataclass(frozen=True)
class ShapedReply:
    """An SMS body ready to send, with how it will be encoded and billed."""

    body: str
    encoding: str
    segments: int


def _normalise_whitespace(text: str) -> str:
    """Collapse runs of spaces, strip each line, and keep at most one blank line in a row."""
    lines = (_SPACE_RUN.sub(" ", line).strip() for line in text.split("\n"))
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def shape_reply(text: str, max_segments: int = 2, suffix: str = "") -> ShapedReply:
    """Shape an LLM answer into an SMS body within max_segments; `suffix` (a disclosure) is never cut."""
    tail = " " + smart_encode(suffix).strip() if suffix.strip() else ""
    main = fit_to_budget(
        _normalise_whitespace(smart_encode(strip_markdown(printable(text)))), max_segments, tail
    )
    body = (main + tail).strip()
    info = count_segments(body)
    return ShapedReply(body=body, encoding=info.encoding, segments=info.segments)
