"""The phone simulator at /sandbox: type a message, see the reply and the actions that ran."""

from __future__ import annotations

import dataclasses

import pytest

from storage.database import create_engine
from tests.support import backends
from tests.support.waiting import eventually


async def _thread(app, phone: str) -> list[dict]:
    response = await app.client.get("/sandbox/messages", params={"phone": phone})
    assert response.status_code == 200
    return response.json()["messages"]


async def test_sandbox_page_answers_a_typed_message(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        page = await app.client.get("/sandbox")
        assert page.status_code == 200 and "phone simulator" in page.text
        sent = await app.client.post(
            "/sandbox/messages", json={"from": "+14155550142", "body": "I want a person"}
        )
        assert sent.status_code == 202
        await app.settle()
        thread = await _thread(app, "+14155550142")

    assert [m["direction"] for m in thread] == ["inbound", "outbound"]
    reply = thread[1]
    assert "member of our team" in reply["body"]
    assert reply["actions"] == [
        {
            "name": "HANDOFF",
            "ok": True,
            "message": reply["actions"][0]["message"],
            "reason": "customer asked for a person",
            "outcome": "done",
        }
    ]
    assert reply["status"] == "delivered" and reply["engine"] == "offline"


async def test_sandbox_rejects_bad_input_clearly(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        cases = [
            ({"from": "555", "body": "hi"}, "from"),
            ({"from": "+14155550142", "body": "   "}, "body"),
            ({"from": "+14155550142", "body": "x" * 2000}, "body"),
        ]
        for payload, field in cases:
            response = await app.client.post("/sandbox/messages", json=payload)
            assert response.status_code == 400 and response.json()["field"] == field
        not_json = await app.client.post("/sandbox/messages", content=b"{oops")
        assert not_json.status_code == 400
        missing = await app.client.get("/sandbox/messages")
        assert missing.status_code == 400
        assert await _thread(app, "+14155550142") == []


async def test_sandbox_is_off_when_twilio_is_configured(twilio, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings()) as app:
        assert (await app.client.get("/sandbox")).status_code == 404


async def test_the_page_names_the_business_and_offers_texts_to_start_with(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        home = await app.client.get("/")
        page = (await app.client.get("/sandbox")).text

    assert home.status_code == 302 and home.headers["location"] == "/sandbox"
    assert "<title>Acme Fitness · SMS Assistant phone simulator</title>" in page
    assert "Text Acme Fitness as a customer would" in page
    for example in ("What are your hours?", "How much is Yoga?", "Can I book Yoga tomorrow at 10am?", "STOP"):
        assert f'data-text="{example}"' in page
    assert ">Start over</button>" in page and 'href="/admin"' in page


async def test_a_number_is_taken_however_it_is_typed(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        sent = await app.client.post("/sandbox/messages", json={"from": "(415) 555-0177", "body": "hi"})
        await app.settle()
        typed_again = await app.client.get("/sandbox/messages", params={"phone": "415.555.0177"})
        nonsense = await app.client.post("/sandbox/messages", json={"from": "call me maybe", "body": "hi"})
        unreadable = await app.client.get("/sandbox/messages", params={"phone": "12"})

    assert sent.status_code == 202 and sent.json()["from"] == "+14155550177"
    assert typed_again.json()["phone"] == "+14155550177"
    assert [m["direction"] for m in typed_again.json()["messages"]] == ["inbound", "outbound"]
    assert nonsense.status_code == 400 and nonsense.json()["field"] == "from"
    assert "'call me maybe' is not a phone number" in nonsense.json()["error"]
    assert unreadable.status_code == 400 and "'12' is not a valid phone number" in unreadable.json()["error"]


async def test_a_question_waiting_for_yes_says_so(make_settings, start_app) -> None:
    phone = "+14155550178"
    async with start_app(make_settings()) as app:
        for text in ("can I book yoga tomorrow at 10am?", "cancel my appointment"):
            await app.client.post("/sandbox/messages", json={"from": phone, "body": text})
            await app.settle()
        thread = await _thread(app, phone)

    replies = [m for m in thread if m["direction"] == "outbound"]
    assert [(a["name"], a["outcome"]) for a in replies[0]["actions"]] == [("SCHEDULE", "done")]
    assert [(a["name"], a["outcome"]) for a in replies[1]["actions"]] == [("CANCEL", "awaiting YES")]
    assert replies[1]["body"].startswith("Reply YES to cancel Yoga, Wed Nov 25 10:00 AM")


async def test_health_and_readiness_with_the_worker_and_the_queue(make_settings, start_app, clock) -> None:
    # A wide burst window on a clock that stands still: the text waits, so the queue has an age.
    async with start_app(make_settings(burst_window_seconds=30)) as app:
        health = await app.client.get("/healthz")
        await app.client.post("/sandbox/messages", json={"from": "+14155550179", "body": "hi"})
        clock.advance(seconds=12)

        async def ready() -> dict:
            return (await app.client.get("/readyz")).json()

        found = await eventually(
            ready, until=lambda body: body.get("workers") == 1, what="a worker heartbeat"
        )

    assert health.json() == {"status": "ok"}
    assert found == {
        "status": "ready",
        "database": "ok",
        "redis": "ok",
        "workers": 1,
        "queue": {"waiting": 1, "oldestSeconds": 12.0},
    }


@pytest.mark.skipif(not backends.redis_available(), reason="a web process without a worker needs real Redis")
async def test_readiness_says_when_no_worker_is_running(make_settings, start_app) -> None:
    async with start_app(make_settings(embedded_worker=False)) as app:
        ready = await app.client.get("/readyz")
    assert ready.status_code == 200  # it still takes webhooks; the texts wait in SQL
    assert ready.json()["workers"] == 0
    assert (
        ready.json()["warning"] == "no worker is running: texts wait until one starts (sms-assistant worker)"
    )


async def test_readiness_fails_when_the_database_is_gone(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        state = app.app.state
        working = state.ops
        gone = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")  # nothing listens
        state.ops = dataclasses.replace(working, engine=gone)
        ready = await app.client.get("/readyz")
        await gone.dispose()
        state.ops = working
    assert ready.status_code == 503 and ready.json()["database"].startswith("error")
