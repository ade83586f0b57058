"""The staff console's conversations: the list, a thread, take over, reply, release, opt-outs, playground."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.staff import form_token, signed_in

CUSTOMER = "+14155550123"
THREAD = "/admin/conversations/%2B14155550123"


async def test_the_list_puts_numbers_needing_staff_first_then_newest(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("Sure thing.")
    async with start_app(twilio_settings()) as app:
        for phone, text in (
            ("+14155550101", "hello"),
            ("+14155550102", "AGENT"),  # asks for a person: flagged
            ("+14155550103", "STOP"),
            ("+14155550104", "what time is it"),
        ):
            await app.text(text, phone=phone)
            await app.settle()  # one at a time, so "newest" is well defined
        await signed_in(app)
        page = (await app.client.get("/admin/conversations")).text

    order = re.findall(r"<a href=\"/admin/conversations/%2B\d+\">(\+\d+)</a>", page)
    assert order == ["+14155550102", "+14155550104", "+14155550103", "+14155550101"]
    flagged_row = page.split("+14155550102</a>")[1].split("</tr>")[0]
    assert "needs staff" in flagged_row and "asked for a person (AGENT)" in flagged_row
    stop_row = page.split("+14155550103</a>")[1].split("</tr>")[0]
    assert "opted out" in stop_row
    assert "Sure thing." in page


async def test_take_over_reply_and_release(twilio, llm, twilio_settings, start_app) -> None:
    llm.reply_with("The bot says hi.")
    async with start_app(twilio_settings()) as app:
        await app.text("hi")
        await app.settle()
        csrf = await signed_in(app)
        taken = await app.client.post(f"{THREAD}/takeover", data={"csrf_token": csrf})
        assert taken.status_code == 303
        asked = len(llm.requests)

        await app.text("can a person help me?")
        await app.settle()
        assert len(llm.requests) == asked and len(twilio.messages) == 1  # the bot stayed quiet
        page = (await app.client.get(THREAD)).text
        assert "can a person help me?" in page and "for staff (taken over)" in page
        assert "taken over</span> by dana" in page

        sent = await app.client.post(
            f"{THREAD}/reply", data={"csrf_token": csrf, "body": "Hi, this is Dana."}
        )
        assert sent.status_code == 303 and "done=sent" in sent.headers["location"]
        assert [m["body"] for m in twilio.messages][-1] == "Hi, this is Dana."
        sid = twilio.messages[-1]["sid"]
        await app.twilio_post(
            "/webhooks/twilio/status", {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC"}
        )
        page = (await app.client.get(THREAD)).text
        staff_bubble = page.split("Hi, this is Dana.")[1].split("</div>")[0]
        assert "staff by dana" in staff_bubble and "status: <strong>delivered</strong>" in staff_bubble

        released = await app.client.post(f"{THREAD}/release", data={"csrf_token": csrf})
        assert released.status_code == 303
        await app.text("thanks!")
        await app.settle()
        assert twilio.messages[-1]["body"] == "The bot says hi."
        history = llm.requests[-1]["messages"]
        assert {
            "role": "assistant",
            "content": "Hi, this is Dana.",
        } in history  # the model sees what staff said


async def test_a_takeover_ends_by_itself_after_the_configured_time(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("Back to the bot.")
    now = [datetime(2026, 11, 23, 15, 0, tzinfo=UTC)]
    async with start_app(twilio_settings(takeover_minutes=30), clock=lambda: now[0]) as app:
        csrf = await signed_in(app)
        await app.text("hello")
        await app.settle()
        await app.client.post(f"{THREAD}/takeover", data={"csrf_token": csrf})
        await app.text("anyone?")
        await app.settle()
        assert len(twilio.messages) == 1
        now[0] += timedelta(minutes=31)
        await app.text("hello again")
        await app.settle()
        assert twilio.messages[-1]["body"] == "Back to the bot."


async def test_staff_cannot_text_a_number_that_opted_out(twilio, llm, twilio_settings, start_app) -> None:
    async with start_app(twilio_settings()) as app:
        await app.text("STOP")
        await app.settle()
        csrf = await signed_in(app)
        before = len(twilio.messages)
        response = await app.client.post(
            f"{THREAD}/reply", data={"csrf_token": csrf, "body": "Please come back"}
        )
        assert "done=suppressed" in response.headers["location"]
        assert len(twilio.messages) == before
        page = (await app.client.get(response.headers["location"])).text
        assert "this number has opted out" in page


async def test_a_reply_longer_than_the_segment_budget_is_refused_not_cut(
    twilio, llm, twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings()) as app:
        await app.text("hi")
        await app.settle()
        csrf = await signed_in(app)
        before = len(twilio.messages)
        response = await app.client.post(f"{THREAD}/reply", data={"csrf_token": csrf, "body": "word " * 100})
        assert response.status_code == 400 and "4 SMS segments" in response.text
        assert len(twilio.messages) == before


async def test_the_opt_out_page_and_its_csv(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await app.client.post("/sandbox/messages", json={"from": CUSTOMER, "body": "STOP"})
        await app.settle()
        await signed_in(app)
        page = await app.client.get("/admin/optouts")
        assert "+14155550123" in page.text and "opted out" in page.text
        export = await app.client.get("/admin/optouts.csv?history=1")
        assert export.headers["content-type"].startswith("text/csv")
        assert "attachment" in export.headers["content-disposition"]
        header, row = export.text.splitlines()[:2]
        assert header.startswith("id,phone,scope,event") and "+14155550123" in row and "opt_out" in row


async def test_the_playground_answers_without_texting_or_booking(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with(
        'Booked you in! [ACTION:SCHEDULE service="Yoga" start="2026-12-01T18:00"] [ACTION:INFO topic="hours"]'
    )
    async with start_app(twilio_settings()) as app:
        await signed_in(app)
        editor = await app.client.get("/admin/prompts/system")
        shipped = await app.runtime.renderer.source.shipped("system")
        response = await app.client.post(
            "/admin/prompts/system/playground",
            data={
                "csrf_token": form_token(editor.text),
                "body": shipped + "\nPLAYGROUND MARKER",
                "message": "book yoga tuesday 6pm",
                "phone": "+15005550001",
            },
        )
        rows = await app.runtime.messages.listing()
        appointments = await app.runtime.clients.bookings.upcoming(
            phone="+15005550001", now=app.runtime.clients.clock()
        )

    assert response.status_code == 200
    assert llm.requests[-1]["messages"][0]["content"].endswith("PLAYGROUND MARKER")
    assert llm.requests[-1]["messages"][-1] == {"role": "user", "content": "book yoga tuesday 6pm"}
    page = response.text
    # SCHEDULE's own answer as a real run would word it; INFO is read-only, so it ran.
    assert "Booked you in! Booked: Yoga, Tue Dec 1 6:00 PM. Our hours: Mon-Thu 6:00 AM-9:00 PM" in page
    assert "would run with" in page and "service=“Yoga”" in page and "text tags" in page
    assert "Reply STOP to opt out." in page  # what a first text really carries
    assert "segment" in page and "Nothing was sent or booked" in page
    assert twilio.messages == [] and rows == [] and appointments == []


async def test_the_playground_shows_native_tool_calls_and_what_each_returned(
    twilio, llm, twilio_settings, start_app
) -> None:
    call = {"name": "SCHEDULE", "arguments": '{"service": "Yoga", "start": "2026-12-01T18:00"}'}
    llm.script([{"tool_calls": [call]}, "You're booked for yoga on Tuesday at 6!"])
    async with start_app(twilio_settings()) as app:
        await signed_in(app)
        editor = await app.client.get("/admin/prompts/system")
        response = await app.client.post(
            "/admin/prompts/system/playground",
            data={
                "csrf_token": form_token(editor.text),
                "body": await app.runtime.renderer.source.shipped("system"),
                "message": "book yoga tuesday 6pm",
                "phone": "+15005550001",
            },
        )
        appointments = await app.runtime.clients.bookings.listing(phone="+15005550001")
    page = html.unescape(response.text)
    assert "native tool calls" in page and "would run with" in page and "service=“Yoga”" in page
    assert "the model was told: “Booked: Yoga, Tue Dec 1 6:00 PM.”" in page
    assert "You're booked for yoga on Tuesday at 6!" in page
    assert '[ACTION:SCHEDULE service="Yoga" start="2026-12-01T18:00"]' in page  # shown as a tag
    assert twilio.messages == [] and appointments == []


@pytest.mark.parametrize("command", [["staff"], ["staff", "add"], ["staff", "list"], ["staff", "remove"]])
def test_staff_commands_have_help(tmp_path: Path, command: list[str]) -> None:
    result = run([*command, "--help"], tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage: sms-assistant")


def test_staff_accounts_from_the_command_line(tmp_path: Path) -> None:
    added = run(["staff", "add", "sam", "--password-stdin"], tmp_path, "a long enough password\n")
    assert added.returncode == 0 and added.stdout.strip() == "added sam"
    again = run(["staff", "add", "sam", "--password-stdin"], tmp_path, "another password\n")
    assert again.returncode == 1 and "already a staff member called 'sam'" in again.stderr
    weak = run(["staff", "add", "kim", "--password-stdin"], tmp_path, "short\n")
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    listed = run(["staff", "list"], tmp_path)
    assert listed.stdout.startswith("sam\t") and "last sign-in never" in listed.stdout
    assert run(["staff", "remove", "sam"], tmp_path).returncode == 0
    assert run(["staff", "remove", "sam"], tmp_path).returncode == 1
    assert "sam" not in run(["staff", "list"], tmp_path).stdout


def run(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it, in a fresh directory (so on a fresh embedded database)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
