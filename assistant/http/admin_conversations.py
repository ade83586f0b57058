"""Console pages for conversations: the list, a thread, take over, reply, release, and the opt-out ledger."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from assistant.http.admin_console import Console, console_of, content_security_policy, page
from assistant.segments import count_segments, smart_encode
from assistant.sms.media import MAX_MEDIA, Media, MediaError
from storage.consent import to_csv
from storage.notices import APART_KINDS

E164 = re.compile(r"\+[1-9]\d{6,14}")
THREAD_LIMIT = 500
# The thread shows what staff attached as thumbnails: public https images (Twilio fetched them), so the
# page may load https images; everything else stays as strict as the rest of the console.
THREAD_CSP = content_security_policy(images="'self' data: https:")
# How each ledger entry came about, in staff's words.
SOURCES = {
    "keyword": "texted a keyword",
    "phrase": "texted a phrase that means it",
    "twilio_advanced_opt_out": "Twilio Advanced Opt-Out",
    "carrier_21610": "the carrier reported an opt-out (error 21610)",
    "api": "through the API",
    "staff": "by staff",
}


def _thread_url(phone: str, **query: str) -> str:
    suffix = "?" + "&".join(f"{key}={quote(value)}" for key, value in query.items()) if query else ""
    return f"/admin/conversations/{quote(phone)}{suffix}"


async def listing(request: Request) -> Response:
    console = console_of(request)
    rows = await console.inbox.conversations()
    held = await console.takeovers.active_phones()
    return page(request, "conversations.html", rows=rows, held=held)


async def thread(
    request: Request, *, status_code: int = 200, error: str = "", draft: str = "", media_draft: str = ""
) -> Response:
    console = console_of(request)
    phone = request.path_params["phone"]
    if not E164.fullmatch(phone):
        return page(request, "not_found.html", 404, what="conversation")
    texts = list(reversed(await console.messages.listing(phone=phone, limit=THREAD_LIMIT)))
    customer = await console.customers.by_phone(phone)
    if not texts and customer is None:
        return page(request, "not_found.html", 404, what="conversation")
    # Chat notifications to this number (and staff alerts) are listed on their own page, not in the thread.
    messages = [message for message in texts if message.kind not in APART_KINDS]
    notices = {
        "taken": "You have taken over: the assistant stays quiet for this number until you release it.",
        "released": "Released: the assistant answers this number again from the next text.",
        "sent": "Reply sent through the normal send path; its delivery status updates below.",
        "suppressed": "Not sent: this number has opted out, so nothing may be texted to it.",
        "failed": "The reply could not be handed to the SMS provider; see its status below.",
        "queued": "The SMS provider can't take the reply right now; it is retried automatically.",
    }
    response = page(
        request,
        "thread.html",
        status_code,
        phone=phone,
        customer=customer,
        messages=messages,
        apart=len(texts) - len(messages),
        bookings=await console.appointments.for_phone(phone, console.clock()),
        now=console.clock(),
        external=bool(console.settings.booking_api_url),
        takeover=await console.takeovers.active(phone),
        consent=await console.consent.cached_state(phone),
        notice=notices.get(request.query_params.get("done", ""), ""),
        error=error,
        draft=draft,
        media_draft=media_draft,
        max_media=MAX_MEDIA,
        budget=console.settings.segment_budget,
        minutes=console.settings.takeover_minutes,
    )
    response.headers["content-security-policy"] = THREAD_CSP
    return response


def _phone(request: Request) -> str | None:
    phone = request.path_params["phone"]
    return phone if E164.fullmatch(phone) else None


async def take_over(request: Request) -> Response:
    phone = _phone(request)
    if phone is None:
        return page(request, "not_found.html", 404, what="conversation")
    await console_of(request).takeovers.take(phone, request.state.staff)
    return RedirectResponse(_thread_url(phone, done="taken"), status_code=303)


async def release(request: Request) -> Response:
    phone = _phone(request)
    if phone is None:
        return page(request, "not_found.html", 404, what="conversation")
    await console_of(request).takeovers.release(phone, request.state.staff)
    return RedirectResponse(_thread_url(phone, done="released"), status_code=303)


async def reply(request: Request) -> Response:
    """Send a staff reply through the one send path; replying takes the conversation over."""
    phone = _phone(request)
    if phone is None:
        return page(request, "not_found.html", 404, what="conversation")
    console = console_of(request)
    form = await request.form()
    text = str(form.get("body", "")).strip()
    listed = str(form.get("media", "")).strip()
    urls = listed.split()  # one per line (a URL has no spaces)
    error = _reply_problem(text, console.settings.segment_budget, has_media=bool(urls))
    media: tuple[Media, ...] = ()
    if not error and urls:
        # Checked here, while staff are looking and before anything is written: each URL is asked for its
        # type and size, as Twilio will when it fetches them.
        try:
            media = await console.media.inspect(urls)
        except MediaError as exc:
            error = f"Can't attach that: {exc}."
    if error:
        return await thread(request, status_code=400, error=error, draft=text, media_draft=listed)
    if await console.consent.is_opted_out(phone):
        return RedirectResponse(_thread_url(phone, done="suppressed"), status_code=303)
    if await console.takeovers.active(phone) is None:
        await console.takeovers.take(phone, request.state.staff)
    done = await _send(console, phone, text, request.state.staff, media)
    return RedirectResponse(_thread_url(phone, done=done), status_code=303)


def _reply_problem(text: str, budget: int, *, has_media: bool = False) -> str:
    if not text and not has_media:
        return "Type a reply or attach an image first."
    # The send path cuts every text to the segment budget; a staff reply is refused instead of cut.
    segments = count_segments(smart_encode(text)).segments
    if segments > budget:
        return f"That reply is {segments} SMS segments; keep it to {budget} (SEGMENT_BUDGET) or fewer."
    return ""


async def _send(console: Console, phone: str, text: str, staff: str, media: tuple[Media, ...] = ()) -> str:
    customer = await console.customers.by_phone(phone)
    message = await console.sender.prepare(
        phone=phone,
        text=text,
        kind="staff",
        sender=await console.inbox.sender_for(phone),  # else their country's sender
        customer_id=customer.id if customer else None,
        details={"staff": staff},
        media=media,
    )
    await console.messages.add_outbound(message)
    delivery = await console.sender.deliver(message)
    # The model remembers what the customer got (as the record rebuilds it: words only).
    if delivery.reaches_customer and message.body:
        await console.transcript.add(phone, {"role": "assistant", "content": message.body})
    return delivery.outcome if delivery.outcome in ("sent", "suppressed", "queued") else "failed"


async def optouts(request: Request) -> Response:
    history = request.query_params.get("history") == "1"
    report = console_of(request).consent_report
    rows = await (report.entries() if history else report.states())
    return page(
        request, "optouts.html", rows=rows, history=history, counts=await report.counts(), sources=SOURCES
    )


async def optouts_csv(request: Request) -> Response:
    history = request.query_params.get("history") == "1"
    rows = await console_of(request).consent.export(history=history)
    name = "consent-history.csv" if history else "consent.csv"
    return Response(
        to_csv(rows, history=history),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


routes = [
    Route("/conversations", listing),
    Route("/conversations/{phone}", thread, methods=["GET"]),
    Route("/conversations/{phone}/takeover", take_over, methods=["POST"]),
    Route("/conversations/{phone}/release", release, methods=["POST"]),
    Route("/conversations/{phone}/reply", reply, methods=["POST"]),
    Route("/optouts", optouts),
    Route("/optouts.csv", optouts_csv),
]
