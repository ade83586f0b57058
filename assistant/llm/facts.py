"""What a turn knows, as data: the customer, their appointments, what they attached, and the time.

The same facts feed the system prompt (through `prompt_values`), the offline engine and the template lint,
so nothing ever has to read them back out of rendered prompt text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# How times are written for the model and in action tags: local to the business, to the minute.
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"
READABLE = "%A, %B %d, %Y %I:%M %p %Z"


@dataclass(frozen=True, slots=True)
class Appointment:
    """One of the customer's upcoming appointments."""

    id: str
    service: str
    start: datetime  # aware


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """The facts of one turn, in the business's zone unless named otherwise."""

    now: datetime  # aware
    zone: ZoneInfo  # the business's
    customer_name: str | None = None
    customer_tier: str = "standard"
    customer_zone: ZoneInfo | None = None  # None: the business's
    appointments: tuple[Appointment, ...] = ()
    words: str = ""  # what the customer wrote this turn, defused, without attachment notes
    attachments: tuple[str, ...] = field(default=())  # content types of what they attached
    images: tuple[str, ...] = ()  # the URLs of the images among them, for a vision model (LLM_VISION)
    language: str = "en"  # the language they write in (en, es): replies and handlers answer in it

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.zone)

    def local(self, moment: datetime) -> datetime:
        """`moment` as the business's wall-clock time, without a zone."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def prompt_values(self, business: dict[str, Any], actions: list[dict[str, Any]]) -> dict[str, Any]:
        """The system template's values: the one place they are built, for turns and for the lint."""
        local = self.local_now
        customer_now = self.now.astimezone(self.customer_zone or self.zone)
        return {
            "business": business,
            "customer": {
                "name": self.customer_name,
                "tier": self.customer_tier,
                "timezone": self.customer_zone.key if self.customer_zone else None,
                "now": customer_now.strftime(READABLE),
            },
            # "now" is the business's time, as the prompt labels it and as action tags are written.
            "now": {"iso": local.isoformat(timespec="minutes"), "text": local.strftime(READABLE)},
            "appointments": [
                {
                    "id": appointment.id,
                    "service": appointment.service,
                    "start": appointment.start.astimezone(self.zone).strftime(LOCAL_MINUTE),
                }
                for appointment in self.appointments
            ],
            "actions": actions,
        }
