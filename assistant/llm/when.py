"""Finding the day and time a customer means in a free-text message, for the offline engine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateparser.search import search_dates

from assistant.business import Business

# Texting shorthand dateparser does not know.
_SHORTHAND = re.compile(r"\b(?:tmrw|tmr|tmw|tomorow|tommorow|tommorrow|2morrow)\b", re.IGNORECASE)

# Clock times are cut out with our own patterns: dateparser's search drops a bare "at 9" after a day
# ("next monday at 9") and reads "tonight at 7" as the current time.
_MERIDIEM = r"(?P<ampm>[ap])\.?\s?m\b\.?"
_CLOCK_PATTERNS = (
    re.compile(rf"\b(?:at\s+)?(?P<hour>\d{{1,2}}):(?P<minute>[0-5]\d)\s*(?:{_MERIDIEM})?", re.IGNORECASE),
    re.compile(rf"\b(?:at\s+)?(?P<hour>\d{{1,2}})\s*{_MERIDIEM}", re.IGNORECASE),
    re.compile(r"\bat\s+(?P<hour>\d{1,2})\b(?![/.\-]\d)", re.IGNORECASE),
)
# Answering or correcting a time ("make it 7", "8 instead"), a bare number is an hour.
_BARE_HOUR = re.compile(r"\b(?P<hour>\d{1,2})\b(?![/.\-:]\d|\s*(?:st|nd|rd|th)\b)", re.IGNORECASE)
# "a las 10", "a la 1" (Spanish); read after the accents are taken off.
_SPANISH_CLOCK = re.compile(
    r"\ba\s+las?\s+(?P<hour>\d{1,2})(?::(?P<minute>[0-5]\d))?(?:\s*(?P<ampm>[ap])\.?\s?m\b\.?)?",
    re.IGNORECASE,
)
# "à 10h", "10h30" (French); "um 10 Uhr", "um 18:30" (German).
_FRENCH_CLOCK = re.compile(r"\b(?:a\s+)?(?P<hour>\d{1,2})\s?h(?:\s?(?P<minute>[0-5]\d))?\b", re.IGNORECASE)
_GERMAN_CLOCK = re.compile(
    r"\b(?:um\s+)(?P<hour>\d{1,2})(?::(?P<minute>[0-5]\d))?(?:\s*uhr)?\b|\b(?P<hour2>\d{1,2})\s*uhr\b",
    re.IGNORECASE,
)
TWENTY_FOUR_HOUR = frozenset({"fr", "de"})  # a bare hour is the hour itself
_LANGUAGE_CLOCKS = {"es": (_SPANISH_CLOCK,), "fr": (_FRENCH_CLOCK,), "de": (_GERMAN_CLOCK,)}
_NOON = re.compile(r"\b(?:at\s+)?(?:noon|midday)\b", re.IGNORECASE)
_EVENING = re.compile(
    r"\b(?:tonight|evening|afternoon|after work|de la (?:tarde|noche)|por la (?:tarde|noche)|du soir|ce soir"
    r"|de l'apres-midi|abends|nachmittags|heute abend)\b",
    re.IGNORECASE,
)
_MORNING = re.compile(
    r"\b(?:morning|de la manana|por la manana|du matin|ce matin|morgens|vormittags|fruh|frueh)\b",
    re.IGNORECASE,
)

# search_dates also finds "may" in "may I" and "now"; a real day phrase has a digit or a day word.
_DAYLIKE = re.compile(
    r"\d|\b(?:today|tonight|tomorrow|next|week|mon|tue|wed|thu|fri|sat|sun"
    r"|hoy|manana|lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo"
    r"|aujourd|demain|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
    r"|heute|morgen|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class When:
    """The day and clock time found in a message; either may be missing."""

    day: date | None = None
    clock: time | None = None
    # What was assumed rather than said: "the day" for a time alone, "a.m. or p.m." for a bare "at 6".
    assumed: tuple[str, ...] = ()

    @property
    def start(self) -> datetime | None:
        """The naive local start time, or None when the day or the time is missing."""
        if self.day is None or self.clock is None:
            return None
        return datetime.combine(self.day, self.clock)

    @property
    def empty(self) -> bool:
        return self.day is None and self.clock is None


def find_when(
    text: str,
    now: datetime,
    business: Business,
    *,
    day: date | None = None,
    near: time | None = None,
    loose: bool = False,
    language: str = "en",
) -> When:
    """Read a day and a clock time out of `text`, relative to the aware `now`, in the business's zone.

    `day` and `near` are what is being discussed already: a time alone is on that day, and a bare
    "make it 7" is the 7 closest to that time. `loose`: the text answers or corrects a time, so a bare
    number is an hour.
    """
    local_now = now.astimezone(business.zone).replace(tzinfo=None, second=0, microsecond=0)
    text = _SHORTHAND.sub("tomorrow", text)
    hour_minute, meridiem, rest = _cut_clock(text, loose=loose, language=language)
    named_day = _find_day(rest, local_now, business, language=language)
    if hour_minute is None:
        return When(day=named_day)
    on = named_day or day or local_now.date()
    resolved = _resolve_clock(hour_minute, meridiem, on, local_now, business, near=near)
    if resolved is None:
        return When(day=named_day)
    clock, unsure = resolved
    assumed = ("a.m. or p.m.",) if unsure else ()
    if named_day is None and day is None:
        assumed = ("the day", *assumed)
        if datetime.combine(on, clock) <= local_now:
            # A time with no day means the next time that clock comes round.
            on += timedelta(days=1)
    return When(day=on, clock=clock, assumed=assumed)


def _cut_clock(
    text: str, *, loose: bool = False, language: str = "en"
) -> tuple[tuple[int, int] | None, str | None, str]:
    """Find a clock time; return (hour, minute), its meridiem ('a', 'p', '24h' or None), and the rest."""
    if match := _NOON.search(text):
        return (12, 0), "p", _remove(text, match)
    patterns = (*_LANGUAGE_CLOCKS.get(language, ()), *_CLOCK_PATTERNS)
    for pattern in (*patterns, _BARE_HOUR) if loose else patterns:
        match = pattern.search(text)
        if not match:
            continue
        hour = int(match.groupdict().get("hour") or match.groupdict().get("hour2"))
        minute = int(match.groupdict().get("minute") or 0)
        if hour > 23:
            continue
        ampm = (match.groupdict().get("ampm") or "").lower() or None
        if ampm is None and language in TWENTY_FOUR_HOUR and not _EVENING.search(text):
            ampm = "24h"  # "à 6h", "um 6 Uhr": six in the morning, as the 24-hour clock says
        if ampm is None and not (1 <= hour <= 12):
            ampm = "24h"  # "18:00" or "0:30" say exactly what they mean
        elif ampm is None and _EVENING.search(text):
            ampm = "p"
        elif ampm is None and _MORNING.search(text):
            ampm = "a"
        # "de la mañana" and "morgens" say when in the day, not which day: never "tomorrow".
        rest = _MORNING.sub(" ", _remove(text, match)) if language != "en" else _remove(text, match)
        return (hour, minute), ampm, rest
    return None, None, text


def _resolve_clock(
    hour_minute: tuple[int, int],
    ampm: str | None,
    day: date,
    now: datetime,
    business: Business,
    *,
    near: time | None,
) -> tuple[time, bool] | None:
    """Turn an hour into a time of day, and whether that was a guess between a.m. and p.m.

    A bare "at 6" is whichever reading the business is open at; when both are, the one closest to the
    time being discussed, else the usual one (1-7 in the evening, 8-11 in the morning), as a guess.
    """
    hour, minute = hour_minute
    if ampm == "24h":
        return time(hour, minute), False
    if hour > 12 or hour == 0:
        return None  # "13pm" or "0am" is not a time
    if ampm == "a":
        return time(hour % 12, minute), False
    if ampm == "p":
        return time(hour % 12 + 12, minute), False
    morning, evening = time(hour % 12, minute), time(hour % 12 + 12, minute)
    readings = [evening, morning] if hour <= 7 or hour == 12 else [morning, evening]
    if near is not None:
        readings.sort(key=lambda reading: abs(_minutes(reading) - _minutes(near)))

    def open_at(reading: time) -> bool:
        return business.is_open_at(datetime.combine(day, reading, tzinfo=business.zone))

    ahead = [reading for reading in readings if open_at(reading) and datetime.combine(day, reading) > now]
    if ahead:
        return ahead[0], len(ahead) > 1 and near is None
    opened = [reading for reading in readings if open_at(reading)]
    return (opened or readings)[0], len(opened) != 1 and near is None


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _find_day(text: str, now: datetime, business: Business, *, language: str = "en") -> date | None:
    """The first day phrase dateparser finds in `text`, ignoring words that merely look like dates."""
    settings = {
        "RELATIVE_BASE": now,
        "PREFER_DATES_FROM": "future",
        "TIMEZONE": business.timezone,
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    found = search_dates(text, languages=[language] if language != "en" else ["en"], settings=settings) or []
    for phrase, moment in found:
        if _DAYLIKE.search(phrase):
            return moment.date()
    return None


def _remove(text: str, match: re.Match[str]) -> str:
    return f"{text[: match.start()]} {text[match.end() :]}"
