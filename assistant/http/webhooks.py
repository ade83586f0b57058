"""Twilio webhooks: verify, record, enqueue, answer TwiML — no business logic and no LLM here."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.twiml.messaging_response import MessagingResponse

from assistant.http.signature import is_signed
from assistant.runtime import Runtime
from storage.messages import InboundText

log = logging.getLogger(__name__)

MAX_MEDIA = 10


EMPTY_TWIML = str(MessagingResponse())  # built once: most answers are this


def twiml(response: MessagingResponse | None = None) -> Response:
    return Response(str(response) if response else EMPTY_TWIML, media_type="application/xml")


async def _form(request: Request) -> dict[str, str]:
    """The posted fields. Twilio posts URL-encoded forms, which the standard library parses fastest."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    return {key: str(value) for key, value in (await request.form()).multi_items()}


async def _verified_form(request: Request) -> dict[str, str] | Response:
    """The webhook's form fields, or the 403 that refuses it."""
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.twilio_enabled:
        return PlainTextResponse(
            "Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN", status_code=403
        )
    form = await _form(request)
    if not is_signed(request, form, runtime.settings):
        log.warning("refused a webhook with a bad or missing X-Twilio-Signature at %s", request.url.path)
        return PlainTextResponse("invalid X-Twilio-Signature", status_code=403)
    return form


def inbound_from_form(form: dict[str, str]) -> InboundText | str:
    """The inbound text, or a message saying which field is wrong."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    if not sid:
        return "MessageSid is required"
    for field in ("From", "To"):
        if not form.get(field):
            return f"{field} is required"
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
        body=form.get("Body", ""),
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
    runtime: Runtime = request.app.state.runtime
    await runtime.inbound.accept(text)  # a STOP has taken effect before Twilio gets its 200
    return twiml()


async def status_callback(request: Request) -> Response:
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    sid, status = form.get("MessageSid"), form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        return PlainTextResponse("MessageSid and MessageStatus are required", status_code=400)
    code = form.get("ErrorCode")
    error_code = int(code) if code and code.isdigit() else None
    runtime: Runtime = request.app.state.runtime
    await runtime.sender.record_status(sid, status.lower(), error_code, form)
    return twiml()


async def fallback(request: Request) -> Response:
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    runtime: Runtime = request.app.state.runtime
    apology = await runtime.renderer.render(
        "fallback", {"business": {"name": runtime.business.name, "phone": runtime.business.phone}}
    )
    response = MessagingResponse()
    response.message(apology)
    return twiml(response)


routes = [
    Route("/webhooks/twilio/sms", inbound_sms, methods=["POST"]),
    Route("/webhooks/twilio/status", status_callback, methods=["POST"]),
    Route("/webhooks/twilio/fallback", fallback, methods=["POST"]),
]
