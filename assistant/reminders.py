"""Appointment reminders: each lead's text goes once, outside quiet hours, never cancelled or to opt-outs."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.booking_backend import Booking, BookingRefused, BookingStore
from assistant.business import Business
from assistant.logs import mask_phone
from assistant.quiet_hours import LONGEST_MOVE_EARLIER, Window, quiet_until, send_time
from assistant.recipient_zone import recipient_zone
from assistant.sender import Sender
from assistant.transcript import Transcript
from prompts.renderer import PromptRenderer
from storage.clock import Clock
from storage.tables import Customer, Message, ReminderSend

log = logging.getLogger(__name__)

DEFAULT_LEADS: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))
MAX_REF = 120  # ReminderSend.appointment_ref's column width


def lead_text(lead: timedelta) -> str:
    """A lead time in words: '24 hours', '1 hour', '90 minutes'."""
    minutes = _minutes(lead)
    count, unit = (minutes // 60, "hour") if minutes % 60 == 0 else (minutes, "minute")
    return f"{count} {unit}{'' if count == 1 else 's'}"


def when_text(start: datetime, now: datetime, business: Business) -> str:
    """The start in the business's local time, as a person says it: 'tomorrow at 6:00 PM'."""
    local, today = start.astimezone(business.zone), now.astimezone(business.zone).date()
    clock = local.strftime("%I:%M %p").lstrip("0")
    if local.date() == today:
        return f"today at {clock}"
    if local.date() == today + timedelta(days=1):
        return f"tomorrow at {clock}"
    return f"{local:%a %b} {local.day} at {clock}"


def reminder_ref(booking: Booking) -> str:
    """The reminder key of one appointment at one start: a moved appointment is reminded again."""
    ref = f"{booking.id}@{booking.start.astimezone(UTC):%Y-%m-%dT%H:%MZ}"
    # External schedulers may use long ids; a digest keeps the key unique and inside the column.
    return ref if len(ref) <= MAX_REF else hashlib.sha256(ref.encode()).hexdigest()


