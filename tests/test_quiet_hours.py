"""Quiet hours: their arithmetic, whose zone they follow, and which texts they never delay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from assistant.quiet_hours import BEFORE_QUIET, quiet_since, quiet_until, send_time
from assistant.recipient_zone import recipient_zone
from tests.support.clock import ManualClock as Clock

NEW_YORK, LOS_ANGELES = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
LONDON, SYDNEY = ZoneInfo("Europe/London"), ZoneInfo("Australia/Sydney")
NIGHT = (time(21), time(9))
AT = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)


def test_quiet_hours_span_midnight_and_end_at_the_local_morning() -> None:
    window = NIGHT
    assert quiet_until(datetime(2026, 11, 24, 20, 59, tzinfo=NEW_YORK), NEW_YORK, window) is None
    assert quiet_until(datetime(2026, 11, 24, 21, 0, tzinfo=NEW_YORK), NEW_YORK, window) == datetime(
        2026, 11, 25, 9, 0, tzinfo=NEW_YORK
    )
    assert quiet_until(datetime(2026, 11, 25, 3, 0, tzinfo=NEW_YORK), NEW_YORK, window) == datetime(
        2026, 11, 25, 9, 0, tzinfo=NEW_YORK
    )
    assert quiet_until(datetime(2026, 11, 25, 9, 0, tzinfo=NEW_YORK), NEW_YORK, window) is None
    # The night the clocks go back: 09:00 is still 09:00 local, now at UTC-5.
    morning = quiet_until(datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK), NEW_YORK, window)
    assert morning is not None and morning.astimezone(UTC) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    assert quiet_until(
        datetime(2026, 11, 24, 13, 30, tzinfo=NEW_YORK), NEW_YORK, (time(13), time(14))
    ) == datetime(2026, 11, 24, 14, 0, tzinfo=NEW_YORK)


def test_quiet_hours_began_the_evening_before_or_the_same_day() -> None:
    assert quiet_since(datetime(2026, 11, 24, 20, 59, tzinfo=NEW_YORK), NEW_YORK, NIGHT) is None
    assert quiet_since(datetime(2026, 11, 24, 23, 0, tzinfo=NEW_YORK), NEW_YORK, NIGHT) == datetime(
        2026, 11, 24, 21, 0, tzinfo=NEW_YORK
    )
    assert quiet_since(datetime(2026, 11, 25, 8, 59, tzinfo=NEW_YORK), NEW_YORK, NIGHT) == datetime(
        2026, 11, 24, 21, 0, tzinfo=NEW_YORK
    )
    assert quiet_since(datetime(2026, 11, 24, 13, 30, tzinfo=NEW_YORK), NEW_YORK, (time(13), time(14))) == (
        datetime(2026, 11, 24, 13, 0, tzinfo=NEW_YORK)
    )
    assert quiet_since(AT, NEW_YORK, None) is None and quiet_until(AT, NEW_YORK, None) is None


def test_a_text_planned_in_quiet_hours_goes_at_their_end_if_in_time_else_just_before_they_began() -> None:
    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=NEW_YORK)

    # Outside quiet hours: as planned.
    assert send_time(at(25, 10), at(25, 12), NEW_YORK, NIGHT) == at(25, 10)
    # Inside, and they end before the deadline: at their end.
    assert send_time(at(25, 7), at(25, 10), NEW_YORK, NIGHT) == at(25, 9)
    assert send_time(at(24, 22), at(25, 10), NEW_YORK, NIGHT) == at(25, 9)
    # Inside, and they end at or after the deadline: just before they began, the evening before.
    assert send_time(at(25, 7), at(25, 9), NEW_YORK, NIGHT) == at(24, 21) - BEFORE_QUIET
    assert send_time(at(24, 22), at(24, 23), NEW_YORK, NIGHT) == at(24, 20, 50)
    assert send_time(at(25, 7), at(25, 8), NEW_YORK, None) == at(25, 7)


def test_the_zone_is_the_recipients_own_else_the_numbers_else_the_business() -> None:
    assert recipient_zone("+14155550142", "America/New_York", LOS_ANGELES, AT) == NEW_YORK
    assert recipient_zone("+12125550100", None, LOS_ANGELES, AT) == NEW_YORK
    assert recipient_zone("+442079460018", None, LOS_ANGELES, AT) == LONDON
    assert recipient_zone("+442079460018", "Not/AZone", LOS_ANGELES, AT) == LONDON
    # No zone for the number (unassigned, unparsable, none on file): the business's.
    assert recipient_zone("+447700900123", None, LOS_ANGELES, AT) == LOS_ANGELES
    assert recipient_zone("not a number", None, LOS_ANGELES, AT) == LOS_ANGELES
    assert recipient_zone(None, None, LOS_ANGELES, AT) == LOS_ANGELES


def test_a_number_in_several_zones_takes_the_business_zone_among_them_else_the_earliest() -> None:
    mobile = "+61412345678"  # an Australian mobile: any of the country's zones
    assert recipient_zone(mobile, None, SYDNEY, AT) == SYDNEY
    # From a business abroad: the zone where it is earliest, whose quiet hours end last.
    assert recipient_zone(mobile, None, LOS_ANGELES, AT) == ZoneInfo("Indian/Cocos")
    # A non-geographic +1 number spans Guam to Pago Pago; a US business's own zone is among them.
    assert recipient_zone("+15005550006", None, NEW_YORK, AT) == NEW_YORK


async def test_replies_and_opt_out_confirmations_are_never_held_by_quiet_hours(
    twilio: Any, llm: Any, twilio_settings: Callable[..., Any], start_app: Callable[..., Any], clock: Clock
) -> None:
    phone = "+12125550100"
    clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=NEW_YORK))  # deep in their quiet hours, and ours
    async with start_app(twilio_settings(), clock=clock) as app:
        await app.text("what are your opening hours?", phone=phone)
        await app.settle()
        await app.text("STOP", phone=phone)
        await app.settle()
    bodies = [message["body"] for message in twilio.messages if message["to"] == phone]
    assert len(bodies) == 2, bodies
    assert "no more texts" in bodies[1]


@pytest.mark.parametrize("hours", ["21:00-09:00", "22:30-07:00"])
def test_send_time_never_lands_inside_quiet_hours(hours: str) -> None:
    start, end = (time.fromisoformat(part) for part in hours.split("-"))
    deadline = datetime(2026, 11, 26, 12, 0, tzinfo=LONDON)
    planned = datetime(2026, 11, 24, 0, 0, tzinfo=LONDON)
    while planned < deadline:
        moved = send_time(planned, deadline, LONDON, (start, end))
        assert quiet_until(moved, LONDON, (start, end)) is None and moved < deadline
        planned += timedelta(minutes=10)
