"""The actions this service offers, in the order the system prompt lists them."""

from __future__ import annotations

from actions import booking, handoff, info
from actions.registry import ActionRegistry


def default_registry() -> ActionRegistry:
    return ActionRegistry(
        [booking.SCHEDULE, booking.UPDATE, booking.CANCEL, info.SPEC, handoff.SPEC, booking.CONFIRM]
    )
