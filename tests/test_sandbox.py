"""The phone simulator at /sandbox: type a message, see the reply and the actions that ran."""

from __future__ import annotations

import asyncio

from storage.database import create_engine


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
        await asyncio.sleep(0)
        assert await _thread(app, "+14155550142") == []


async def test_sandbox_is_off_when_twilio_is_configured(twilio, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings()) as app:
        assert (await app.client.get("/sandbox")).status_code == 404


async def test_health_and_readiness(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        health = await app.client.get("/healthz")
        ready = await app.client.get("/readyz")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": "ok", "redis": "ok"}


async def test_readiness_fails_when_the_database_is_gone(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        working = app.runtime.engine
        app.runtime.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")  # nothing listens
        ready = await app.client.get("/readyz")
        await app.runtime.engine.dispose()
        app.runtime.engine = working
    assert ready.status_code == 503 and ready.json()["database"].startswith("error")
