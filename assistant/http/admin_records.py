"""Read-only console pages: appointments, customers, and the chat notifications kept apart from them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from assistant.http.admin_console import console_of, page
from storage.appointments import VIEWS
from storage.notices import CHAT_KINDS, STAFF_KINDS

APPOINTMENT_LIMIT = 200
CUSTOMER_PAGE = 50
NOTICE_LIMIT = 100
# The notification policy's reasons, as staff would say them.
REASONS = {
    "sent": "texted",
    "not_opted_in": "has not opted in to texts",
    "no_phone": "no phone number",
    "phone_unverified": "phone not verified yet",
    "opted_out": "the number opted out",
    "recipient_online": "online in the app (or read it there)",
    "quiet_hours": "quiet hours where they are",
    "cooldown": "texted a moment ago (cooldown)",
    "hourly_cap": "hourly limit reached",
    "daily_cap": "daily limit reached",
    "send_failed": "the text could not be sent",
}


async def appointments(request: Request) -> Response:
    console = console_of(request)
    show = request.query_params.get("show", "upcoming")
    if show not in VIEWS:
        show = "upcoming"
    now = console.clock()
    return page(
        request,
        "appointments.html",
        show=show,
        counts=await console.appointments.counts(now),
        rows=await console.appointments.view(show, now, limit=APPOINTMENT_LIMIT),
        external=bool(console.settings.booking_api_url),
        now=now,
        zone=console.business.timezone,
    )


async def customers(request: Request) -> Response:
    console = console_of(request)
    search = request.query_params.get("q", "").strip()[:64]
    raw = request.query_params.get("page", "1")
    number = int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1
    rows, total = await console.customer_list.page(
        search, limit=CUSTOMER_PAGE, offset=(number - 1) * CUSTOMER_PAGE
    )
    first = (number - 1) * CUSTOMER_PAGE + 1 if rows else 0
    return page(
        request,
        "customers.html",
        rows=rows,
        total=total,
        search=search,
        number=number,
        first=first,
        last=first + len(rows) - 1 if rows else 0,
        more=(number * CUSTOMER_PAGE) < total,
        zone=console.business.timezone,
    )


async def notifications(request: Request) -> Response:
    notices = console_of(request).notices
    texts, texts_total = await notices.texts(CHAT_KINDS, limit=NOTICE_LIMIT)
    alerts, alerts_total = await notices.texts(STAFF_KINDS, limit=NOTICE_LIMIT)
    decisions, decisions_total = await notices.decisions(limit=NOTICE_LIMIT)
    return page(
        request,
        "notifications.html",
        texts=texts,
        texts_total=texts_total,
        alerts=alerts,
        alerts_total=alerts_total,
        decisions=decisions,
        decisions_total=decisions_total,
        reasons=REASONS,
    )


routes = [
    Route("/appointments", appointments),
    Route("/customers", customers),
    Route("/notifications", notifications),
]
