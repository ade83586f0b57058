"""A clock tests move by hand, for code that takes `clock=`."""

from __future__ import annotations

from datetime import datetime, timedelta


class ManualClock:
    """Returns `now` until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, now: datetime) -> None:
        self.now = now