def _minutes(lead: timedelta) -> int:
    return int(lead.total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one appointment needs now: the lead to send (if any) and the leads to record as skipped."""

    booking: Booking
    send: timedelta | None
    skip: tuple[timedelta, ...]


class Reminders:
    """Sends the reminders that are due; safe to run from any number of workers, as often as you like."""

    def __init__(
        self,
        *,
        bookings: BookingStore,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender,
        renderer: PromptRenderer,
        transcript: Transcript,
        business: Business,
        clock: Clock,
        quiet_hours: Window | None,
        leads: Sequence[timedelta] = DEFAULT_LEADS,
    ) -> None:
        if any(lead <= timedelta(0) for lead in leads):
            raise ValueError("reminder leads must be positive")
        self._bookings = bookings
        self._sessions = sessions
        self._sender = sender
        self._renderer = renderer
        self._transcript = transcript
        self._business = business
        self._clock = clock
        self._quiet_hours = quiet_hours
        self._leads = tuple(sorted(set(leads)))  # shortest first

    async def send_due(self) -> int:
        """Send every reminder whose moment has passed and record the ones skipped; returns how many went."""
        if not self._leads:
            return 0
        now = self._clock()
        try:
            bookings = await self._bookings.listing()
        except BookingRefused as exc:
            log.warning("reminders: booking backend unavailable (%s); trying again next sweep", exc)
            return 0
        # A reminder moved to just before the quiet hours its moment falls in is due up to a night early.
        reach = self._leads[-1] + (LONGEST_MOVE_EARLIER if self._quiet_hours else timedelta(0))
        due = [
            booking
            for booking in bookings
            if booking.status == "booked" and booking.start > now and booking.start - reach <= now
        ]
        if not due:
            return 0
        recorded = await self._recorded([reminder_ref(booking) for booking in due])
        zones = await self._zones({booking.phone for booking in due}, now)
        sent = 0
        for booking in due:
            plan = self._plan(booking, now, recorded.get(reminder_ref(booking), set()), zones[booking.phone])
            if plan is None:
                continue
            try:
                sent += await self._carry_out(plan, now, zones[booking.phone])
            except Exception:
                # One bad appointment (a template error, a backend hiccup) must not hold up everyone else's.
                log.exception("reminder for appointment %s failed; trying again next sweep", booking.id)
        return sent

    def _send_at(self, booking: Booking, lead: timedelta, zone: ZoneInfo) -> datetime:
        """When the reminder for `lead` goes: its lead time before the start, moved out of quiet hours."""
        return send_time(booking.start - lead, booking.start, zone, self._quiet_hours)

    def _plan(self, booking: Booking, now: datetime, recorded: set[int], zone: ZoneInfo) -> Plan | None:
        """Only the shortest due lead is sent, so a late sweep never sends two reminders back to back."""
        due = [lead for lead in self._leads if self._send_at(booking, lead, zone) <= now]
        if not due or _minutes(due[0]) in recorded:
            return None
        shortest, longer = due[0], tuple(lead for lead in due[1:] if _minutes(lead) not in recorded)
        # Its moment: the lead before the start, or earlier when quiet hours moved it so.
        moment = min(booking.start - shortest, self._send_at(booking, shortest, zone))
        # A backend that doesn't know when it was booked counts it as booked long ago.
        if booking.created_at is not None and booking.created_at > moment:
            # Booked inside this window: the booking confirmation was the reminder.
            return Plan(booking, None, (shortest, *longer))
        if quiet_until(now, zone, self._quiet_hours) is not None:
            # A sweep that came late, into quiet hours: the reminder waits for their end (and is not sent
            # at all if that is after the start; quiet hours win over a late reminder).
            return None
        return Plan(booking, shortest, longer)

    async def _carry_out(self, plan: Plan, now: datetime, zone: ZoneInfo) -> int:
        """Record the plan and its text in one transaction, then send; the unique row makes it once."""
        booking, ref = plan.booking, reminder_ref(plan.booking)
        message: Message | None = None
        if plan.send is not None:
            # Re-read just before writing: a cancellation or a move since the listing wins.
            try:
                current = await self._bookings.get(phone=booking.phone, appointment_id=booking.id)
            except BookingRefused:
                return 0
            if current.status != "booked" or current.start != booking.start:
                return 0
            message = await self._prepare(current, plan.send, now, zone)
        try:
            async with self._sessions() as session, session.begin():
                # The first statement writes, so SQLite takes the write lock up front (no stale-read upgrade).
                if message is not None and plan.send is not None:
                    session.add(message)
                    await session.flush()
                    session.add(
                        ReminderSend(
                            appointment_ref=ref, lead_minutes=_minutes(plan.send), message_id=message.id
                        )
                    )
                for lead in plan.skip:
                    session.add(
                        ReminderSend(appointment_ref=ref, lead_minutes=_minutes(lead), message_id=None)
                    )
        except IntegrityError:
            # Another worker recorded this appointment's reminder first; it does the sending.
            return 0
        if message is None:
            return 0
        if not (await self._sender.deliver(message)).reaches_customer:
            return 0  # suppressed (opted out), failed, or already taken by recovery
        await self._transcript.add(booking.phone, {"role": "assistant", "content": message.body})
        log.info(
            "sent the %s reminder for appointment %s to %s",
            lead_text(plan.send or timedelta()),
            booking.id,
            mask_phone(booking.phone),
        )
        return 1

    async def _prepare(self, booking: Booking, lead: timedelta, now: datetime, zone: ZoneInfo) -> Message:
        """The reminder text, shaped like every outbound text, to the appointment's own phone (`zone` is
        theirs, for quiet hours should the text go later than planned)."""
        values: dict[str, Any] = {
            "business": self._business.template_values(),
            "appointment": {
                "id": booking.id,
                "service": booking.service,
                "when": when_text(booking.start, now, self._business),
                "start": booking.start.astimezone(self._business.zone).isoformat(timespec="minutes"),
            },
            "lead": lead_text(lead),
        }
        text = await self._renderer.render("reminder", values)
        async with self._sessions() as session:
            customer_id = await session.scalar(select(Customer.id).where(Customer.phone == booking.phone))
        return await self._sender.prepare(
            phone=booking.phone,
            text=text,
            kind="reminder",
            customer_id=customer_id,
            # Held by a spent budget past the appointment's start, it is dropped rather than sent late.
            details={
                "appointment": booking.id,
                "lead_minutes": _minutes(lead),
                "send_before": booking.start.isoformat(),
                "timezone": zone.key,
            },
        )

    async def _zones(self, phones: set[str], now: datetime) -> dict[str, ZoneInfo]:
        """Each phone's zone for quiet hours: the customer's own when known, else the number's or ours."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Customer.phone, Customer.timezone).where(Customer.phone.in_(phones))
            )
            known = {phone: zone for phone, zone in rows}
        return {phone: recipient_zone(phone, known.get(phone), self._business.zone, now) for phone in phones}

    async def _recorded(self, refs: list[str]) -> dict[str, set[int]]:
        """The lead times already sent or skipped, per appointment reference."""
        found: dict[str, set[int]] = {}
        async with self._sessions() as session:
            rows = await session.execute(
                select(ReminderSend.appointment_ref, ReminderSend.lead_minutes).where(
                    ReminderSend.appointment_ref.in_(refs)
                )
            )
            for ref, minutes in rows:
                found.setdefault(ref, set()).add(minutes)
        return found
