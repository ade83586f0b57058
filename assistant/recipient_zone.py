"""Whose clock quiet hours follow: the recipient's own zone, else their number's, else the business's."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones


def recipient_zone(phone: str | None, known: str | None, business: ZoneInfo, at: datetime) -> ZoneInfo:
    """The zone quiet hours are kept in for a text to `phone` at `at`; `known` is the recipient's own zone."""
    if known:
        try:
            return ZoneInfo(known)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # validated where it is set; a stale or hand-edited name falls back to the number
    candidates = _number_zones(phone) if phone else ()
    if not candidates:
        return business
    if len(candidates) == 1:
        return candidates[0]
    # One number, several zones (a mobile in Australia, a non-geographic +1 number): no single zone keeps
    # quiet hours for all of them, so choose deterministically. The business's own zone when it is among
    # them: its customers most likely live near it. Otherwise the zone where it is earliest (ties by name):
    # its quiet hours end last, so nobody it could be is texted before their morning.
    if business in candidates:
        return business
    return min(candidates, key=lambda zone: (_offset_seconds(zone, at), zone.key))


@lru_cache(maxsize=4096)
def _number_zones(phone: str) -> tuple[ZoneInfo, ...]:
    """The zones phonenumbers places `phone` in (none for an unknown or unparsable number)."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = []
    for name in number_zones.time_zones_for_number(number):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue  # "Etc/Unknown", or a name this system's tz database lacks
    return tuple(zones)


def _offset_seconds(zone: ZoneInfo, at: datetime) -> float:
    offset = at.astimezone(zone).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0
