"""The owner's overview: after a scripted day, the page, /metrics and `messages list --json` agree."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from tests.support.staff import add_staff, sign_in
from tests.test_cli import run
from tests.test_metrics import value

ANNA, BEN, NOBODY = "+14155550301", "+14155550302", "+14155550309"


def _text_of(page: str) -> str:
    """The page as a reader sees it: tags gone, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def test_after_a_scripted_day_the_overview_metrics_and_the_cli_agree(
    twilio, twilio_settings, start_app, clock, database_url, tmp_path: Path
) -> None:
    # The offline engine answers (no LLM), so the day costs texts only, and its bookings are real.
    settings = twilio_settings(openai_api_key=None, openai_base_url=None, daily_budget=5.0)
    async with start_app(settings) as app:
        await add_staff(app.runtime)
        before = (await app.client.get("/metrics")).text
        twilio.reject(NOBODY, code=21211)  # not a valid number: the reply to it fails
        for phone, body in (
            (ANNA, "what are your hours?"),
            (ANNA, "can I book yoga tomorrow at 6pm"),
            (BEN, "how much is spin?"),
            (NOBODY, "hello"),
        ):
            assert (await app.text(body, phone=phone)).status_code == 200
            await app.settle()
        priced = next(m for m in await app.runtime.messages.listing(phone=BEN) if m.direction == "outbound")
        callback = {
            "MessageSid": priced.sid,
            "MessageStatus": "delivered",
            "AccountSid": settings.twilio_account_sid,
            "Price": "-0.00790",
            "PriceUnit": "USD",
        }
        assert (await app.twilio_post("/webhooks/twilio/status", callback)).status_code == 200
        clock.advance(seconds=10)  # the budget's figures are read again after 5 s
        after = (await app.client.get("/metrics")).text
        await sign_in(app.client)
        page = await app.client.get("/admin/overview")
    assert page.status_code == 200
    shown = _text_of(page.text)

    env = {"DATABASE_URL": database_url, "REDIS_URL": "memory://"}
    listed = run(["messages", "list", "--json", "--limit", "100"], tmp_path, **env)
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    inbound = [r for r in records if r["direction"] == "inbound"]
    outbound = [r for r in records if r["direction"] == "outbound"]
    spent = sum(r["price_usd"] for r in outbound if r["sent_at"])

    # Counts: 4 texts in; 4 replies out (Anna's first with the disclosure), one of them failed.
    assert len(inbound) == 4 and len(outbound) == 4
    assert "Texts today 4 in · 4 out" in shown
    assert value(after, "sms_inbound_texts_total") - value(before, "sms_inbound_texts_total") == 4
    failed = [r for r in outbound if r["status"] == "failed"]
    assert [r["error_code"] for r in failed] == [21211] and failed[0]["sent_at"] is None
    assert (
        value(after, "sms_outbound_texts_total", kind="reply", status="failed")
        - value(before, "sms_outbound_texts_total", kind="reply", status="failed")
        == 1
    )
    assert "21211" in shown and "The 'To' number is not a valid phone number." in shown
    # Spend: Twilio's price for Ben's reply, the price table's for the rest, nothing for the failed one.
    assert any(r["price_source"] == "twilio" and r["price_usd"] == pytest.approx(0.0079) for r in outbound)
    assert value(after, "sms_spend_usd", period="today", what="sms") == pytest.approx(spent)
    assert f"${spent:.2f} of $5.00 today" in shown
    # The booking Anna made, and the delivery rate over the one final status (Ben's delivered, 1 failed).
    assert "1 booked" in shown
    assert "Delivered 50 %" in shown
