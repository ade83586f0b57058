"""Native tool calls: the model calls the actions as tools, through the same guards as text tags."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=LA)  # a Monday morning
ALICE = "+14155550501"
BOB = "+14155550502"


def clock() -> datetime:
    return NOW


def _bodies(twilio, phone: str) -> list[str]:
    return [m["body"] for m in twilio.messages if m["to"] == phone]


def _call(name: str, arguments: str | dict[str, str]) -> dict[str, Any]:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"tool_calls": [{"name": name, "arguments": raw}]}


def _tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in request["messages"] if m.get("role") == "tool"]


async def _booked(app, phone: str | None = None) -> list[tuple[str, str, str]]:
    return [(b.phone, b.service, b.status) for b in await app.runtime.clients.bookings.listing(phone=phone)]


async def _say(app, phone: str, body: str) -> None:
    await app.text(body, phone=phone)
    await app.settle()


async def _alice_books(app, llm, service: str, start: str):
    """Alice books by a tool call; her one appointment."""
    llm.script([_call("SCHEDULE", {"service": service, "start": start}), "Booked!"])
    await _say(app, ALICE, f"{service} {start}")
    (booking,) = await app.runtime.clients.bookings.listing(phone=ALICE)
    return booking


async def test_the_model_books_with_a_tool_call_and_words_the_reply(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.script(
        [
            _call("SCHEDULE", {"service": "Yoga", "start": "2026-11-24T18:00"}),
            "See you at yoga tomorrow at 6!",
        ]
    )
    async with start_app(twilio_settings(), clock=clock) as app:
        await _say(app, ALICE, "yoga tomorrow 6pm please")
        booked = await _booked(app, ALICE)
        reply = (await app.runtime.messages.listing(phone=ALICE, limit=1))[0]
    first, second = llm.requests[:2]
    offered = {tool["function"]["name"]: tool["function"] for tool in first["tools"]}
    assert "CONFIRM" not in offered and offered["SCHEDULE"]["parameters"]["required"] == ["service", "start"]
    assert _tool_results(second) == [
        {"ok": True, "message": "Booked: Yoga, Tue Nov 24 6:00 PM (#1).", "appointment": "1"}
    ]
    assert booked == [(ALICE, "Yoga", "booked")]
    assert _bodies(twilio, ALICE) == ["See you at yoga tomorrow at 6! Reply STOP to opt out."]
    # The console and the logs show the action as a tag, whichever way it was asked for.
    assert reply.details["actions"][0]["name"] == "SCHEDULE" and reply.details["actions"][0]["ok"]


async def test_a_malformed_call_runs_nothing_and_the_model_hears_why(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.script(
        [_call("SCHEDULE", '{"service": "Yoga", "start": '), "Sorry, which day and time would you like?"]
    )
    async with start_app(twilio_settings(), clock=clock) as app:
        await _say(app, ALICE, "book yoga")
        booked = await _booked(app, ALICE)
    assert booked == []
    assert _tool_results(llm.requests[1]) == [
        {"ok": False, "message": "", "error": "arguments must be a JSON object"}
    ]
    assert _bodies(twilio, ALICE)[0].startswith("Sorry, which day and time would you like?")


async def test_an_invalid_or_unknown_call_is_refused_by_the_registry(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.script(
        [
            {
                "tool_calls": [
                    {"name": "SCHEDULE", "arguments": json.dumps({"service": "Yoga", "start": "tomorrow"})},
                    {"name": "REFUND", "arguments": json.dumps({"amount": "500"})},
                ]
            },
            "Which time tomorrow would you like?",
        ]
    )
    async with start_app(twilio_settings(), clock=clock) as app:
        await _say(app, ALICE, "book yoga tomorrow and refund me")
        booked = await _booked(app, ALICE)
    results = _tool_results(llm.requests[1])
    assert booked == [] and [result["ok"] for result in results] == [False, False]
    assert "start must look like" in results[0]["error"] and results[1]["error"] == "unknown action REFUND"


async def test_a_call_for_another_customers_appointment_is_refused(
    twilio, llm, twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings(), clock=clock) as app:
        alices = await _alice_books(app, llm, "Yoga", "2026-11-24T18:00")
        llm.script([_call("CANCEL", {"appointment": alices.id}), "Done, it's cancelled!", "OK."])
        await _say(app, BOB, f"cancel appointment {alices.id}")
        await _say(app, BOB, "YES")
        after = await _booked(app)
    (result,) = _tool_results(llm.requests[3])
    assert result["ok"] is False and result["reason"] == "not_found"
    assert after == [(ALICE, "Yoga", "booked")]
    assert not any("Reply YES" in body or "Cancelled" in body for body in _bodies(twilio, BOB))


async def test_cancelling_by_tool_asks_yes_in_the_handlers_words_and_yes_cancels(
    twilio, llm, twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings(), clock=clock) as app:
        mine = await _alice_books(app, llm, "Spin", "2026-11-24T07:00")
        llm.script([_call("CANCEL", {"appointment": mine.id}), "I've cancelled it for you!"])
        await _say(app, ALICE, "cancel my spin")
        asked = _bodies(twilio, ALICE)[-1]
        still = await _booked(app, ALICE)
        await _say(app, ALICE, "yes")
        after = await _booked(app, ALICE)
    assert asked == f"Reply YES to cancel Spin, Tue Nov 24 7:00 AM (#{mine.id})."  # never "I've cancelled it"
    assert still == [(ALICE, "Spin", "booked")] and after == [(ALICE, "Spin", "cancelled")]
    assert _bodies(twilio, ALICE)[-1].startswith("Cancelled: Spin")


async def test_a_model_that_keeps_calling_tools_is_made_to_answer(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.script([_call("INFO", {"topic": "hours"})] * 3 + ["We're open 6 AM to 9 PM on weekdays."])
    async with start_app(twilio_settings(), clock=clock) as app:
        await _say(app, ALICE, "when are you open?")
    assert len(llm.requests) == 4 and llm.requests[-1]["tool_choice"] == "none"
    assert _bodies(twilio, ALICE)[0].startswith("We're open 6 AM to 9 PM")


async def test_an_endpoint_without_tools_gets_text_tags_from_then_on(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.refuse_tools = True
    llm.script(['[ACTION:SCHEDULE service="Yoga" start="2026-11-24T18:00"]', "You're welcome!"])
    async with start_app(twilio_settings(), clock=clock) as app:
        await _say(app, ALICE, "yoga tomorrow 6pm")
        await _say(app, ALICE, "thanks")
        booked = await _booked(app, ALICE)
    assert booked == [(ALICE, "Yoga", "booked")]
    assert [("tools" in request) for request in llm.requests] == [True, False, False]
    assert _bodies(twilio, ALICE)[0].startswith("Booked: Yoga, Tue Nov 24 6:00 PM")


async def test_with_tools_off_none_are_offered(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with("We're open 6 AM to 9 PM.")
    async with start_app(twilio_settings(llm_tools="off"), clock=clock) as app:
        await _say(app, ALICE, "when are you open?")
    assert "tools" not in llm.requests[0]
