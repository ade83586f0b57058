"""SCHEDULE, UPDATE and CANCEL: booking actions for the texting customer; changes wait for a YES."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from actions.booking_backend import Booking, BookingRefused, BookingRequest
from actions.confirmations import PendingChange
from actions.parser import ActionCall
from actions.phrases import local_time, say
from actions.registry import ActionContext, ActionResult, ActionSpec, BusinessFacts, Param


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
        choices = ", ".join(_time(context, moment) for moment in refused.alternatives[:3])
        message = f"{message} {say(context.language, 'nearest', times=choices)}"
    return ActionResult(action, ok=False, message=message, data={"reason": refused.reason})


def _time(context: ActionContext, moment: datetime) -> str:
    return local_moment(context.business, context.language, moment)


def local_moment(business: BusinessFacts, language: str, moment: datetime) -> str:
    """A moment as the customer reads it, in the business's zone and the customer's language."""
    if language == "en":
        return business.describe_time(moment)
    return local_time(language, moment.astimezone(business.zone) if moment.tzinfo else moment)


def _described(context: ActionContext, booking: Booking) -> str:
    return f"{booking.service}, {_time(context, booking.start)} (#{booking.id})"


async def schedule(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    start = _aware(context, args["start"])
    if args.get("ask"):
        return await _ask_to_book(context, args["service"], start)
    return await _book(context, args["service"], start)


def _preview_schedule(context: ActionContext, args: dict[str, Any]) -> str:
    """What a SCHEDULE would tell the customer, for a rehearsal (the booking's number is not known)."""
    when = _time(context, args["start"])
    if args.get("ask"):
        return say(context.language, "ask_book", service=args["service"], when=when)
    return say(context.language, "booked", what=f"{args['service']}, {when}")


async def _ask_to_book(context: ActionContext, service: str, start: datetime) -> ActionResult:
    """A booking the customer's words left unsure (a typo read as a day, a guessed a.m.): ask first."""
    if start <= context.now:
        return ActionResult("SCHEDULE", ok=False, message=say(context.language, "passed"))
    language = context.language
    change = PendingChange("SCHEDULE", "", start=start.isoformat(), service=service, language=language)
    await context.confirmations.ask(context.phone, change)
    return ActionResult(
        "SCHEDULE",
        ok=False,  # nothing is booked yet
        message=say(language, "ask_book", service=service, when=_time(context, start)),
        data={"awaiting": "YES", "service": service, "start": change.start, "language": language},
    )


async def _book(context: ActionContext, service: str, start: datetime) -> ActionResult:
    request = BookingRequest(
        phone=context.phone,  # always the sender: the model never chooses whose booking this is
        service=service,
        start=start,
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
        message=say(context.language, "booked", what=_described(context, booking)),
        data={"appointment": booking.id},
    )


async def ask_to_cancel(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    try:
        booking = await context.bookings.get(phone=context.phone, appointment_id=args["appointment"])
    except BookingRefused as refused:
        return _refusal(context, "CANCEL", refused)
    if booking.status != "booked":
        return ActionResult(
            "CANCEL", ok=False, message=say(context.language, "already_cancelled", id=booking.id)
        )
    change = PendingChange("CANCEL", booking.id, language=context.language)
    await context.confirmations.ask(context.phone, change)
    return ActionResult(
        "CANCEL",
        ok=False,  # nothing has changed yet: the model's words must not be sent
        message=say(context.language, "ask_cancel", what=_described(context, booking)),
        data={"appointment": booking.id, "awaiting": "YES", "language": context.language},
    )


async def ask_to_move(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    try:
        booking = await context.bookings.get(phone=context.phone, appointment_id=args["appointment"])
    except BookingRefused as refused:
        return _refusal(context, "UPDATE", refused)
    start = _aware(context, args["start"])
    change = PendingChange("UPDATE", booking.id, start=start.isoformat(), language=context.language)
    await context.confirmations.ask(context.phone, change)
    message = say(
        context.language,
        "ask_move",
        service=booking.service,
        id=booking.id,
        old=_time(context, booking.start),
        new=_time(context, start),
    )
    data = {"appointment": booking.id, "awaiting": "YES", "start": change.start, "language": context.language}
    return ActionResult("UPDATE", ok=False, message=message, data=data)


def confirmation(change: PendingChange) -> ActionCall:
    """The CONFIRM call that carries out a change the customer said YES to."""
    args = {"change": change.action}
    for name, value in (
        ("appointment", change.appointment),
        ("start", change.start),
        ("service", change.service),
    ):
        if value:
            args[name] = value
    return ActionCall("CONFIRM", args)


async def confirm(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    """Do a change the customer confirmed with YES, for their own appointment only."""
    action, appointment = args["change"], args.get("appointment", "")
    if action == "SCHEDULE":
        if "service" not in args or "start" not in args:
            return ActionResult("SCHEDULE", ok=False, message="Which service, day and time would you like?")
        return await _book(context, args["service"], args["start"])
    if not appointment:
        return ActionResult(action, ok=False, message="Which appointment do you mean?")
    try:
        if action == "CANCEL":
            booking = await context.bookings.cancel(phone=context.phone, appointment_id=appointment)
            return ActionResult(
                "CANCEL",
                ok=True,
                message=say(context.language, "cancelled", what=_described(context, booking)),
            )
        if "start" not in args:
            return ActionResult("UPDATE", ok=False, message="What day and time should I move it to?")
        booking = await context.bookings.move(
            phone=context.phone, appointment_id=appointment, start=args["start"]
        )
    except BookingRefused as refused:
        return _refusal(context, action, refused)
    return ActionResult(
        "UPDATE", ok=True, message=say(context.language, "moved", what=_described(context, booking))
    )


def _change(raw: str) -> str:
    value = raw.strip().upper()
    if value not in ("SCHEDULE", "CANCEL", "UPDATE"):
        raise ValueError("change must be SCHEDULE, CANCEL or UPDATE")
    return value


def _yes(raw: str) -> bool:
    value = raw.strip().casefold()
    if value not in ("yes", "no", "true", "false"):
        raise ValueError("ask must be yes or no")
    return value in ("yes", "true")


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
        "ask": Param(
            "yes to have the customer confirm first, when you had to guess the service, day or time",
            required=False,
            parse=_yes,
        ),
    },
    handler=schedule,
    preview=_preview_schedule,
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
    purpose="Carry out a booking, cancel or move the customer confirmed with YES",
    params={
        "change": Param("SCHEDULE, CANCEL or UPDATE", parse=_change),
        "appointment": Param("the appointment asked about", required=False, parse=_appointment_id),
        "start": Param(
            "SCHEDULE, UPDATE: the (new) start, with its offset", required=False, parse=_aware_start
        ),
        "service": Param("SCHEDULE: the service", required=False),
    },
    handler=confirm,
    on_invalid="Sorry, I couldn't do that. Could you tell me again what you'd like to change?",
    offered=False,
)
