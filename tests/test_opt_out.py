"""STOP wins on every path: keywords, plain-language revocation, Twilio and carrier opt-outs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.messages import InboundText
from storage.tables import Message
from tests.conftest import BUSINESS_NUMBER
from tests.support.waiting import eventually

OPT_OUT_SPELLINGS = [
    "STOP",
    "stop",
    "  Stop  ",
    "STOP.",
    "Stop!",
    "Cancel",
    "quit",
    "opt out",
    "arrêt",
    "STOPP",
    "Unsubscribe",
    "END",
    "revoke",
    "optout",
    "stopall",
    "¡Baja!",
    "ＳＴＯＰ",
    "stop 🛑",
]


def _bodies(twilio, phone: str) -> list[str]:
    return [message["body"] for message in twilio.messages if message["to"] == phone]


@pytest.mark.parametrize("spelling", OPT_OUT_SPELLINGS)
async def test_every_opt_out_spelling_gets_one_confirmation_then_silence(
    spelling, twilio, llm, twilio_settings, start_app
) -> None:
    phone = "+14155550301"
    async with start_app(twilio_settings()) as app:
        await app.text(spelling, phone=phone)
        await app.settle()
        await app.text("hello? are you there?", phone=phone)
        await app.text(spelling, phone=phone)  # a second STOP gets no second confirmation
        await app.settle()
    bodies = _bodies(twilio, phone)
    assert len(bodies) == 1, bodies
    # In the language of the word they used: English, Spanish, French or German.
    confirmations = ("no more texts", "no recibiras mas mensajes", "ne recevrez plus", "keine SMS mehr")
    assert "Acme Fitness" in bodies[0] and any(words in bodies[0] for words in confirmations), bodies
    assert any(word in bodies[0] for word in ("START", "ALTA", "DEMARRER", "STARTEN"))
    assert llm.requests == []


@pytest.mark.parametrize("keyword", ["START", "unstop", "Yes"])
async def test_opting_back_in_brings_the_conversation_back(
    keyword, twilio, llm, twilio_settings, start_app
) -> None:
    phone = "+14155550302"
    llm.reply_with("Yoga is $20.")
    async with start_app(twilio_settings()) as app:
        for body in ("STOP", keyword, "how much is yoga?"):
            await app.text(body, phone=phone)
            await app.settle()
    bodies = _bodies(twilio, phone)
    assert len(bodies) == 3
    assert "Welcome back" in bodies[1] and "Msg&data rates may apply" in bodies[1] and "STOP" in bodies[1]
    assert bodies[2] == "Yoga is $20."
    assert [m["content"] for m in llm.requests[0]["messages"][1:]] == ["how much is yoga?"]


async def test_yes_from_a_subscribed_number_is_conversation(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with("Great, see you then!")
    async with start_app(twilio_settings()) as app:
        await app.text("yes", phone="+14155550303")
        await app.settle()
    assert len(llm.requests) == 1 and llm.requests[0]["messages"][-1]["content"] == "yes"


@pytest.mark.parametrize("keyword", ["HELP", "info", "Help!"])
async def test_help_answers_without_the_llm(keyword, twilio, llm, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings()) as app:
        await app.text(keyword, phone="+14155550304")
        await app.settle()
    (body,) = _bodies(twilio, "+14155550304")
    assert "Acme Fitness" in body and "STOP" in body and "+1 415 555 0100" in body
    assert llm.requests == []


@pytest.mark.parametrize(
    ("keywords", "replies"),
    [
        (("AYUDA", "BAJA", "ALTA"), ("escribenos", "Te has dado de baja", "Bienvenido de nuevo")),
        (("AIDE", "ARRET", "DEMARRER"), ("écrivez-nous", "désabonné", "bon retour")),
        (("HILFE", "STOPP", "STARTEN"), ("Schreiben Sie uns", "Sie sind abgemeldet", "Willkommen zurück")),
    ],
)
async def test_help_stop_and_start_are_answered_in_the_language_they_were_texted_in(
    keywords, replies, twilio, llm, twilio_settings, start_app
) -> None:
    phone = "+14155550306"
    async with start_app(twilio_settings()) as app:
        for keyword in keywords:
            await app.text(keyword, phone=phone)
            await app.settle()
    bodies = _bodies(twilio, phone)
    assert len(bodies) == 3 and llm.requests == []
    assert all(expected in body for expected, body in zip(replies, bodies, strict=True)), bodies
    assert "Acme Fitness" in bodies[0] and "+1 415 555 0100" in bodies[0]


async def test_stopping_by_is_conversation(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with("Sure, come by any time we're open!")
    async with start_app(twilio_settings()) as app:
        await app.text("I want to stop by the studio", phone="+14155550305")
        await app.settle()
    assert len(llm.requests) == 1
    assert _bodies(twilio, "+14155550305")[0].startswith("Sure, come by any time")


async def test_plain_language_revocation_never_reaches_the_llm(
    twilio, llm, twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings()) as app:
        await app.text("please stop texting me", phone="+14155550306")
        await app.settle()
        await app.text("how do I unsubscribe?", phone="+14155550307")
        await app.settle()
        assert await app.runtime.consent.is_opted_out("+14155550306")
        assert not await app.runtime.consent.is_opted_out("+14155550307")
    assert llm.requests == []
    assert "no more texts" in _bodies(twilio, "+14155550306")[0]
    assert "reply STOP" in _bodies(twilio, "+14155550307")[0]


async def test_advanced_opt_out_is_recorded_and_we_stay_silent(
    twilio, llm, twilio_settings, start_app
) -> None:
    phone = "+14155550308"
    async with start_app(twilio_settings()) as app:
        await app.text("STOP", phone=phone, OptOutType="STOP")
        await app.settle()
        assert await app.runtime.consent.is_opted_out(phone)
        await app.text("START", phone=phone, OptOutType="START")
        await app.settle()
        assert not await app.runtime.consent.is_opted_out(phone)
        history = await app.runtime.consent.export(history=True)
    assert twilio.messages == [] and llm.requests == []
    assert [(row["event"], row["source"]) for row in history] == [
        ("opt_out", "twilio_advanced_opt_out"),
        ("opt_in", "twilio_advanced_opt_out"),
    ]


async def test_a_21610_on_send_opts_the_number_out(twilio, llm, twilio_settings, start_app) -> None:
    phone = "+14155550309"
    twilio.reject(to=phone, code=21610)
    llm.reply_with("Hi!")
    async with start_app(twilio_settings()) as app:
        await app.text("hello", phone=phone)
        await app.settle()
        assert await app.runtime.consent.is_opted_out(phone)
        reply = (await app.runtime.messages.listing(phone=phone, limit=1))[0]
        assert (reply.status, reply.error_code) == ("failed", 21610)
        ledger = await app.runtime.consent.export(history=True)
    assert ledger[-1]["source"] == "carrier_21610"
    assert len([r for r in twilio.requests if r.get("To") == phone]) == 1  # not retried


async def test_a_21610_status_callback_opts_the_number_out(twilio, llm, twilio_settings, start_app) -> None:
    phone = "+14155550310"
    llm.reply_with("Hi!")
    async with start_app(twilio_settings()) as app:
        await app.text("hello", phone=phone)
        await app.settle()
        sid = twilio.messages[0]["sid"]
        params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "21610"}
        assert (await app.twilio_post("/webhooks/twilio/status", params)).status_code == 200
        assert await app.runtime.consent.is_opted_out(phone)


async def test_a_replayed_21610_callback_does_not_undo_a_later_start(
    twilio, llm, twilio_settings, start_app, clock
) -> None:
    phone = "+14155550312"
    llm.reply_with("Hi!")
    async with start_app(twilio_settings()) as app:
        await app.text("hello", phone=phone)
        await app.settle()
        params = {
            "MessageSid": twilio.messages[0]["sid"],
            "MessageStatus": "undelivered",
            "ErrorCode": "21610",
        }
        await app.twilio_post("/webhooks/twilio/status", params)
        clock.advance(minutes=5)
        await app.text("START", phone=phone)
        await app.settle()
        replayed = await app.twilio_post("/webhooks/twilio/status", params)  # Twilio retries, or an attacker
        opted_out = await app.runtime.consent.is_opted_out(phone)
        events = await app.runtime.outbox.events_for(params["MessageSid"])
    assert replayed.status_code == 200
    assert not opted_out
    assert len(events) == 1


async def test_callbacks_for_an_unknown_sid_are_kept_once(twilio, llm, twilio_settings, start_app) -> None:
    sid = "SM" + "e" * 32
    async with start_app(twilio_settings()) as app:
        params = {"MessageSid": sid, "MessageStatus": "delivered"}
        answers = [await app.twilio_post("/webhooks/twilio/status", params) for _ in range(3)]
        events = await app.runtime.outbox.events_for(sid)
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len(events) == 1


async def test_a_reply_queued_before_stop_is_not_sent_after_it(
    twilio, llm, twilio_settings, start_app
) -> None:
    phone = "+14155550311"
    async with start_app(twilio_settings()) as app:
        await app.text("hi", phone=phone)
        await app.settle()  # the worker is running and past its start-up recovery
        # ...and done with every job for this number (start-up recovery queued it again too): a job still
        # waiting would answer the STOP below itself, racing this test.
        await eventually(app.runtime.queue.depth, until=lambda depth: depth == (0, 0), what="the queue")
        queued = await app.runtime.messages.add_outbound(
            Message(
                direction="outbound",
                kind="reminder",
                phone=phone,
                from_number=BUSINESS_NUMBER,
                to_number=phone,
                body="Your class starts soon!",
                status="pending",
            )
        )
        await app.runtime.messages.record_inbound(
            InboundText(
                sid="SM" + "5" * 32, from_number=phone, to_number=BUSINESS_NUMBER, body="STOP", media=[]
            )
        )
        await app.runtime.conversation.answer(await app.runtime.messages.pending_turn(phone))
        delivered = await app.runtime.sender.deliver(queued)
        stored = await app.runtime.messages.get(queued.id)
    assert delivered.outcome == "suppressed" and stored.status == "suppressed"
    assert [body for body in _bodies(twilio, phone) if "class starts" in body] == []
    assert "no more texts" in _bodies(twilio, phone)[-1]


async def test_stop_takes_effect_before_the_webhook_answers_and_is_confirmed_once(
    twilio, llm, twilio_settings, start_app, clock
) -> None:
    phone = "+14155550312"
    # A wide burst window on a clock that stands still: no worker turn runs until the test moves time.
    async with start_app(twilio_settings(burst_window_seconds=5)) as app:
        answers = [await app.text("STOP", phone=phone, sid="SM" + "6" * 32) for _ in range(2)]  # a retry
        opted_out_at_once = await app.runtime.consent.is_opted_out(phone)
        texts_by_then = len(twilio.messages)
        clock.advance(seconds=5)
        await app.settle()
        # The confirmation's SID is tied to the ledger entry just after Twilio accepted it.
        ledger = await eventually(
            lambda: app.runtime.consent.export(history=True),
            until=lambda rows: bool(rows and rows[0]["confirmation_sid"]),
            what="the confirmation's SID in the ledger",
        )

    assert [answer.status_code for answer in answers] == [200, 200]
    assert opted_out_at_once and texts_by_then == 0  # in effect before any worker looked at it
    assert [(row["event"], row["inbound_sid"]) for row in ledger] == [("opt_out", "SM" + "6" * 32)]
    (confirmation,) = _bodies(twilio, phone)
    assert "no more texts" in confirmation
    assert ledger[0]["confirmation_sid"] == twilio.messages[0]["sid"]


async def test_a_chat_message_a_moment_after_stop_is_not_texted(
    twilio, twilio_settings, start_app, clock
) -> None:
    phone, key = "+14155550313", "chat-key"
    auth = {"Authorization": f"Bearer {key}"}
    async with start_app(twilio_settings(chat_api_key=key, burst_window_seconds=5)) as app:
        profile = {"name": "Bob", "phone": phone, "smsOptIn": True}
        await app.client.put("/api/users/bob", json=profile, headers=auth)
        code = re.search(r"\b(\d{6})\b", _bodies(twilio, phone)[-1])[1]
        await app.client.post("/api/users/bob/verify", json={"code": code}, headers=auth)
        await app.text("STOP", phone=phone)
        clock.advance(seconds=0.1)  # 100 ms later; the worker has not run the STOP's turn yet
        posted = await app.client.post(
            "/api/messages",
            json={"chatId": "c1", "senderId": "alice", "recipientId": "bob", "body": "hi Bob"},
            headers=auth,
        )
        texts_by_then = len(twilio.messages)
        clock.advance(seconds=5)
        await app.settle()

    assert posted.json()["notification"] == {"status": "skipped", "reason": "opted_out"}
    assert texts_by_then == 1  # just the verification code
    assert ["no more texts" in body for body in _bodies(twilio, phone)[1:]] == [True]


async def test_the_first_text_carries_the_stop_disclosure_once(
    twilio, llm, twilio_settings, start_app
) -> None:
    phone = "+14155550312"
    llm.script(["Hi there!", "Yoga is $20."])
    async with start_app(twilio_settings()) as app:
        await app.text("hi", phone=phone)
        await app.settle()
        await app.text("price of yoga?", phone=phone)
        await app.settle()
    assert _bodies(twilio, phone) == ["Hi there! Reply STOP to opt out.", "Yoga is $20."]


async def test_a_bot_loop_is_stopped_and_flagged(twilio, llm, twilio_settings, start_app) -> None:
    phone = "+14155550313"
    llm.reply_with("Thanks for your message!")
    async with start_app(twilio_settings(repeat_text_limit=2)) as app:
        for _ in range(4):
            await app.text("Auto-reply: I am away from my desk", phone=phone)
            await app.settle()
        customer = await app.runtime.customers.by_phone(phone)
    assert len(_bodies(twilio, phone)) == 2
    assert customer.needs_staff and "same text" in customer.needs_staff_reason


async def test_reply_cap_per_window(twilio, llm, twilio_settings, start_app) -> None:
    phone = "+14155550314"
    llm.reply_with("ok")
    async with start_app(twilio_settings(auto_reply_limit=3)) as app:
        for n in range(5):
            await app.text(f"question {n}", phone=phone)
            await app.settle()
    assert len(_bodies(twilio, phone)) == 3


def _cli(args: list[str], cwd: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("TWILIO_", "OPENAI_"))
    }
    environment["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "assistant", "optouts", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_export_and_verify_the_ledger(twilio, llm, twilio_settings, start_app, tmp_path) -> None:
    settings = twilio_settings()
    async with start_app(settings) as app:
        await app.text("STOP", phone="+14155550321")
        await app.text("please stop texting me", phone="+14155550322")
        await app.settle()
        await app.runtime.consent.record("+14155550323", "opt_out", source="carrier_21610", matched="21610")

    exported = await asyncio.to_thread(_cli, ["export", "--format", "json"], tmp_path, settings.database_url)
    rows = {row["phone"]: row for row in json.loads(exported.stdout)}
    assert {phone: (row["state"], row["source"], row["keyword"]) for phone, row in rows.items()} == {
        "+14155550321": ("opted_out", "keyword", "STOP"),
        "+14155550322": ("opted_out", "phrase", rows["+14155550322"]["keyword"]),
        "+14155550323": ("opted_out", "carrier_21610", "21610"),
    }
    assert all(row["at"] for row in rows.values())
    csv = await asyncio.to_thread(_cli, ["export", "--history"], tmp_path, settings.database_url)
    assert csv.stdout.splitlines()[0].startswith("id,phone,scope,event,source")

    verified = await asyncio.to_thread(_cli, ["verify"], tmp_path, settings.database_url)
    assert verified.returncode == 0 and "3 entries" in verified.stdout
    async with start_app(settings) as app, app.runtime.clients.engine.begin() as connection:
        await connection.execute(
            text("UPDATE consent_events SET raw_text = 'START' WHERE phone = '+14155550321'")
        )
    tampered = await asyncio.to_thread(_cli, ["verify"], tmp_path, settings.database_url)
    assert tampered.returncode == 1 and "TAMPERED" in tampered.stderr
