"""The staff console and the phone simulator in a real browser: Playwright drives headless Chromium.

Skipped, with the reason, when the `playwright` package or Chromium is missing; `make test` installs both
where it can. Screenshots of the editor, a conversation and the simulator are saved under test-artifacts/.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from actions.booking_backend import BookingRequest
from assistant.app import create_app
from assistant.bookings.builtin import SqlBookingStore
from assistant.business import load_business
from storage.customers import CustomerDirectory
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
BEN, CARA, BOB = "+14155550124", "+14155550125", "+14155550188"
CHAT_KEY = "chat-browser-key"
PHONE_WIDTH, DESKTOP_WIDTH = 390, 1280
# Every page of the console, signed in; a page added later joins the screenshots by being listed here.
CONSOLE_PAGES = [
    "/admin/overview",
    "/admin/conversations",
    "/admin/conversations/%2B14155550123",
    "/admin/conversations/%2B14155550124",
    "/admin/appointments",
    "/admin/appointments?show=past",
    "/admin/appointments?show=cancelled",
    "/admin/customers",
    "/admin/customers?q=park",
    "/admin/notifications",
    "/admin/prompts",
    "/admin/prompts/system",
    "/admin/prompts/help/versions",
    "/admin/optouts",
    "/admin/optouts?history=1",
]
RAW_UTC = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\bUTC\b|\+00:00")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The app on a free loopback port (embedded mode: SQLite, in-process Redis, the sandbox outbox)."""
    settings = _settings(tmp_path)
    asyncio.run(_add_staff(settings.database_url))
    with _serving(settings) as url:
        yield url


@pytest.fixture
def console_server(tmp_path: Path) -> Iterator[str]:
    """The app with a business's worth of records in it: customers, appointments, chat users."""
    settings = _settings(tmp_path, chat_api_key=CHAT_KEY, app_base_url="https://chat.example.com")
    asyncio.run(_add_staff(settings.database_url))
    asyncio.run(_seed(settings))
    with _serving(settings) as url, httpx.Client(base_url=url) as client:
        _seed_texts(client)
        yield url


def _settings(tmp_path: Path, **more: Any) -> IsolatedSettings:
    return IsolatedSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/console.db",
        redis_url="memory://",
        burst_window_seconds=0,
        **more,
    )


@contextlib.contextmanager
def _serving(settings: IsolatedSettings) -> Iterator[str]:
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


async def _seed(settings: IsolatedSettings) -> None:
    """Customers, and appointments booked earlier: one past, one cancelled, one coming (all by staff)."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    business = load_business(settings.business_config)
    await CustomerDirectory(sessions, clock=ManualClock(TEST_NOW)).upsert(
        [
            {"phone": CUSTOMER, "name": "Alice Park", "tier": "gold", "timezone": "America/Chicago"},
            {"phone": BEN, "name": "Ben Ortiz"},
            {"phone": CARA, "name": "Cara Montgomery-Villanueva", "tier": "founding member"},
            *({"phone": f"+1415555{2000 + n}", "name": f"Walk-in {n}"} for n in range(6)),
        ]
    )
    earlier = SqlBookingStore(sessions, business, ManualClock(TEST_NOW - timedelta(days=3)))
    zone = business.zone
    await earlier.book(BookingRequest(BEN, "Spin", datetime(2026, 11, 22, 9, 0, tzinfo=zone)))
    kept = await earlier.book(
        BookingRequest(CARA, "Personal Training", datetime(2026, 11, 27, 9, tzinfo=zone))
    )
    await earlier.cancel(phone=CARA, appointment_id=kept.id)
    await earlier.book(BookingRequest(BEN, "Personal Training", datetime(2026, 11, 26, 7, 0, tzinfo=zone)))
    await engine.dispose()


def _seed_texts(client: httpx.Client) -> None:
    """Through the service's own doors: a booking by text, a call for staff, a STOP, a chat notification."""
    for phone, body in ((CUSTOMER, "book yoga tomorrow at 6pm"), (BEN, "AGENT"), (CARA, "STOP")):
        client.post("/sandbox/messages", json={"from": phone, "body": body}).raise_for_status()
        _wait_for(client, lambda rows: any(row["direction"] == "outbound" for row in rows), phone=phone)
    auth = {"Authorization": f"Bearer {CHAT_KEY}"}
    profile = {"name": "Bob Lee", "phone": BOB, "smsOptIn": True}
    client.put("/api/users/bob", json=profile, headers=auth).raise_for_status()
    client.put("/api/users/alice", json={"name": "Alice (chat)"}, headers=auth).raise_for_status()
    rows = _wait_for(client, lambda rows: bool(rows), phone=BOB)
    code = re.search(r"\b(\d{6})\b", rows[-1]["body"])[1]  # type: ignore[index]
    client.post("/api/users/bob/verify", json={"code": code}, headers=auth).raise_for_status()
    message = {
        "chatId": "c1",
        "senderId": "alice",
        "recipientId": "bob",
        "body": "Running 10 min late, sorry!",
    }
    posted = client.post("/api/messages", json=message, headers=auth)
    assert posted.json()["notification"]["status"] == "sent", posted.text


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    with _browser(server) as page:
        yield page


