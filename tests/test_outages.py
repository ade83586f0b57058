"""PostgreSQL going away under a running app: the fallback webhook, and texts answered once it is back."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import OperationalError

from assistant.errors import OUTAGES
from storage.database import create_engine
from tests.conftest import BUSINESS_NUMBER
from tests.support import backends, servers
from tests.support.outage import Gate
from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(
    not backends.postgres_available(), reason="outages are made with a gate in front of PostgreSQL"
)

CUSTOMER = "+14155550123"
STRANGER = "+14155550177"
APOLOGY = "<Message>Sorry, Acme Fitness's assistant is having trouble"


@pytest.fixture
def postgres() -> Iterator[str]:
    with backends.fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def gate(postgres: str) -> AsyncIterator[Gate]:
    async with Gate(postgres) as gate:
        yield gate


@pytest.fixture
def database_url(gate: Gate) -> str:
    """Every connection the app makes goes through the gate."""
    return gate.url


def _inbound(body: str, phone: str = CUSTOMER) -> dict[str, str]:
    return {"MessageSid": "SM" + uuid.uuid4().hex, "From": phone, "To": BUSINESS_NUMBER, "Body": body}


def _now(read: Any) -> Any:
    async def value() -> Any:
        return read()

    return value


def _sent(twilio: Any, phone: str = CUSTOMER) -> Any:
    async def read() -> list[str]:
        return [message["body"] for message in twilio.messages if message["to"] == phone]

    return read


async def test_during_an_outage_the_fallback_apologises_and_the_text_is_answered_after(
    gate, twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("We open at 6am.")
    async with start_app(twilio_settings()) as app:
        await app.text("hi")  # a customer we know: their consent is cached in Redis
        await app.settle()
        await gate.cut()
        response = await app.twilio_post("/webhooks/twilio/fallback", _inbound("when do you open?"))
        stranger = await app.twilio_post("/webhooks/twilio/fallback", _inbound("hi", phone=STRANGER))
        assert response.status_code == 200 and APOLOGY in response.text
        # A number we can't look up might have opted out: it gets its answer when the database is back.
        assert stranger.status_code == 200 and "<Message>" not in stranger.text
        await gate.restore()
        texts = await eventually(_sent(twilio), until=lambda t: len(t) == 2, what="the answer after")
        answered_stranger = await eventually(_sent(twilio, STRANGER), until=bool, what="the stranger's")
    assert texts[1] == "We open at 6am."  # the first reply carried the STOP disclosure
    assert len(answered_stranger) == 1 and answered_stranger[0].startswith("We open at 6am.")


async def test_a_stop_the_fallback_took_during_an_outage_is_never_apologised_to_and_counts(
    gate, twilio, llm, twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings()) as app:
        await gate.cut()
        response = await app.twilio_post("/webhooks/twilio/fallback", _inbound("STOP"))
        assert response.status_code == 200 and "<Message>" not in response.text
        await gate.restore()
        texts = await eventually(_sent(twilio), until=bool, what="the opt-out confirmation")
        assert await app.runtime.consent.is_opted_out(CUSTOMER)
    assert len(texts) == 1 and "unsubscribed" in texts[0].lower()


async def test_an_opted_out_number_gets_no_apology_during_an_outage(
    gate, twilio, llm, twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings()) as app:
        await app.text("STOP")
        await app.settle()
        await gate.cut()
        response = await app.twilio_post("/webhooks/twilio/fallback", _inbound("hello?"))
        await gate.restore()
    assert response.status_code == 200 and "<Message>" not in response.text


async def test_a_turn_cut_off_by_an_outage_is_answered_once_the_database_is_back_not_a_lease_later(
    gate, twilio, llm, twilio_settings, start_app, caplog
) -> None:
    llm.reply_with("We open at 6am.")
    llm.holds.close()  # the model is thinking when the database goes
    # A lease far longer than the deadline: the answer can only come from noticing the database is back.
    async with start_app(twilio_settings(turn_lease_seconds=600.0)) as app:
        await app.text("when do you open?")
        await eventually(_now(lambda: llm.requests), until=bool, what="the turn to reach the model")
        await gate.cut()
        llm.holds.open()
        outage = "waits: the database or Redis is away"
        await eventually(_now(lambda: caplog.text), until=lambda log: outage in log, what="the turn to fail")
        await gate.restore()
        texts = await eventually(_sent(twilio), until=bool, timeout=60, what="the answer after the outage")
    assert len(texts) == 1 and texts[0].startswith("We open at 6am.")


async def test_a_text_parked_in_an_outage_stays_before_the_next_one_from_that_number(
    gate, twilio, llm, twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings()) as app:
        await gate.cut()
        await app.twilio_post("/webhooks/twilio/fallback", _inbound("first"))
        await gate.restore()
        await app.text("second")  # at once: before any worker pass has looked for parked texts
        await app.settle()
        history = await app.runtime.messages.recent(CUSTOMER, limit=10)
    inbound = [message.body for message in history if message.direction == "inbound"]
    assert inbound == ["first", "second"]


@pytest.mark.skipif(not servers.postgres_available(), reason="needs the PostgreSQL server binaries")
async def test_a_database_refusing_connections_while_it_starts_or_stops_is_an_outage() -> None:
    """PostgreSQL answers "cannot connect now" (57P03) while it starts up or shuts down: that is the server
    being away for a moment, so the fallback webhook parks the text instead of failing it."""
    database = servers.PostgresServer()
    database.start()
    with contextlib.closing(database):
        raw = make_url(database.url).set(drivername="postgresql").render_as_string(hide_password=False)
        session = await asyncpg.connect(raw)  # an open session keeps a smart shutdown waiting
        engine = create_engine(database.url)
        try:
            database.begin_smart_stop()

            async def refusal() -> BaseException | None:
                try:
                    async with engine.connect():
                        return None
                except Exception as exc:
                    return exc

            refused = await eventually(refusal, until=lambda exc: exc is not None, what="a refusal")
            assert "shutting down" in str(refused)
            assert isinstance(refused, OUTAGES), f"{type(refused).__name__} is not taken for an outage"
        finally:
            await engine.dispose()
            await session.close()


async def test_a_database_away_at_the_socket_says_so_as_operational_error(gate: Gate) -> None:
    """A dropped connection and a refused one arrive as OperationalError, never as the socket's OSError: an
    OSError of our own (a template file gone, say) is a real error, not an outage to wait out."""
    engine = create_engine(gate.url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await gate.cut()
            with pytest.raises(OperationalError):
                await connection.execute(text("SELECT 1"))
        with pytest.raises(OperationalError) as refused:
            async with engine.connect():
                pass
        assert isinstance(refused.value.orig, OSError)
    finally:
        await engine.dispose()
    assert not isinstance(FileNotFoundError("prompts/system.j2"), OUTAGES)
