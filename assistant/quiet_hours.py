"""Quiet hours: when a proactive text may not reach someone, and when it may go instead."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

Window = tuple[time, time]  # local (start, end); the end may be on the next day (21:00-09:00)

# A text moved before quiet hours is due this long before they begin: the worker sweeps every 15 s, and a
# slow sweep must still find it outside them rather than inside (where it would wait for the morning).
BEFORE_QUIET = timedelta(minutes=10)
# The furthest a text can be moved earlier: back across one whole night (a window is under a day long).
LONGEST_MOVE_EARLIER = timedelta(days=1) + BEFORE_QUIET


def _inside(clock: time, window: Window) -> bool:
    start, end = window
    return start <= clock < end if start < end else (clock >= start or clock < end)


def quiet_until(now: datetime, zone: ZoneInfo, window: Window | None) -> datetime | None:
    """The local end of the quiet hours `now` falls in (e.g. 09:00 next morning), or None outside them."""
    if window is None:
        return None
    end = window[1]
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if not _inside(clock, window):
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)


def quiet_since(now: datetime, zone: ZoneInfo, window: Window | None) -> datetime | None:
    """The local start of the quiet hours `now` falls in (e.g. 21:00 last evening), or None outside them."""
    if window is None:
        return None
    start = window[0]
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if not _inside(clock, window):
        return None
    day = local.date() if clock >= start else local.date() - timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone)


def send_time(planned: datetime, deadline: datetime, zone: ZoneInfo, window: Window | None) -> datetime:
    """When a text planned for `planned` goes: then, else at the quiet end if before `deadline`, else earlier.

    Earlier is just before the quiet hours `planned` falls in began: a reminder a little early beats one
    that arrives after the appointment, or one that wakes the customer.
    """
    end = quiet_until(planned, zone, window)
    if end is None:
        return planned
    if end < deadline:
        return end
    began = quiet_since(planned, zone, window)
    assert began is not None  # inside quiet hours, so they began
    return began - BEFORE_QUIET
