"""Turns running together share their round trips, and each customer still gets only their own answer."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from actions.booking_backend import BookingRequest
from assistant.llm.facts import TurnFacts
from assistant.llm.port import ChatMessage, Completion, Toolbox
from assistant.runtime import Runtime, build_services, open_clients
from assistant.sms.sandbox import SandboxOutbox
from storage.history import ConversationHistory
from storage.messages import InboundText
from tests.support.clock import ManualClock

CUSTOMERS = 40
BUSINESS_NUMBER = "+15005550006"


def phone(index: int) -> str:
    return f"+1415{index:07d}"


class Receptionist:
    """A model that answers at once and notes what each turn told it."""

    name = "receptionist"

    def __init__(self) -> None:
        self.asked: dict[str, tuple[list[ChatMessage], TurnFacts | None]] = {}

    async def complete(
        self, messages: list[ChatMessage], facts: TurnFacts | None = None, tools: Toolbox | None = None
    ) -> Completion:
        said = messages[-1]["content"]
        self.asked[said] = (messages, facts)
        return Completion(f"Thanks for '{said}'.")

    async def aclose(self) -> None:
        return None


@pytest.fixture
def model() -> Receptionist:
    return Receptionist()


@pytest.fixture
async def runtime(
    make_settings: Callable[..., Any], clock: ManualClock, model: Receptionist
) -> AsyncIterator[Runtime]:
    """Every service on this test's database and Redis, with the receptionist as the LLM."""
    async with open_clients(make_settings(), clock=clock) as clients:
        yield build_services(dataclasses.replace(clients, llm=model))


async def test_customers_texting_together_are_answered_in_shared_round_trips(
    runtime: Runtime, model: Receptionist
) -> None:
    assert isinstance(runtime.clients.gateway, SandboxOutbox)
    business, now = runtime.clients.business, runtime.clients.clock()
    # Every third customer has an appointment; the model must see each customer's own, and only it.
    booked = {}
    for index in range(0, CUSTOMERS, 3):
        day = (now + timedelta(days=1 + index)).astimezone(business.zone).date()
        while business.hours_on(day) is None:
            day += timedelta(days=1)
        start = datetime.combine(day, time(10), tzinfo=business.zone)
        booked[phone(index)] = await runtime.clients.bookings.book(
            BookingRequest(phone=phone(index), service="Yoga", start=start)
        )
    for index in range(CUSTOMERS):
        text = InboundText(f"SM{index:032d}", phone(index), BUSINESS_NUMBER, f"hello from {index}", [])
        await runtime.inbound.accept(text)

    checkouts: list[object] = []  # each is a transaction (or a read) on its own connection
    event.listen(runtime.clients.engine.sync_engine.pool, "checkout", lambda *args: checkouts.append(args[0]))
    worker = runtime.worker()
    await asyncio.gather(*(worker.answer_phone(phone(index)) for index in range(CUSTOMERS)))

    for index in range(CUSTOMERS):
        replies = runtime.clients.gateway.sent_to(phone(index))
        assert len(replies) == 1 and replies[0].body.startswith(f"Thanks for 'hello from {index}'.")
        _, facts = model.asked[f"hello from {index}"]
        assert facts is not None
        expected = [booked[phone(index)].id] if phone(index) in booked else []
        assert [appointment.id for appointment in facts.appointments] == expected
    # One at a time a turn takes nine connections for its reads and writes; together they share them.
    assert len(checkouts) < CUSTOMERS / 2, f"{len(checkouts)} connections taken for {CUSTOMERS} turns"
    assert await runtime.messages.pending_phones() == []


async def test_a_returning_customer_is_shown_their_history_when_others_are_new(
    runtime: Runtime, model: Receptionist
) -> None:
    worker = runtime.worker()
    await runtime.inbound.accept(InboundText("SM-first", phone(0), BUSINESS_NUMBER, "first visit", []))
    await worker.answer_phone(phone(0))
    await runtime.transcript.forget(phone(0))  # the window expired: the record is what remains
    for index in range(3):
        body = "back again" if index == 0 else f"new here {index}"
        await runtime.inbound.accept(InboundText(f"SM-{index}", phone(index), BUSINESS_NUMBER, body, []))
    await asyncio.gather(*(worker.answer_phone(phone(index)) for index in range(3)))

    history, _ = model.asked["back again"]
    assert [turn["content"] for turn in history[1:-1]][:1] == ["first visit"]
    assert history[2]["role"] == "assistant" and "first visit" in history[2]["content"]
    for index in (1, 2):
        newcomer, _ = model.asked[f"new here {index}"]
        assert [turn["role"] for turn in newcomer] == ["system", "user"]  # nothing remembered: they are new


async def test_a_first_contact_begins_the_remembered_window(runtime: Runtime, model: Receptionist) -> None:
    """The next text reads the first exchange from Redis, not by rebuilding it from the record."""
    settings = runtime.clients.settings
    window = ConversationHistory(
        runtime.clients.redis, size=settings.history_size, ttl_seconds=settings.history_ttl_seconds
    )
    worker = runtime.worker()
    await runtime.inbound.accept(InboundText("SM-hi", phone(7), BUSINESS_NUMBER, "hi there", []))
    await worker.answer_phone(phone(7))
    remembered = await window.window(phone(7))
    await runtime.inbound.accept(InboundText("SM-again", phone(7), BUSINESS_NUMBER, "and again", []))
    await worker.answer_phone(phone(7))
    first_reply = runtime.clients.gateway.sent_to(phone(7))[0].body

    assert first_reply.startswith("Thanks for 'hi there'.")
    assert remembered == [
        {"role": "user", "content": "hi there"},
        {"role": "assistant", "content": first_reply},
    ]
    history, _ = model.asked["and again"]
    assert [turn["content"] for turn in history[1:]] == ["hi there", first_reply, "and again"]


def _shape(statement: str) -> str:
    """A statement with its lists of parameters (IN lists, VALUES rows) folded: one shape, many lengths."""
    shape = re.sub(r"\?|\$\d+(::[\w ]+(\[\])?)?|\b\d+\b", "?", statement)
    shape = re.sub(r"\?(, \?)+", "?", shape)
    return re.sub(r"\(\?\)(, \(\?\))+", "(?)", shape)


async def test_batches_of_any_size_are_run_with_a_few_statement_texts(runtime: Runtime) -> None:
    # asyncpg prepares each SQL text once per pooled connection and keeps it: a text per batch size grew a
    # worker by hundreds of statements a round (an expanding IN, or a multi-row INSERT, per length).
    texts: dict[str, set[str]] = {}

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        texts.setdefault(_shape(statement), set()).add(statement)

    event.listen(runtime.clients.engine.sync_engine, "before_cursor_execute", seen)
    worker, sent = runtime.worker(), 0
    for size in range(1, 33):
        phones = [phone(sent + index) for index in range(size)]
        for index, number in enumerate(phones):
            await runtime.inbound.accept(
                InboundText(f"SM{sent + index:032d}", number, BUSINESS_NUMBER, "hi", [])
            )
        await asyncio.gather(*(worker.answer_phone(number) for number in phones))
        sent += size
    assert sum(len(runtime.clients.gateway.sent_to(phone(index))) for index in range(sent)) == sent
    most = max(texts.values(), key=len)
    # Lengths 1, 2, 4 ... 32: six texts at most for a statement, whatever the 32 batch sizes.
    assert len(most) <= 6, f"{len(most)} texts for {_shape(next(iter(most)))[:120]}"
