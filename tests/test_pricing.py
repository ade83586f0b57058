"""What texts and LLM calls cost: estimated from the price table, then Twilio's own price when it says."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assistant.pricing import SmsPrices
from storage.tables import LlmCall
from tests.test_metrics import value


@pytest.mark.parametrize(
    ("number", "price"),
    [("+14155550100", 0.0083), ("+16135550100", 0.0083), ("+447700900123", 0.08), ("+81312345678", 0.10)],
)
def test_a_segment_costs_by_the_destinations_country(number: str, price: float) -> None:
    assert SmsPrices(0.0083).per_segment(number) == price


def test_the_business_file_overrides_the_table() -> None:
    prices = SmsPrices(0.0083, {"GB": 0.05, "default": 0.2})
    assert prices.estimate("+447700900123", 3) == 0.15 and prices.per_segment("+81312345678") == 0.2


async def test_a_reply_is_priced_then_twilios_price_replaces_the_estimate(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("We're open 6am-9pm.")
    async with start_app(twilio_settings()) as app:
        before = (await app.client.get("/metrics")).text
        await app.text("when are you open?", phone="+14155550801")
        await app.settle()
        (reply,) = [
            m for m in await app.runtime.messages.listing(phone="+14155550801") if m.direction == "outbound"
        ]
        estimated = (reply.price, reply.price_source, reply.segments)
        params = {
            "MessageSid": reply.sid,
            "MessageStatus": "delivered",
            "AccountSid": app.settings.twilio_account_sid,
            "Price": "-0.00790",
            "PriceUnit": "USD",
        }
        assert (await app.twilio_post("/webhooks/twilio/status", params)).status_code == 200
        priced = await app.runtime.messages.get(reply.id)
        after = (await app.client.get("/metrics")).text
    assert estimated == (0.0083, "estimate", 1)
    assert (priced.price, priced.price_source) == (0.0079, "twilio")
    assert value(after, "sms_llm_tokens_total", kind="prompt") > value(
        before, "sms_llm_tokens_total", kind="prompt"
    )
    assert value(after, "sms_cost_usd_total", what="sms") - value(
        before, "sms_cost_usd_total", what="sms"
    ) == pytest.approx(0.0083)
    assert value(after, "sms_cost_usd_total", what="llm") > value(before, "sms_cost_usd_total", what="llm")


async def test_each_answer_records_the_llm_tokens_and_cost_and_a_failure_records_the_fallback(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("We're open 6am-9pm.")
    settings = twilio_settings(llm_input_price=1.0, llm_output_price=2.0)  # USD per million tokens
    async with start_app(settings) as app:
        await app.text("when are you open?", phone="+14155550802")
        await app.settle()
        llm.fail_next(500)
        await app.text("and on sundays?", phone="+14155550802")
        await app.settle()
        replies = [m for m in await app.runtime.messages.listing(phone="+14155550802") if m.kind == "reply"]
        async with app.runtime.clients.sessions() as session:
            calls = list(await session.scalars(select(LlmCall).order_by(LlmCall.id)))
        spent = await app.runtime.budget.state()
    answered, fallback = calls
    assert (answered.outcome, answered.model, answered.phone) == (
        "answered",
        "openai:test-model",
        "+14155550802",
    )
    assert answered.prompt_tokens > 0 and answered.completion_tokens > 0
    assert answered.cost == pytest.approx((answered.prompt_tokens + 2 * answered.completion_tokens) / 1e6)
    assert answered.reply_id == replies[-1].id  # the newest first in the listing: the first reply is last
    assert (fallback.outcome, fallback.cost, fallback.reply_id) == ("fallback", 0.0, replies[0].id)
    assert spent.today.spent.llm == pytest.approx(answered.cost)
    assert spent.today.spent.sms == pytest.approx(sum(reply.price for reply in replies))