@pytest.fixture
def console_page(console_server: str) -> Iterator[Any]:
    with _browser(console_server) as page:
        yield page


@contextlib.contextmanager
def _browser(base_url: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
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


def _wait_for(client: httpx.Client, done: Any, phone: str = CUSTOMER) -> list[dict[str, Any]]:
    """The sandbox thread for the number, once `done(rows)` holds."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = client.get("/sandbox/messages", params={"phone": phone}).json()["messages"]
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


def test_every_console_page_fits_a_phone_and_shows_business_times(console_page: Any) -> None:
    page = console_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto("/admin/login")
    _shoot(page, "/admin/login")
    _sign_in(page, "/admin/prompts/help")
    page.get_by_label("Template (Jinja2)").fill(
        "Acme Fitness: reply STOP to opt out. Questions? Call +1 415 555 0100."
    )
    page.get_by_role("button", name="Save new version").click()  # so the versions page has a diff to show
    playwright_api.expect(page.get_by_role("status").first).to_contain_text("Saved as version")

    for path in CONSOLE_PAGES:
        _shoot(page, path)

    page.set_viewport_size({"width": DESKTOP_WIDTH, "height": 900})
    page.goto("/admin/appointments")
    upcoming = page.locator("tbody tr")
    playwright_api.expect(upcoming).to_have_count(2)
    playwright_api.expect(upcoming.first).to_contain_text("Wed Nov 25, 6:00 PM PST")
    playwright_api.expect(upcoming.first).to_contain_text("Alice Park")
    playwright_api.expect(upcoming.first).to_contain_text("by the assistant")
    page.get_by_role("link", name="Alice Park").first.click()
    playwright_api.expect(page.get_by_role("heading", level=1)).to_contain_text("Alice Park")
    playwright_api.expect(page.locator(".booking")).to_contain_text("Yoga")
    page.goto("/admin/conversations")
    playwright_api.expect(page.locator("tbody")).not_to_contain_text(BOB)
    page.goto("/admin/notifications")
    playwright_api.expect(page.locator("tbody").first).to_contain_text("Running 10 min late, sorry!")


def _shoot(page: Any, path: str) -> None:
    """Screenshots of a page at desktop and phone widths; at phone width nothing may scroll sideways."""
    name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
    for width in (DESKTOP_WIDTH, PHONE_WIDTH):
        page.set_viewport_size({"width": width, "height": 900 if width == DESKTOP_WIDTH else 844})
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        text = page.locator("body").inner_text()
        assert not RAW_UTC.search(text), f"{path} shows a raw UTC time: {RAW_UTC.search(text)[0]}"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        if width == PHONE_WIDTH:
            overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert overflow[0] <= overflow[1], f"{path} scrolls sideways at {width} px: {overflow}"
