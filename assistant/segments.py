"""SMS encoding (GSM-7 or UCS-2), exact segment counting, and GSM-7 smart encoding."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# GSM 03.38 default alphabet, in code order 0x00-0x7F (0x1B, the escape to the extension table, is left out
# because it is not a character a user can type). 0x09 is Ç, as in the ETSI standard.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# The extension table: each of these is sent as ESC + code, so it costs 2 septets.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# Single-part capacity, and capacity per part once a user data header (6 bytes) is needed for concatenation.
_GSM7_SINGLE, _GSM7_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


@dataclass(frozen=True)
class SegmentInfo:
    """How a text goes over the air: its encoding, how many parts, and the units it takes."""

    encoding: str
    segments: int
    units: int
    per_segment: int


def is_gsm7(text: str) -> bool:
    """True when every character of the text has a GSM-7 code (basic or extension table)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _pack(weights: Iterable[int], capacity: int) -> int:
    """Count parts when characters are packed greedily and none may straddle two parts."""
    parts, used = 1, 0
    for weight in weights:
        if used + weight > capacity:
            parts, used = parts + 1, 0
        used += weight
    return parts


def count_segments(text: str) -> SegmentInfo:
    """Count the segments a text is billed as, splitting the way carriers and Twilio do.

    An empty text counts as 1 segment: a sent SMS always costs at least one.
    """
    if is_gsm7(text):
        weights = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, part, encoding = _GSM7_SINGLE, _GSM7_PART, GSM7
    else:
        # Characters outside the BMP are a surrogate pair in UTF-16: two code units that stay together.
        weights = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, part, encoding = _UCS2_SINGLE, _UCS2_PART, UCS2
    units = sum(weights)
    if units <= single:
        return SegmentInfo(encoding=encoding, segments=1, units=units, per_segment=single)
    return SegmentInfo(encoding=encoding, segments=_pack(weights, part), units=units, per_segment=part)


# Look-alikes for characters that would otherwise force the whole message into UCS-2 (like Twilio's
# Smart Encoding). An empty string means the character is dropped.
_REPLACEMENTS: dict[str, str] = {
    # quotes and primes
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u2035": "'",
    "\u02bc": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u2036": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2039": "<",
    "\u203a": ">",
    # hyphens, dashes, minus, horizontal bar
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2043": "-",
    # ellipsis, bullets, arithmetic
    "\u2026": "...",
    "\u2022": "-",
    "\u2023": "-",
    "\u25e6": "-",
    "\u00d7": "x",
    "\u00f7": "/",
    # spaces: tab, no-break, en/em/thin/hair/figure/punctuation, narrow no-break, medium math, ideographic
    "\t": " ",
    "\u00a0": " ",
    "\u2000": " ",
    "\u2001": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    # invisible: zero-width space/non-joiner, word joiner, BOM, soft hyphen
    "\u200b": "",
    "\u200c": "",
    "\u2060": "",
    "\ufeff": "",
    "\u00ad": "",
    # letters with no canonical decomposition to a GSM-7 base
    "\u0142": "l",
    "\u0141": "L",
    "\u0111": "d",
    "\u0110": "D",
    "\u0153": "oe",
    "\u0152": "OE",
    "\u0131": "i",
}

_ZWJ = "\u200d"
_FULLWIDTH = re.compile("[\uff01-\uff5e]")


def _to_base_letter(ch: str) -> str:
    """Drop the accents of a letter whose base letter is in GSM-7 (ã -> a); else keep it as is."""
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if marks and base in GSM7_BASIC and all(unicodedata.combining(m) for m in marks):
        return base
    return ch


def smart_encode(text: str) -> str:
    """Replace characters that would force UCS-2 with GSM-7 look-alikes; leave the rest (emoji, CJK) alone.

    The replacements apply even when something else keeps the text in UCS-2, so output is predictable.
    """
    # NFC first: an "e" + combining acute becomes "é", which GSM-7 has.
    text = unicodedata.normalize("NFC", text)
    # Fullwidth ASCII forms are compatibility characters; NFKC maps exactly those to ASCII.
    text = _FULLWIDTH.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    out: list[str] = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(ch)
        elif ch == _ZWJ:
            # After a non-GSM character a joiner glues an emoji sequence (👩‍💻); elsewhere it is noise.
            if out and not is_gsm7(out[-1][-1:]):
                out.append(ch)
        elif ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
        else:
            out.append(_to_base_letter(ch))
    return "".join(out)
