"""The phone simulator (embedded mode only): text the assistant from a browser and watch it answer."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from actions.registry import outcome
from assistant.business import Business
from assistant.inbound import Inbound
from assistant.phones import to_e164
from assistant.runtime import Runtime
from assistant.sms.sandbox import DEFAULT_SENDER
from storage.messages import InboundText, MessageLog

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MAX_BODY = 1600
DEFAULT_PHONE = "+14155550123"


@dataclass(frozen=True, slots=True)
class Sandbox:
    """What the phone simulator uses, built once in the app's lifespan."""

    business: Business
    region: str
    inbound: Inbound
    messages: MessageLog

    @classmethod
    def of(cls, runtime: Runtime) -> Sandbox:
        return cls(
            runtime.clients.business, runtime.clients.settings.phone_region, runtime.inbound, runtime.messages
        )


def _error(message: str, field: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


def example_texts(business: Business) -> list[str]:
    """A few first texts to tap, written for this business's own services."""
    examples = ["What are your hours?"]
    if business.services:
        first = business.services[0].name
        examples += [f"How much is {first}?", f"Can I book {first} tomorrow at 10am?"]
    return [*examples, "Cancel my appointment", "HELP", "STOP"]


@cache
def _page_template() -> jinja2.Template:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return environment.get_template("sandbox.html")


async def page(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    html = _page_template().render(
        business=sandbox.business.name,
        examples=example_texts(sandbox.business),
        phone=DEFAULT_PHONE,
        region=sandbox.region,
    )
    return HTMLResponse(html)


def _phone(raw: object, region: str) -> str:
    """The number as E.164, however it was typed; ValueError saying why it isn't one."""
    text = str(raw or "").strip()
    if not text:
        raise ValueError("type the number you are texting from, e.g. (415) 555-0123")
    return to_e164(text, region)


async def send(request: Request) -> Response:
    """Take a text as if the customer sent it to the business number; it takes the webhook's path."""
    try:
        payload = json.loads(await request.body() or b"{}")
    except ValueError:
        return _error("body must be JSON", "body")
    if not isinstance(payload, dict):
        return _error("body must be a JSON object", "body")
    sandbox: Sandbox = request.app.state.sandbox
    try:
        phone = _phone(payload.get("from"), sandbox.region)
    except ValueError as exc:
        return _error(str(exc), "from")
    body = str(payload.get("body", ""))
    if not body.strip():
        return _error("body must not be empty", "body")
    if len(body) > MAX_BODY:
        return _error(f"body must be at most {MAX_BODY} characters", "body")
    sid = "SM" + uuid.uuid4().hex
    message_id, _ = await sandbox.inbound.accept(
        InboundText(sid=sid, from_number=phone, to_number=DEFAULT_SENDER, body=body, media=[])
    )
    return JSONResponse({"sid": sid, "id": message_id, "from": phone}, status_code=202)


async def thread(request: Request) -> Response:
    """The conversation with one number, oldest first, with the actions each reply ran."""
    sandbox: Sandbox = request.app.state.sandbox
    try:
        phone = _phone(request.query_params.get("phone"), sandbox.region)
    except ValueError as exc:
        return _error(str(exc), "phone")
    rows = await sandbox.messages.listing(phone=phone, limit=100)
    return JSONResponse(
        {
            "phone": phone,
            "messages": [
                {
                    "id": row.id,
                    "direction": row.direction,
                    "body": row.body,
                    "status": row.status,
                    "segments": row.segments,
                    "encoding": row.encoding,
                    "pending": row.turn_state == "pending",
                    "actions": [
                        {**action, "outcome": outcome(action)} for action in row.details.get("actions", [])
                    ],
                    "engine": row.details.get("engine"),
                    "at": row.created_at.isoformat(),
                }
                for row in reversed(rows)
            ],
        }
    )


routes = [
    Route("/sandbox", page),
    Route("/sandbox/messages", send, methods=["POST"]),
    Route("/sandbox/messages", thread, methods=["GET"]),
]
