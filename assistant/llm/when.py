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
_NOON = re.compile(r"\b(?:at\s+)?(?:noon|midday)\b", re.IGNORECASE)
_EVENING = re.compile(r"\b(?:tonight|evening|afternoon|after work)\b", re.IGNORECASE)
_MORNING = re.compile(r"\bmorning\b", re.IGNORECASE)

# search_dates also finds "may" in "may I" and "now"; a real day phrase has a digit or a day word.
_DAYLIKE = re.compile(r"\d|\b(?:today|tonight|tomorrow|next|week|mon|tue|wed|thu|fri|sat|sun)", re.IGNORECASE)


@dataclass(frozen=True)
class When:
    """The day and clock time found in a message; either may be missing."""

    day: date | None = None
    clock: time | None = None

    @property
    def start(self) -> datetime | None:
        """The naive local start time, or None when the day or the time is missing."""
        if self.day is None or self.clock is None:
            return None
        return datetime.combine(self.day, self.clock)

    @property
    def empty(self) -> bool:
        return self.day is None and self.clock is None


def find_when(text: str, now: datetime, business: Business) -> When:
    """Read a day and a clock time out of `text`, relative to the aware `now`, in the business's zone."""
    local_now = now.astimezone(business.zone).replace(tzinfo=None, second=0, microsecond=0)
    text = _SHORTHAND.sub("tomorrow", text)
    hour_minute, meridiem, rest = _cut_clock(text)
    named_day = _find_day(rest, local_now, business)
    if hour_minute is None:
        return When(day=named_day)
    day = named_day or local_now.date()
    clock = _resolve_clock(hour_minute, meridiem, day, local_now, business)
    if clock is None:
        return When(day=named_day)
    if named_day is None and datetime.combine(day, clock) <= local_now:
        # A time with no day means the next time that clock comes round.
        day += timedelta(days=1)
    return When(day=day, clock=clock)


def _cut_clock(text: str) -> tuple[tuple[int, int] | None, str | None, str]:
    """Find a clock time; return (hour, minute), its meridiem ('a', 'p', '24h' or None), and the rest."""
    if match := _NOON.search(text):
        return (12, 0), "p", _remove(text, match)
    for pattern in _CLOCK_PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        hour = int(match["hour"])
        minute = int(match.groupdict().get("minute") or 0)
        if hour > 23:
            continue
        ampm = (match.groupdict().get("ampm") or "").lower() or None
        if ampm is None and not (1 <= hour <= 12):
            ampm = "24h"  # "18:00" or "0:30" say exactly what they mean
        elif ampm is None and _EVENING.search(text):
            ampm = "p"
        elif ampm is None and _MORNING.search(text):
            ampm = "a"
        return (hour, minute), ampm, _remove(text, match)
    return None, None, text


def _resolve_clock(
    hour_minute: tuple[int, int], ampm: str | None, day: date, now: datetime, business: Business
) -> time | None:
    """Turn an hour into a time of day; a bare "at 6" becomes whichever reading the business is open at."""
    hour, minute = hour_minute
    if ampm == "24h":
        return time(hour, minute)
    if hour > 12 or hour == 0:
        return None  # "13pm" or "0am" is not a time
    if ampm == "a":
        return time(hour % 12, minute)
    if ampm == "p":
        return time(hour % 12 + 12, minute)
    readings = [time(hour % 12, minute), time(hour % 12 + 12, minute)]

    def open_at(reading: time) -> bool:
        return business.is_open_at(datetime.combine(day, reading, tzinfo=business.zone))

    # Prefer a reading that is open and still ahead, then one that is open, then the literal hour.
    for candidate in readings:
        if open_at(candidate) and datetime.combine(day, candidate) > now:
            return candidate
    return next((candidate for candidate in readings if open_at(candidate)), readings[0])


def _find_day(text: str, now: datetime, business: Business) -> date | None:
    """The first day phrase dateparser finds in `text`, ignoring words that merely look like dates."""
    settings = {
        "RELATIVE_BASE": now,
        "PREFER_DATES_FROM": "future",
        "TIMEZONE": business.timezone,
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    found = search_dates(text, languages=["en"], settings=settings) or []
    for phrase, moment in found:
        if _DAYLIKE.search(phrase):
            return moment.date()
    return None


def _remove(text: str, match: re.Match[str]) -> str:
    return f"{text[: match.start()]} {text[match.end() :]}"
