"""Twilio webhooks: verify, record, enqueue, answer TwiML — no business logic and no LLM here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.twiml.messaging_response import MessagingResponse

from assistant.business import Business
from assistant.errors import OUTAGES
from assistant.http.bodies import read_body, replay
from assistant.http.forgery_limiter import ForgeryLimiter
from assistant.http.proxies import client_address
from assistant.http.signature import is_signed
from assistant.inbound import Inbound
from assistant.runtime import Runtime
from assistant.sender import Sender
from assistant.settings import Settings
from assistant.shaping import printable
from prompts.renderer import PromptRenderer
from storage.messages import InboundText

log = logging.getLogger(__name__)

MAX_MEDIA = 10
# Twilio's largest webhook (a 1,600-character text in percent-encoded UTF-8, 10 media URLs, every field) is
# well under this; a longer body is refused before it is parsed or checked.
MAX_BODY_BYTES = 64 * 1024


EMPTY_TWIML = str(MessagingResponse())  # built once: most answers are this


@dataclass(frozen=True, slots=True)
class Webhooks:
    """What the Twilio webhooks use, built once in the app's lifespan."""

    settings: Settings
    business: Business
    inbound: Inbound
    sender: Sender
    renderer: PromptRenderer
    forgeries: ForgeryLimiter

    @classmethod
    def of(cls, runtime: Runtime) -> Webhooks:
        settings = runtime.clients.settings
        forgeries = ForgeryLimiter(
            runtime.clients.redis,
            clock=runtime.clients.clock,
            limit=settings.webhook_forged_limit,
            window_seconds=settings.webhook_forged_window_seconds,
        )
        return cls(
            settings, runtime.clients.business, runtime.inbound, runtime.sender, runtime.renderer, forgeries
        )


def _state(request: Request) -> Webhooks:
    return request.app.state.webhooks  # type: ignore[no-any-return]


def twiml(response: MessagingResponse | None = None) -> Response:
    return Response(str(response) if response else EMPTY_TWIML, media_type="application/xml")


async def _form(request: Request, body: bytes) -> dict[str, str]:
    """The posted fields. Twilio posts URL-encoded forms, which the standard library parses fastest."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    form = await Request(request.scope, replay(body, request.receive)).form()
    return {key: str(value) for key, value in form.multi_items()}


async def _verified_form(request: Request) -> dict[str, str] | Response:
    """The webhook's form fields, or the 403 (413, 429) that refuses it."""
    hooks = _state(request)
    if not hooks.settings.twilio_enabled:
        return PlainTextResponse(
            "Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN", status_code=403
        )
    body = await read_body(request.receive, MAX_BODY_BYTES)
    if body is None:
        return await _refused(request, f"the request body must be at most {MAX_BODY_BYTES} bytes", 413)
    form = await _form(request, body)
    # A signed request is never counted nor limited: Twilio's traffic goes through whatever else its
    # address sends. Only refusals are counted, after the check (a few HMACs over a bounded body, no I/O).
    if not is_signed(request, form, hooks.settings):
        return await _refused(request, "bad or missing X-Twilio-Signature", 403)
    return form


async def _refused(request: Request, reason: str, status_code: int) -> Response:
    """Its own refusal for a request that is not Twilio's, or 429 once its address is over the limit on
    those (and nothing logged then: a flood would only fill the log)."""
    wait = await _state(request).forgeries.refuse(client_address(request))
    if wait:
        message = (
            f"too many webhook requests with a bad X-Twilio-Signature from this address; retry in {wait} s"
        )
        return PlainTextResponse(message, status_code=429, headers={"Retry-After": str(wait)})
    log.warning("refused a webhook at %s: %s", request.url.path, reason)
    return PlainTextResponse(reason, status_code=status_code)


# The longest value each column holds; Twilio's SIDs are 34 characters, its addresses far shorter.
LONGEST = {"MessageSid": 64, "From": 32, "To": 32, "MessageStatus": 24}


def _too_long(values: dict[str, str]) -> str | None:
    """Which field is longer than we can keep, said for the 400."""
    for field, value in values.items():
        if len(value) > LONGEST[field]:
            return f"{field} must be at most {LONGEST[field]} characters"
    return None


def inbound_from_form(form: dict[str, str]) -> InboundText | str:
    """The inbound text, or a message saying which field is wrong."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    if not sid:
        return "MessageSid is required"
    for field in ("From", "To"):
        if not form.get(field):
            return f"{field} is required"
    if wrong := _too_long({"MessageSid": sid, "From": form["From"], "To": form["To"]}):
        return wrong
    try:
        count = int(form.get("NumMedia", "0") or 0)
    except ValueError:
        return "NumMedia must be a number"
    if not 0 <= count <= MAX_MEDIA:
        return f"NumMedia must be between 0 and {MAX_MEDIA}"
    media = [
        {"url": form.get(f"MediaUrl{index}", ""), "content_type": form.get(f"MediaContentType{index}", "")}
        for index in range(count)
    ]
    return InboundText(
        sid=sid,
        from_number=form["From"],
        to_number=form["To"],
        body=printable(form.get("Body", "")),  # a NUL can't be stored, and controls only mislead
        media=media,
        opt_out_type=form.get("OptOutType") or None,
    )


async def inbound_sms(request: Request) -> Response:
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    text = inbound_from_form(form)
    if isinstance(text, str):
        return PlainTextResponse(text, status_code=400)
    hooks = _state(request)
    await hooks.inbound.accept(text)  # a STOP has taken effect before Twilio gets its 200
    return twiml()


async def status_callback(request: Request) -> Response:
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    sid, status = form.get("MessageSid"), form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        return PlainTextResponse("MessageSid and MessageStatus are required", status_code=400)
    if wrong := _too_long({"MessageSid": sid, "MessageStatus": status}):
        return PlainTextResponse(wrong, status_code=400)
    code = form.get("ErrorCode")
    error_code = int(code) if code and code.isdigit() else None
    hooks = _state(request)
    await hooks.sender.record_status(sid, status.lower(), error_code, form)
    return twiml()


async def fallback(request: Request) -> Response:
    """Twilio calls this when the primary URL failed: record the text if we can, apologise only if we can't,
    and never to a keyword (STOP) or an opted-out number."""
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    text = inbound_from_form(form)
    if isinstance(text, str):
        return PlainTextResponse(text, status_code=400)
    hooks = _state(request)
    try:
        await hooks.inbound.accept(text)
        return twiml()  # recorded and queued like any text: the assistant answers it itself
    except OUTAGES as exc:
        log.warning("fallback webhook could not record %s: %s", text.sid, exc)
    await hooks.inbound.park(text)
    if not await hooks.inbound.welcomes_apology(text):
        return twiml()
    response = MessagingResponse()
    response.message(await _apology(hooks))
    return twiml(response)


async def _apology(hooks: Webhooks) -> str:
    """The fallback template; the shipped one when staff's edit can't be read (it lives in the database)."""
    values = {"business": {"name": hooks.business.name, "phone": hooks.business.phone}}
    try:
        return await hooks.renderer.render("fallback", values)
    except OUTAGES:
        return hooks.renderer.render_source(await hooks.renderer.source.shipped("fallback"), values)


routes = [
    Route("/webhooks/twilio/sms", inbound_sms, methods=["POST"]),
    Route("/webhooks/twilio/status", status_callback, methods=["POST"]),
    Route("/webhooks/twilio/fallback", fallback, methods=["POST"]),
]
