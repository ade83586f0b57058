"""The built-in booking store: appointments in our own SQL tables, race-safe on SQLite and PostgreSQL.

Rules, each refusal worded for SMS with times local to the business:
- the service must exist (any case; stored under its configured name);
- the start must be aware and in the future, on the slot grid (every `slot_minutes` from that day's
  opening time), and the whole service must fit inside that day's opening hours. An off-grid start is
  refused as "closed", not rounded, so nobody is booked at a time they did not ask for; its
  alternatives are the nearest grid starts;
- capacity: booked appointments of the same service whose [start, end) overlaps the new one must number
  fewer than the service's capacity. Every write runs in one transaction that first takes a lock
  (an advisory lock on PostgreSQL, SQLite's one write lock), so the count can't go stale before the
  insert: two customers racing for the last place, even from different processes, can't both win.
Refusals for in_past, closed and full carry up to 3 `alternatives`: the free grid starts nearest the one
asked for, earlier that day or on the next 14 days. Messages don't list them; callers word them with
`Business.describe_time`, as the messages do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.booking_backend import Booking, BookingRefused, BookingRequest
from assistant.business import Business, Service
from storage.batching import Coalescer, padded
from storage.clock import Clock
from storage.locks import hold_write_lock
from storage.tables import Appointment

log = logging.getLogger(__name__)

BOOKED, CANCELLED = "booked", "cancelled"
SEARCH_DAYS = 14
MAX_ALTERNATIVES = 3
MAX_ROW_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL
# Any constant will do, as long as every process booking into this database uses the same one.
BOOKING_LOCK_KEY = 0x534D5342_4F4F4B53  # "SMSBOOKS"
NOT_FOUND = "I couldn't find that appointment."
SUGGESTS = frozenset({"in_past", "closed", "full"})
UPCOMING_BATCH = 100  # customers whose appointments one query lists


@dataclass(frozen=True, slots=True)
class Upcoming:
    """One ask for a customer's next appointments."""

    phone: str
    now: datetime
    limit: int


def _day(day: date) -> str:
    return f"{day:%a %b} {day.day}"


def _clock(value: time) -> str:
    return f"{value.hour % 12 or 12}:{value:%M} {'AM' if value.hour < 12 else 'PM'}"


def _aware(start: datetime) -> datetime:
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("booking times must be time-zone aware")
    return start


def _row_id(appointment_id: str) -> int | None:
    """The numeric id behind a port id, or None for anything that can't be one of ours."""
    raw = str(appointment_id).strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ROW_ID else None


