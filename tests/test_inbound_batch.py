"""The webhook's batch insert writes what the one-text path writes, on every database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import session_factory
from storage.messages import InboundText, MessageLog
from storage.tables import Customer, Message
from tests.support.clock import ManualClock

# What differs between two texts by design; every other column must be written alike by both paths.
OWN = {"id", "sid", "body", "media", "details", "phone", "from_number", "customer_id"}


def _text(sid: str, phone: str, body: str, **extra: Any) -> InboundText:
    fields = {"media": [], **extra}
    return InboundText(sid=sid, from_number=phone, to_number="+15005550006", body=body, **fields)


async def _rows(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with session_factory(engine)() as session:
        messages = (await session.scalars(select(Message).order_by(Message.id))).all()
        return {m.sid: {c.key: getattr(m, c.key) for c in Message.__table__.columns} for m in messages}


async def test_a_batch_writes_each_text_as_the_one_text_path_does(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    log = MessageLog(session_factory(engine), clock=clock, consent_scope="default")
    alone, _ = await log.record_inbound(_text("SM" + "0" * 32, "+14155550100", "first, on its own"))
    picture = [{"url": "https://api.twilio.com/m/1", "content_type": "image/jpeg"}]
    batch = [
        _text("SM" + "1" * 32, "+14155550100", "a known customer"),
        _text("SM" + "2" * 32, "+14155550199", "a new one", opt_out_type="stop"),
        _text("SM" + "1" * 32, "+14155550100", "Twilio's retry of the first"),
        _text("SM" + "3" * 32, "+14155550199", "a picture", media=picture),
    ]

    results = await log.add_inbounds(batch)
    again = await log.add_inbounds(batch[:1])

    rows = await _rows(engine)
    assert [created for _, created in results] == [True, True, False, True]
    assert results[2][0] == results[0][0] and again == [(results[0][0], False)]  # the retry: the same row
    assert [rows[text.sid]["id"] for text in batch if text is not batch[2]] == sorted(
        row_id for row_id, created in results if created
    )  # ids in the order the texts came
    assert rows[batch[0].sid]["body"] == "a known customer"  # the first delivery's, not the retry's
    assert rows[batch[1].sid]["details"] == {"opt_out_type": "STOP"}
    assert rows[batch[3].sid]["media"] == picture
    async with session_factory(engine)() as session:
        customers = {c.phone: c.id for c in await session.scalars(select(Customer))}
    assert set(customers) == {"+14155550100", "+14155550199"}
    for text in batch:
        row = rows[text.sid]
        assert (row["phone"], row["from_number"], row["customer_id"]) == (
            text.from_number,
            text.from_number,
            customers[text.from_number],
        )
        shared = {key: value for key, value in row.items() if key not in OWN}
        assert shared == {key: value for key, value in rows[alone.sid].items() if key not in OWN}
