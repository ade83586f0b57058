"""SCHEDULE, UPDATE and CANCEL: booking actions for the texting customer; changes wait for a YES."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from actions.booking_backend import Booking, BookingRefused, BookingRequest
from actions.confirmations import PendingChange
from actions.parser import ActionCall
from actions.registry import ActionContext, ActionResult, ActionSpec, Param


def _local_start(raw: str) -> datetime:
    """A local wall-clock time as the prompt asks for it: YYYY-MM-DDTHH:MM, no offset."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("start must look like 2026-11-24T18:00") from None
    if value.tzinfo is not None:
        raise ValueError("start must be local time without an offset")
    return value


def _appointment_id(raw: str) -> str:
    value = raw.strip().lstrip("#")
    if not value.isdigit() or len(value) > 18:
        raise ValueError("appointment must be the number shown in the customer's list")
    return value


def _aware(context: ActionContext, start: datetime) -> datetime:
    return start.replace(tzinfo=context.business.zone)


def _refusal(context: ActionContext, action: str, refused: BookingRefused) -> ActionResult:
    message = refused.args[0]
    if refused.alternatives:
        choices = ", ".join(context.business.describe_time(moment) for moment in refused.alternatives[:3])
        message = f"{message} Nearest open times: {choices}."
    return ActionResult(action, ok=False, message=message, data={"reason": refused.reason})


def _described(context: ActionContext, booking: Booking) -> str:
    return f"{booking.service}, {context.business.describe_time(booking.start)} (#{booking.id})"


async def schedule(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    request = BookingRequest(
        phone=context.phone,  # always the sender: the model never chooses whose booking this is
        service=args["service"],
        start=_aware(context, args["start"]),
        customer_id=context.customer_id,
        idempotency_key=f"{context.turn_key}:SCHEDULE",
    )
    try:
        booking = await context.bookings.book(request)
    except BookingRefused as refused:
        return _refusal(context, "SCHEDULE", refused)
    return ActionResult(
        "SCHEDULE",
        ok=True,
        message=f"Booked: {_described(context, booking)}.",
        data={"appointment": booking.id},
    )


async def ask_to_cancel(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    try:
        booking = await context.bookings.get(phone=context.phone, appointment_id=args["appointment"])
    except BookingRefused as refused:
        return _refusal(context, "CANCEL", refused)
    if booking.status != "booked":
        return ActionResult("CANCEL", ok=False, message=f"#{booking.id} is already cancelled.")
    await context.confirmations.ask(context.phone, PendingChange("CANCEL", booking.id))
    return ActionResult(
        "CANCEL",
        ok=False,  # nothing has changed yet: the model's words must not be sent
        message=f"Reply YES to cancel {booking.service}, {context.business.describe_time(booking.start)}.",
        data={"appointment": booking.id, "awaiting": "YES"},
    )


async def ask_to_move(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    try:
        booking = await context.bookings.get(phone=context.phone, appointment_id=args["appointment"])
    except BookingRefused as refused:
        return _refusal(context, "UPDATE", refused)
    start = _aware(context, args["start"])
    change = PendingChange("UPDATE", booking.id, start=start.isoformat())
    await context.confirmations.ask(context.phone, change)
    describe = context.business.describe_time
    return ActionResult(
        "UPDATE",
        ok=False,
        message=f"Reply YES to move {booking.service} from {describe(booking.start)} to {describe(start)}.",
        data={"appointment": booking.id, "awaiting": "YES", "start": change.start},
    )


def confirmation(change: PendingChange) -> ActionCall:
    """The CONFIRM call that carries out a change the customer said YES to."""
    args = {"change": change.action, "appointment": change.appointment}
    if change.start:
        args["start"] = change.start
    return ActionCall("CONFIRM", args)


async def confirm(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    """Do a change the customer confirmed with YES, for their own appointment only."""
    action, appointment = args["change"], args["appointment"]
    try:
        if action == "CANCEL":
            booking = await context.bookings.cancel(phone=context.phone, appointment_id=appointment)
            return ActionResult("CANCEL", ok=True, message=f"Cancelled: {_described(context, booking)}.")
        if "start" not in args:
            return ActionResult("UPDATE", ok=False, message="What day and time should I move it to?")
        booking = await context.bookings.move(
            phone=context.phone, appointment_id=appointment, start=args["start"]
        )
    except BookingRefused as refused:
        return _refusal(context, action, refused)
    return ActionResult("UPDATE", ok=True, message=f"Moved: {_described(context, booking)}.")


def _change(raw: str) -> str:
    value = raw.strip().upper()
    if value not in ("CANCEL", "UPDATE"):
        raise ValueError("change must be CANCEL or UPDATE")
    return value


def _aware_start(raw: str) -> datetime:
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        raise ValueError("start must carry its offset")
    return value


SCHEDULE = ActionSpec(
    name="SCHEDULE",
    purpose="Book a service for this customer",
    params={
        "service": Param("the service name exactly as listed"),
        "start": Param("local start time, YYYY-MM-DDTHH:MM", parse=_local_start),
    },
    handler=schedule,
    example='[ACTION:SCHEDULE service="Yoga" start="2026-11-24T18:00"]',
    on_invalid="Sorry, I couldn't book that. Which service, day and time would you like?",
)
CANCEL = ActionSpec(
    name="CANCEL",
    purpose="Cancel one of this customer's upcoming appointments (they will be asked to confirm)",
    params={"appointment": Param("the appointment number from the list above", parse=_appointment_id)},
    handler=ask_to_cancel,
    example='[ACTION:CANCEL appointment="42"]',
    on_invalid="Which appointment would you like to cancel?",
)
UPDATE = ActionSpec(
    name="UPDATE",
    purpose="Move one of this customer's upcoming appointments (they will be asked to confirm)",
    params={
        "appointment": Param("the appointment number from the list above", parse=_appointment_id),
        "start": Param("the new local start time, YYYY-MM-DDTHH:MM", parse=_local_start),
    },
    handler=ask_to_move,
    example='[ACTION:UPDATE appointment="42" start="2026-11-24T09:00"]',
    on_invalid="Which appointment would you like to move, and to what day and time?",
)
# Never offered to the model: the service calls it when the customer answers YES to one of the above.
CONFIRM = ActionSpec(
    name="CONFIRM",
    purpose="Carry out a cancel or move the customer confirmed with YES",
    params={
        "change": Param("CANCEL or UPDATE", parse=_change),
        "appointment": Param("the appointment asked about", parse=_appointment_id),
        "start": Param("UPDATE: the new start, with its offset", required=False, parse=_aware_start),
    },
    handler=confirm,
    on_invalid="Sorry, I couldn't do that. Could you tell me again what you'd like to change?",
    offered=False,
)
