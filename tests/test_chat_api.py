"""The chat app's API as the chat app sees it: keys, users, double opt-in, messages, the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from assistant.http import openapi
from storage.chat_tables import ChatMessage, ChatUser, NotificationDecision, PhoneVerification
from tests.support.clock import ManualClock as Clock
from tests.support.waiting import eventually

KEY = "chat-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
APP_URL = "https://chat.example.com"
BOB_PHONE = "+14155550188"
OTHER_PHONE = "+14155550199"
NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # 11:00 AM in Los Angeles, the example business's zone


@pytest.fixture
def chat_settings(make_settings: Callable[..., Any]) -> Callable[..., Any]:
    def build(**overrides: Any) -> Any:
        return make_settings(**{"chat_api_key": KEY, "app_base_url": APP_URL, **overrides})

    return build


async def sandbox_texts(app: Any, phone: str) -> list[str]:
    """What the phone received, read from the sandbox the way a person checking the simulator would."""
    response = await app.client.get("/sandbox/messages", params={"phone": phone})
    return [m["body"] for m in response.json()["messages"] if m["direction"] == "outbound"]


async def code_for(app: Any, phone: str) -> str:
    match = re.search(r"\b(\d{6})\b", (await sandbox_texts(app, phone))[-1])
    assert match, "no code in the last text"
    return match[1]


async def count(app: Any, table: type) -> int:
    async with app.runtime.clients.engine.connect() as connection:
        return await connection.scalar(select(func.count()).select_from(table))


async def test_seed_000s_own_request_is_accepted_as_is(chat_settings, start_app) -> None:
    async with start_app(chat_settings()) as app:
        response = await app.client.post(
            "/api/messages",
            headers={**AUTH, "Content-Type": "application/json"},
            content=b'{"chatId":"c1","senderId":"alice","recipientId":"bob","body":"Hello Bob!"}',
        )
    assert response.status_code == 201
    body = response.json()
    assert body["message"]["chatId"] == "c1" and body["message"]["body"] == "Hello Bob!"
    assert body["message"]["senderId"] == "alice" and body["message"]["recipientId"] == "bob"
    # Nobody told us about bob: he never opted in, so he is not texted.
    assert body["notification"] == {"status": "skipped", "reason": "not_opted_in"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Bearer nope"}, "wrong API key"),
        ({"Authorization": f"Basic {KEY}"}, "Authorization: Bearer"),
        ({"Authorization": "Bearer "}, "Authorization: Bearer"),
    ],
)
async def test_a_missing_or_wrong_key_is_401_and_changes_nothing(
    headers, reason, chat_settings, start_app
) -> None:
    async with start_app(chat_settings()) as app:
        message = {"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": "hi"}
        for method, path, payload in [
            ("POST", "/api/messages", message),
            ("PUT", "/api/users/bob", {"phone": BOB_PHONE, "smsOptIn": True}),
            ("GET", "/api/users/bob", None),
            ("POST", "/api/presence", {"userId": "bob", "online": True}),
            ("POST", "/api/messages/1/read", None),
        ]:
            response = await app.client.request(method, path, json=payload, headers=headers)
            assert response.status_code == 401, path
            assert reason in response.json()["error"] and response.headers["WWW-Authenticate"] == "Bearer"
        assert await count(app, ChatMessage) == 0 and await count(app, ChatUser) == 0
        assert app.runtime.clients.gateway.sent == []


async def test_without_chat_api_key_the_api_says_it_is_not_configured(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        response = await app.client.get("/api/users/bob", headers={"Authorization": "Bearer anything"})
        document = await app.client.get("/api/openapi.json")
    assert response.status_code == 401
    assert response.json()["error"] == "the chat API is not configured: set CHAT_API_KEY on the server"
    assert document.status_code == 200  # the document itself is public


@pytest.mark.parametrize(
    ("payload", "field", "error"),
    [
        (
            {"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": ""},
            "body",
            "must not be empty",
        ),
        (
            {"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": " \n\t "},
            "body",
            "not be empty",
        ),
        ({"chatId": "c1", "senderId": "alice", "recipientId": "bob"}, "body", "body is required"),
        ({"chatId": "c1", "senderId": "alice", "body": "hi"}, "recipientId", "recipientId is required"),
        (
            {"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": "x" * 2001},
            "body",
            "at most 2000",
        ),
        ({"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": 42}, "body", "must be a string"),
        (
            {"chatId": "c 1", "senderId": "alice", "recipientId": "bob", "body": "hi"},
            "chatId",
            "letters, digits",
        ),
        ({"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": "a\x00b"}, "body", "NUL"),
        (["not", "an", "object"], None, "must be a JSON object"),
    ],
)
async def test_bad_messages_are_400_with_the_reason_and_store_nothing(
    payload, field, error, chat_settings, start_app
) -> None:
    async with start_app(chat_settings()) as app:
        response = await app.client.post("/api/messages", json=payload, headers=AUTH)
        assert response.status_code == 400
        assert response.json()["field"] == field and error in response.json()["error"]
        assert await count(app, ChatMessage) == 0 and await count(app, NotificationDecision) == 0


async def test_a_body_that_is_not_json_is_400(chat_settings, start_app) -> None:
    async with start_app(chat_settings()) as app:
        response = await app.client.post("/api/messages", content=b"chatId=c1", headers=AUTH)
    assert response.status_code == 400 and response.json()["error"] == "the request body must be JSON"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "12345", "smsOptIn": True}, "phone"),
        ({"phone": "not a phone", "smsOptIn": True}, "phone"),
        ({"phone": BOB_PHONE, "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"phone": BOB_PHONE, "timezone": "../../etc/passwd"}, "timezone"),
    ],
)
async def test_an_invalid_phone_or_time_zone_is_422_naming_the_field_and_writes_nothing(
    payload, field, chat_settings, start_app
) -> None:
    async with start_app(chat_settings()) as app:
        response = await app.client.put("/api/users/bob", json={"name": "Bob", **payload}, headers=AUTH)
        assert response.status_code == 422 and response.json()["field"] == field
        assert (await app.client.get("/api/users/bob", headers=AUTH)).status_code == 404
        assert app.runtime.clients.gateway.sent == []


@pytest.mark.parametrize("user_id", ["a%0Ab", "a%0D%0Ab", "%00", "a" * 129, "bob%20smith"])
async def test_a_malformed_user_id_is_400_naming_the_id_and_writes_nothing(
    user_id, chat_settings, start_app
) -> None:
    async with start_app(chat_settings()) as app:
        response = await app.client.put(f"/api/users/{user_id}", json={"name": "Bob"}, headers=AUTH)
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "id" and "user id must be" in response.json()["error"]
        assert await count(app, ChatUser) == 0


async def test_a_user_is_stored_with_an_e164_phone_and_only_given_fields_change(
    chat_settings, start_app
) -> None:
    async with start_app(chat_settings()) as app:
        created = await app.client.put(
            "/api/users/bob",
            json={"name": "Bob", "phone": "(415) 555-0188", "timezone": "America/New_York"},
            headers=AUTH,
        )
        renamed = await app.client.put("/api/users/bob", json={"name": "Robert"}, headers=AUTH)
        fetched = await app.client.get("/api/users/bob", headers=AUTH)
    assert created.status_code == 201 and renamed.status_code == 200
    assert created.json() == {
        "id": "bob",
        "name": "Bob",
        "phone": BOB_PHONE,
        "smsOptIn": False,
        "timezone": "America/New_York",
        "phoneVerified": False,
        "verification": None,  # not opted in: no code is texted
    }
    assert fetched.json() == {
        **{k: v for k, v in created.json().items() if k != "verification"},
        "name": "Robert",
    }


async def test_double_opt_in_texts_a_code_with_the_stop_disclosure_and_verifies_it(
    chat_settings, start_app
) -> None:
    async with start_app(chat_settings()) as app:
        saved = await app.client.put(
            "/api/users/bob", json={"name": "Bob", "phone": BOB_PHONE, "smsOptIn": True}, headers=AUTH
        )
        assert saved.json()["verification"] == "code_sent" and saved.json()["phoneVerified"] is False
        (text,) = await sandbox_texts(app, BOB_PHONE)
        assert "Acme Fitness: your code is" in text and text.endswith("Reply STOP to opt out.")
        # Saving the same profile again (a retry) doesn't text a second code.
        again = await app.client.put(
            "/api/users/bob", json={"phone": BOB_PHONE, "smsOptIn": True}, headers=AUTH
        )
        assert again.json()["verification"] is None and len(await sandbox_texts(app, BOB_PHONE)) == 1

        code = await code_for(app, BOB_PHONE)
        verified = await app.client.post("/api/users/bob/verify", json={"code": code}, headers=AUTH)
        assert verified.status_code == 200 and verified.json()["phoneVerified"] is True
        async with app.runtime.clients.engine.connect() as connection:
            stored = (
                await connection.execute(select(PhoneVerification.code_hash, PhoneVerification.salt))
            ).one()
        assert code not in stored.code_hash and len(stored.code_hash) == 64  # only a salted hash is kept

        # A new phone must be verified again.
        moved = await app.client.put("/api/users/bob", json={"phone": "+14155550199"}, headers=AUTH)
        assert moved.json()["phoneVerified"] is False and moved.json()["verification"] == "code_sent"


async def test_wrong_codes_are_400_then_429_after_five_tries_and_the_tries_last_an_hour(
    chat_settings, start_app
) -> None:
    clock = Clock(NOW)
    async with start_app(chat_settings(), clock=clock) as app:
        await app.client.put("/api/users/bob", json={"phone": BOB_PHONE, "smsOptIn": True}, headers=AUTH)
        code = await code_for(app, BOB_PHONE)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [
            await app.client.post("/api/users/bob/verify", json={"code": wrong}, headers=AUTH)
            for _ in range(5)
        ]
        assert [a.status_code for a in answers] == [400] * 5
        assert answers[0].json() == {"error": "wrong code (4 tries left)", "field": "code"}
        right = await app.client.post("/api/users/bob/verify", json={"code": code}, headers=AUTH)
        assert right.status_code == 429  # even the right code, once the tries are used up

        # Asking again within the hour sends nothing: a new code would be five more guesses.
        again = await app.client.put("/api/users/bob", json={"smsOptIn": True}, headers=AUTH)
        assert again.json()["verification"] == "code_not_sent"
        assert len(await sandbox_texts(app, BOB_PHONE)) == 1
        locked = await app.client.post("/api/users/bob/verify", json={"code": code}, headers=AUTH)
        assert locked.status_code == 429 and "after 2026-" in locked.json()["error"]

        clock.advance(minutes=61)
        await app.client.put("/api/users/bob", json={"smsOptIn": True}, headers=AUTH)
        fresh = await code_for(app, BOB_PHONE)
        assert (
            await app.client.post("/api/users/bob/verify", json={"code": fresh}, headers=AUTH)
        ).status_code == 200


async def test_sending_the_code_again_keeps_the_tries_already_spent(chat_settings, start_app) -> None:
    async with start_app(chat_settings()) as app:
        await app.client.put("/api/users/bob", json={"phone": BOB_PHONE, "smsOptIn": True}, headers=AUTH)
        code = await code_for(app, BOB_PHONE)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(3):
            await app.client.post("/api/users/bob/verify", json={"code": wrong}, headers=AUTH)
        # Opting out and in again, or moving to another phone and back, sends a new code...
        await app.client.put("/api/users/bob", json={"smsOptIn": False}, headers=AUTH)
        await app.client.put("/api/users/bob", json={"smsOptIn": True}, headers=AUTH)
        await app.client.put("/api/users/bob", json={"phone": OTHER_PHONE}, headers=AUTH)
        resent = await app.client.put("/api/users/bob", json={"phone": BOB_PHONE}, headers=AUTH)
        assert resent.json()["verification"] == "code_sent"
        fresh = await code_for(app, BOB_PHONE)
        wrong = f"{(int(fresh) + 1) % 1_000_000:06d}"
        # ...with the two tries that were left, not five new ones.
        answer = await app.client.post("/api/users/bob/verify", json={"code": wrong}, headers=AUTH)
        assert answer.json()["error"] == "wrong code (1 try left)"


async def test_a_code_expires_after_ten_minutes(chat_settings, start_app) -> None:
    clock = Clock(NOW)
    async with start_app(chat_settings(), clock=clock) as app:
        await app.client.put("/api/users/bob", json={"phone": BOB_PHONE, "smsOptIn": True}, headers=AUTH)
        code = await code_for(app, BOB_PHONE)
        clock.advance(minutes=10)
        late = await app.client.post("/api/users/bob/verify", json={"code": code}, headers=AUTH)
        malformed = await app.client.post("/api/users/bob/verify", json={"code": "12 34"}, headers=AUTH)
    assert late.status_code == 400 and "expired" in late.json()["error"]
    assert malformed.status_code == 400 and malformed.json()["field"] == "code"


async def test_an_opted_out_phone_gets_no_code(chat_settings, start_app) -> None:
    async with start_app(chat_settings()) as app:
        await app.runtime.consent.record(
            BOB_PHONE, "opt_out", source="keyword", matched="STOP", inbound_sid=None, raw_text="STOP"
        )
        saved = await app.client.put(
            "/api/users/bob", json={"phone": BOB_PHONE, "smsOptIn": True}, headers=AUTH
        )
    assert saved.json()["verification"] == "code_not_sent"
    assert app.runtime.clients.gateway.sent_to(BOB_PHONE) == []


async def test_a_repeated_idempotency_key_stores_and_decides_once(chat_settings, start_app) -> None:
    message = {"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": "Hello Bob!"}
    async with start_app(chat_settings()) as app:
        first = await app.client.post(
            "/api/messages", json=message, headers={**AUTH, "Idempotency-Key": "k-1"}
        )
        again = await app.client.post(
            "/api/messages", json=message, headers={**AUTH, "Idempotency-Key": "k-1"}
        )
        other = await app.client.post(
            "/api/messages", json={**message, "body": "different"}, headers={**AUTH, "Idempotency-Key": "k-1"}
        )
        assert await count(app, ChatMessage) == 1 and await count(app, NotificationDecision) == 1
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert first.json() == again.json()


async def test_reading_a_message_records_when(chat_settings, start_app) -> None:
    clock = Clock(NOW)
    async with start_app(chat_settings(), clock=clock) as app:
        posted = await app.client.post(
            "/api/messages",
            json={"chatId": "c1", "senderId": "a", "recipientId": "b", "body": "hi"},
            headers=AUTH,
        )
        clock.advance(seconds=5)
        message_id = posted.json()["message"]["id"]
        read = await app.client.post(f"/api/messages/{message_id}/read", headers=AUTH)
        unknown = await app.client.post("/api/messages/999999/read", headers=AUTH)
        silly = await app.client.post("/api/messages/not-a-number/read", headers=AUTH)
    assert (
        read.status_code == 200
        and read.json()["message"]["readAt"] == (NOW + timedelta(seconds=5)).isoformat()
    )
    assert (
        unknown.status_code == 404 and silly.status_code == 404 and silly.json()["error"] == "no such message"
    )


async def test_presence_reports_the_grace_period(chat_settings, start_app) -> None:
    clock = Clock(NOW)
    async with start_app(chat_settings(), clock=clock) as app:

        async def say(online: bool) -> dict[str, Any]:
            response = await app.client.post(
                "/api/presence", json={"userId": "bob", "online": online}, headers=AUTH
            )
            assert response.status_code == 200
            return response.json()

        assert (await say(True))["online"] is True
        clock.advance(seconds=20)
        assert (await say(False))[
            "online"
        ] is True  # still inside the 30 s grace since the last online signal
        clock.advance(seconds=10)
        assert (await say(False)) == {"userId": "bob", "online": False, "lastOnlineAt": NOW.isoformat()}


async def test_the_openapi_document_describes_every_route(chat_settings, start_app) -> None:
    settings = chat_settings(chat_max_body=500)
    async with start_app(settings) as app:
        served = (await app.client.get("/api/openapi.json")).json()
    assert served == openapi.document(settings)
    assert served["openapi"] == "3.1.0"
    assert {(path, method) for path, item in served["paths"].items() for method in item} == {
        ("/api/users/{user_id}", "put"),
        ("/api/users/{user_id}", "get"),
        ("/api/users/{user_id}/verify", "post"),
        ("/api/presence", "post"),
        ("/api/messages", "post"),
        ("/api/messages/{message_id}/read", "post"),
        ("/api/openapi.json", "get"),
    }
    assert served["components"]["schemas"]["MessageIn"]["properties"]["body"]["maxLength"] == 500
    assert set(served["paths"]["/api/messages"]["post"]["responses"]) == {
        "200",
        "201",
        "400",
        "401",
        "409",
        "413",
        "503",
    }


async def test_a_code_twilio_refused_for_now_still_works_when_the_retry_brings_it(
    twilio, twilio_settings, start_app
) -> None:
    clock = Clock(NOW)
    settings = twilio_settings(chat_api_key=KEY, app_base_url=APP_URL)
    async with start_app(settings, clock=clock) as app:
        twilio.fail_next(503, times=3)  # the first try and both of the SDK's quick retries
        saved = await app.client.put(
            "/api/users/bob", json={"phone": BOB_PHONE, "smsOptIn": True}, headers=AUTH
        )
        assert saved.json()["verification"] == "code_sent" and twilio.messages == []
        clock.advance(seconds=10)
        await app.runtime.sender.deliver_due()

        async def texted() -> list[dict[str, Any]]:  # by this pass, or the app's own worker's beside it
            return list(twilio.messages)

        sent = await eventually(texted, until=bool, what="the retried code")
        code = re.search(r"\b(\d{6})\b", sent[-1]["body"])[1]
        verified = await app.client.post("/api/users/bob/verify", json={"code": code}, headers=AUTH)
    assert verified.status_code == 200 and verified.json()["phoneVerified"] is True
