"""The staff console and the phone simulator in a real browser: Playwright drives headless Chromium.

Skipped, with the reason, when the `playwright` package or Chromium is missing; `make test` installs both
where it can. Screenshots of the editor, a conversation and the simulator are saved under test-artifacts/.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.app import create_app
from storage.database import create_engine, session_factory
from storage.migrate import upgrade
from storage.staff import StaffAccounts
from tests.conftest import TEST_NOW, IsolatedSettings
from tests.emulators.server import free_port
from tests.support.clock import ManualClock
from tests.support.staff import PASSWORD, USERNAME

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install -e '.[test]')"
)
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CUSTOMER = "+14155550123"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The app on a free loopback port (embedded mode: SQLite, in-process Redis, the sandbox outbox)."""
    settings = IsolatedSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/console.db",
        redis_url="memory://",
        burst_window_seconds=0,
    )
    asyncio.run(_add_staff(settings.database_url))
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, clock=ManualClock(TEST_NOW)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


async def _add_staff(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    await StaffAccounts(session_factory(engine)).add(USERNAME, PASSWORD)
    await engine.dispose()


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)  # generous: a loaded machine is slow, never wrong
        playwright_api.expect.set_options(timeout=30_000)  # assertions wait as long (their default is 5 s)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def _sign_in(page: Any, path: str) -> None:
    page.goto(path)
    assert "/admin/login" in page.url
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")


def test_sign_in_edit_preview_and_see_the_reply_cancel_warning(page: Any) -> None:
    _sign_in(page, "/admin/prompts/system")
    editor = page.get_by_label("Template (Jinja2)")
    shipped = editor.input_value()
    assert shipped.startswith("You are the text-message assistant for {{ business.name }}")
    editor.fill(shipped + "\nIf they want to cancel, tell them: Reply CANCEL to cancel your booking.")
    page.get_by_role("button", name="Preview").click()

    preview = page.get_by_role("region", name="Preview")
    playwright_api.expect(preview).to_contain_text("You are the text-message assistant for Acme Fitness")
    playwright_api.expect(preview).to_contain_text("Name: Alex Sample")
    warning = page.locator(".warnings")
    playwright_api.expect(warning).to_contain_text(
        "“Reply CANCEL” tells the customer to reply with an opt-out word"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-editor.png"), full_page=True)

    page.get_by_label("Note for the history").fill("sign-off test")
    editor = page.get_by_label("Template (Jinja2)")
    editor.fill(shipped + "\nSign off as the Acme team.")
    page.get_by_role("button", name="Save new version").click()
    playwright_api.expect(page.get_by_role("status").first).to_contain_text("Saved as version")
    page.get_by_role("link", name="Versions and diffs").click()
    playwright_api.expect(page.locator(".diff .add").last).to_contain_text("+Sign off as the Acme team.")
    playwright_api.expect(page.get_by_text("“sign-off test”")).to_be_visible()


def test_take_over_a_conversation_and_reply(server: str, page: Any) -> None:
    with httpx.Client(base_url=server) as client:
        client.post(
            "/sandbox/messages", json={"from": CUSTOMER, "body": "how much is yoga?"}
        ).raise_for_status()
        _wait_for(client, lambda rows: any(row["direction"] == "outbound" for row in rows))

    _sign_in(page, "/admin/conversations")
    page.get_by_role("link", name=CUSTOMER).click()
    playwright_api.expect(page.get_by_role("heading", level=1)).to_contain_text(CUSTOMER)
    playwright_api.expect(page.locator(".bubble.inbound")).to_contain_text("how much is yoga?")
    page.get_by_role("button", name="Take over").click()
    playwright_api.expect(page.get_by_role("status").first).to_contain_text("You have taken over")

    page.get_by_label("Your reply").fill("Hi, this is Dana from Acme. Yoga is $20 a class.")
    page.get_by_role("button", name="Send reply").click()
    playwright_api.expect(page.get_by_role("status").first).to_contain_text("Reply sent")
    staff_bubble = page.locator(".bubble.staff").last
    playwright_api.expect(staff_bubble).to_contain_text("Hi, this is Dana from Acme.")
    playwright_api.expect(staff_bubble).to_contain_text("staff by dana")
    playwright_api.expect(staff_bubble).to_contain_text(re.compile(r"status: (sent|delivered)"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-conversation.png"), full_page=True)

    with httpx.Client(base_url=server) as client:
        rows = _wait_for(client, lambda rows: any("Dana from Acme" in row["body"] for row in rows))
    assert [row["body"] for row in rows if row["direction"] == "outbound"][-1].startswith("Hi, this is Dana")


def _wait_for(client: httpx.Client, done: Any) -> list[dict[str, Any]]:
    """The sandbox thread for the customer, once `done(rows)` holds."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = client.get("/sandbox/messages", params={"phone": CUSTOMER}).json()["messages"]
        if done(rows):
            return rows
        time.sleep(0.1)
    raise AssertionError("the sandbox thread never got there")


def test_the_simulator_starts_with_examples_and_answers_a_tapped_one(page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 780})  # a phone
    page.goto("/")
    assert page.url.endswith("/sandbox")
    playwright_api.expect(page.get_by_role("heading", level=1)).to_have_text("Texting Acme Fitness")
    playwright_api.expect(page.get_by_text("Text Acme Fitness as a customer would")).to_be_visible()
    playwright_api.expect(page.get_by_role("link", name="Staff console")).to_have_attribute("href", "/admin")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sandbox-empty.png"))

    page.get_by_label("From").fill("(415) 555-0166")
    page.get_by_role("button", name="What are your hours?").click()
    playwright_api.expect(page.locator(".bubble.inbound")).to_contain_text("What are your hours?")
    playwright_api.expect(page.locator(".bubble.outbound")).to_contain_text("Mon-Thu 6:00 AM-9:00 PM")
    playwright_api.expect(page.get_by_label("From")).to_have_value("+14155550166")
    page.screenshot(path=str(ARTIFACTS / "sandbox-thread.png"))

    page.get_by_role("button", name="Start over").click()
    playwright_api.expect(page.get_by_text("Text Acme Fitness as a customer would")).to_be_visible()
    assert page.get_by_label("From").input_value() != "+14155550166"

    page.get_by_label("From").fill("not a number")
    page.get_by_label("Message").fill("hello")
    page.get_by_role("button", name="Send").click()
    playwright_api.expect(page.get_by_role("alert")).to_contain_text("'not a number' is not a phone number")
