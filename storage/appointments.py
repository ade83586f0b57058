"""The staff console's read of the built-in booking store: appointments by when, with who booked them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.tables import Appointment, Customer

VIEWS = ("upcoming", "past", "cancelled", "all")
# A booking made by a customer's text carries its turn's key: "turn:<first inbound message id>:...".
TURN_KEY = re.compile(r"turn:(\d+):")


@dataclass(frozen=True, slots=True)
class AppointmentRow:
    """What the console shows for one appointment."""

    id: int
    phone: str
    name: str | None
    service: str
    start: datetime
    end: datetime
    status: str  # booked | cancelled
    booked_at: datetime
    cancelled_at: datetime | None
    booked_by_text: int | None  # the inbound message whose turn booked it; None when not recorded

    @property
    def booked_by(self) -> str:
        return "assistant" if self.booked_by_text is not None else ""


class AppointmentList:
    """Reads appointments for the console: one view at a time, or one customer's."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def counts(self, now: datetime) -> dict[str, int]:
        """How many appointments each view holds."""
        booked = Appointment.status == "booked"
        over = Appointment.end_at <= now
        query = select(
            func.count(),
            func.sum(case((booked & ~over, 1), else_=0)),
            func.sum(case((booked & over, 1), else_=0)),
            func.sum(case((Appointment.status == "cancelled", 1), else_=0)),
        )
        async with self._sessions() as session:
            total, upcoming, past, cancelled = (await session.execute(query)).one()
        return {"upcoming": upcoming or 0, "past": past or 0, "cancelled": cancelled or 0, "all": total or 0}

    async def view(self, view: str, now: datetime, *, limit: int = 200) -> list[AppointmentRow]:
        """One view's appointments: upcoming soonest first, the others latest first."""
        query = _rows().limit(limit)
        if view == "upcoming":
            query = query.where(Appointment.status == "booked", Appointment.end_at > now)
            query = query.order_by(Appointment.start_at, Appointment.id)
        else:
            if view == "past":
                query = query.where(Appointment.status == "booked", Appointment.end_at <= now)
            elif view == "cancelled":
                query = query.where(Appointment.status == "cancelled")
            query = query.order_by(Appointment.start_at.desc(), Appointment.id.desc())
        return await self._read(query)

    async def for_phone(self, phone: str, now: datetime, *, limit: int = 10) -> list[AppointmentRow]:
        """One customer's appointments: those still to come soonest first, then the latest others."""
        to_come = (Appointment.status == "booked") & (Appointment.end_at > now)
        rank: ColumnElement[int] = case((to_come, 0), else_=1)
        query = _rows().where(Appointment.phone == phone)
        query = query.order_by(rank, case((to_come, Appointment.start_at)), Appointment.start_at.desc())
        return await self._read(query.limit(limit))

    async def _read(self, query: Select[tuple[Appointment, str | None]]) -> list[AppointmentRow]:
        async with self._sessions() as session:
            rows = await session.execute(query)
            return [_row(appointment, name) for appointment, name in rows]


def _rows() -> Select[tuple[Appointment, str | None]]:
    return select(Appointment, Customer.name).outerjoin(Customer, Customer.phone == Appointment.phone)


def _row(appointment: Appointment, name: str | None) -> AppointmentRow:
    turn = TURN_KEY.match(appointment.idempotency_key or "")
    return AppointmentRow(
        id=appointment.id,
        phone=appointment.phone,
        name=name,
        service=appointment.service,
        start=appointment.start_at,
        end=appointment.end_at,
        status=appointment.status,
        booked_at=appointment.created_at,
        cancelled_at=appointment.cancelled_at,
        booked_by_text=int(turn[1]) if turn else None,
    )