class SqlBookingStore:
    """Appointments in our SQL tables, checked against the business's hours, slot grid and capacities."""

    name = "builtin"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], business: Business, clock: Clock) -> None:
        self._sessions = sessions
        self._business = business
        self._clock = clock
        # Queues this process's writers here instead of each holding a pooled connection while it
        # waits for the database lock, which is what serialises writers across processes.
        self._lock = asyncio.Lock()
        # Turns starting together list their customers' appointments in one query.
        self._upcoming = Coalescer(self._upcoming_many, max_batch=UPCOMING_BATCH)

    async def book(self, request: BookingRequest) -> Booking:
        """Book, or raise BookingRefused; a repeated idempotency key returns the first booking."""
        service = self._service(request.service)
        start = _aware(request.start)
        try:
            async with self._lock, self._sessions() as session, session.begin():
                await hold_write_lock(session, key=BOOKING_LOCK_KEY, table="appointments")
                if request.idempotency_key and (found := await self._keyed(session, request)):
                    return found
                self._check(service, start)
                await self._check_capacity(session, service, start)
                row = Appointment(
                    customer_id=request.customer_id,
                    phone=request.phone,
                    service=service.name,
                    start_at=start,
                    end_at=self._end(service, start),
                    status=BOOKED,
                    idempotency_key=request.idempotency_key,
                    created_at=self._clock(),  # the store's clock, which reminders compare against
                )
                session.add(row)
                await session.flush()
                return self._booking(row)
        except BookingRefused as refusal:
            await self._suggest(refusal, service, start)
            raise
        except IntegrityError:
            # Only the idempotency key is unique: someone else committed it first; answer with theirs.
            async with self._sessions() as session:
                found = await self._keyed(session, request) if request.idempotency_key else None
            if found is None:
                raise
            return found

    async def move(self, *, phone: str, appointment_id: str, start: datetime) -> Booking:
        """Move this customer's booked appointment under the same rules, its own place excluded."""
        start = _aware(start)
        row_id = _row_id(appointment_id)
        service: Service | None = None
        try:
            async with self._lock, self._sessions() as session, session.begin():
                await hold_write_lock(session, key=BOOKING_LOCK_KEY, table="appointments")
                row = await self._own(session, phone, row_id)
                if row.status != BOOKED:
                    raise BookingRefused(
                        "already_cancelled", "That appointment was cancelled, so it can't be moved."
                    )
                service = self._service(row.service)
                self._check(service, start)
                await self._check_capacity(session, service, start, exclude=row.id)
                row.start_at, row.end_at = start, self._end(service, start)
                await session.flush()
                return self._booking(row)
        except BookingRefused as refusal:
            if service is not None:
                await self._suggest(refusal, service, start, exclude=row_id)
            raise

    async def cancel(self, *, phone: str, appointment_id: str) -> Booking:
        """Cancel this customer's booked appointment; a second cancel is refused as already_cancelled."""
        async with self._lock, self._sessions() as session, session.begin():
            # Under the same lock as moves, so a move can't land on an appointment cancelled meanwhile.
            await hold_write_lock(session, key=BOOKING_LOCK_KEY, table="appointments")
            row = await self._own(session, phone, _row_id(appointment_id))
            if row.status != BOOKED:
                raise BookingRefused("already_cancelled", "That appointment is already cancelled.")
            row.status, row.cancelled_at = CANCELLED, self._clock()
            await session.flush()
            return self._booking(row)

    async def get(self, *, phone: str, appointment_id: str) -> Booking:
        """This customer's appointment, booked or cancelled; anyone else's is not_found."""
        async with self._sessions() as session:
            return self._booking(await self._own(session, phone, _row_id(appointment_id)))

    async def upcoming(self, *, phone: str, now: datetime, limit: int = 5) -> list[Booking]:
        """This customer's booked appointments starting after `now`, soonest first."""
        return await self._upcoming.submit(Upcoming(phone, now, limit))

    async def _upcoming_many(self, asks: Sequence[Upcoming]) -> list[list[Booking]]:
        """`upcoming` for concurrent turns in one read: every booked start after the earliest `now`."""
        query = (
            select(Appointment)
            .where(
                Appointment.phone.in_(padded({ask.phone for ask in asks})),
                Appointment.status == BOOKED,
                Appointment.start_at > min(ask.now for ask in asks),
            )
            .order_by(Appointment.start_at, Appointment.id)
        )
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        answers = []
        for ask in asks:
            theirs = [row for row in rows if row.phone == ask.phone and row.start_at > ask.now]
            answers.append([self._booking(row) for row in theirs[: ask.limit]])
        return answers

    async def listing(self, *, phone: str | None = None) -> list[Booking]:
        """Every appointment, or one customer's, by start time."""
        query = select(Appointment).order_by(Appointment.start_at, Appointment.id)
        if phone is not None:
            query = query.where(Appointment.phone == phone)
        async with self._sessions() as session:
            return [self._booking(row) for row in await session.scalars(query)]

    async def aclose(self) -> None:
        """Nothing to close: the engine belongs to the runtime."""

    def _service(self, name: str) -> Service:
        service = self._business.service(name)
        if service is None:
            offered = ", ".join(s.name for s in self._business.services) or "nothing yet"
            raise BookingRefused(
                "unknown_service", f'We don\'t offer "{" ".join(name.split())[:40]}". We offer {offered}.'
            )
        return service

    @staticmethod
    def _end(service: Service, start: datetime) -> datetime:
        # In UTC, so an appointment across a DST change still lasts its real duration.
        return start.astimezone(UTC) + timedelta(minutes=service.duration_minutes)

    def _check(self, service: Service, start: datetime) -> None:
        """Refuse a start in the past, outside hours, running past closing, or off the slot grid."""
        business, local = self._business, start.astimezone(self._business.zone)
        if start <= self._clock():
            raise BookingRefused("in_past", f"{business.describe_time(start)} has already passed.")
        hours = business.hours_on(local.date())
        if hours is None:
            raise BookingRefused("closed", f"We're closed on {_day(local.date())}.")
        if not hours.opens <= local.time() < hours.closes:
            span = f"{_clock(hours.opens)}-{_clock(hours.closes)}"
            raise BookingRefused("closed", f"On {_day(local.date())} we're open {span}.")
        if not business.fits(service, start):
            raise BookingRefused(
                "closed",
                f"{service.name} ({service.duration_minutes} min) at {_clock(local.time())} "
                f"would run past closing at {_clock(hours.closes)}.",
            )
        minutes = (local.hour * 60 + local.minute) - (hours.opens.hour * 60 + hours.opens.minute)
        if minutes % business.slot_minutes or local.second or local.microsecond:
            raise BookingRefused(
                "closed",
                f"Bookings start every {business.slot_minutes} min from {_clock(hours.opens)}; "
                f"{_clock(local.time())} isn't one of them.",
            )

    async def _check_capacity(
        self, session: AsyncSession, service: Service, start: datetime, exclude: int | None = None
    ) -> None:
        overlapping = self._overlaps(service, start, self._end(service, start), exclude)
        if (await session.scalar(select(func.count()).where(*overlapping)) or 0) >= service.capacity:
            label = self._business.describe_time(start)
            raise BookingRefused("full", f"{service.name} at {label} is full.")

    @staticmethod
    def _overlaps(
        service: Service, start: datetime, end: datetime, exclude: int | None
    ) -> list[ColumnElement[bool]]:
        """Booked appointments of this service, but `exclude`, whose [start, end) overlaps the given one."""
        return [
            Appointment.service == service.name,
            Appointment.status == BOOKED,
            Appointment.start_at < end,
            Appointment.end_at > start,
            Appointment.id != (exclude or 0),  # ids start at 1, so 0 excludes nothing
        ]

    async def _keyed(self, session: AsyncSession, request: BookingRequest) -> Booking | None:
        row = await session.scalar(
            select(Appointment).where(Appointment.idempotency_key == request.idempotency_key)
        )
        if row is None:
            return None
        if row.phone != request.phone:
            # Keys name our own turns, so this is a caller's bug; never hand out someone else's booking.
            log.error("idempotency key reused for another phone; refusing")
            raise BookingRefused("unavailable", "Sorry, I couldn't book that just now. Please try again.")
        return self._booking(row)

    @staticmethod
    async def _own(session: AsyncSession, phone: str, row_id: int | None) -> Appointment:
        """This phone's appointment; a missing id and someone else's are refused alike."""
        row = None
        if row_id is not None:
            row = await session.scalar(
                select(Appointment).where(Appointment.id == row_id, Appointment.phone == phone)
            )
        if row is None:
            raise BookingRefused("not_found", NOT_FOUND)
        return row

    def _booking(self, row: Appointment) -> Booking:
        zone = self._business.zone
        return Booking(
            id=str(row.id),
            phone=row.phone,
            service=row.service,
            start=row.start_at.astimezone(zone),
            end=row.end_at.astimezone(zone),
            status=BOOKED if row.status == BOOKED else CANCELLED,
            created_at=row.created_at.astimezone(zone),
        )

    async def _suggest(
        self, refusal: BookingRefused, service: Service, wanted: datetime, exclude: int | None = None
    ) -> None:
        if refusal.reason not in SUGGESTS:
            return
        try:
            refusal.alternatives = await self._nearest_free(service, wanted, exclude)
        except SQLAlchemyError as exc:
            # The refusal itself must still reach the customer; alternatives are a courtesy.
            log.warning("could not look up alternatives: %s", exc)

    def _grid(self, service: Service, day: date) -> list[datetime]:
        """Every start on `day` where the service fits, every slot_minutes from opening."""
        hours = self._business.hours_on(day)
        if hours is None:
            return []
        step = timedelta(minutes=self._business.slot_minutes)
        start = datetime.combine(day, hours.opens, tzinfo=self._business.zone)
        starts: list[datetime] = []
        while self._business.fits(service, start):
            starts.append(start)
            start += step  # wall-clock arithmetic in the business zone, like opening hours
        return starts

    async def _nearest_free(self, service: Service, wanted: datetime, exclude: int | None) -> list[datetime]:
        """Up to 3 free future grid starts nearest `wanted`: earlier that day, or up to 14 days on."""
        now, zone = self._clock(), self._business.zone
        first = max(wanted.astimezone(zone).date(), now.astimezone(zone).date())
        days = (first + timedelta(days=offset) for offset in range(SEARCH_DAYS + 1))
        candidates = [start for day in days for start in self._grid(service, day) if start > now]
        if not candidates:
            return []
        window = self._overlaps(service, candidates[0], self._end(service, candidates[-1]), exclude)
        query = select(Appointment.start_at, Appointment.end_at).where(*window)
        async with self._sessions() as session:
            booked = (await session.execute(query)).all()

        def free(start: datetime) -> bool:
            end = self._end(service, start)
            return sum(1 for row in booked if row.start_at < end and row.end_at > start) < service.capacity

        # Nearest first; on a tie the later start wins, since customers more often push a plan back.
        ranked = sorted(candidates, key=lambda start: (abs(start - wanted), -start.timestamp()))
        return sorted(islice((start for start in ranked if free(start)), MAX_ALTERNATIVES))
