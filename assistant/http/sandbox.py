"""The phone simulator (embedded mode only): text the assistant from a browser and watch it answer."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from assistant.runtime import Runtime
from assistant.sms.sandbox import DEFAULT_SENDER
from storage.messages import InboundText

PAGE = Path(__file__).resolve().parent.parent / "templates" / "sandbox.html"
MAX_BODY = 1600


def _error(message: str, field: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


async def send(request: Request) -> Response:
    """Take a text as if the customer sent it to the business number; it takes the webhook's path."""
    try:
        payload = json.loads(await request.body() or b"{}")
    except ValueError:
        return _error("body must be JSON", "body")
    if not isinstance(payload, dict):
        return _error("body must be a JSON object", "body")
    phone = str(payload.get("from", "")).strip()
    body = str(payload.get("body", ""))
    if not phone.startswith("+") or not phone[1:].isdigit() or not 8 <= len(phone) <= 16:
        return _error("from must be a phone number in E.164 form, e.g. +14155550123", "from")
    if not body.strip():
        return _error("body must not be empty", "body")
    if len(body) > MAX_BODY:
        return _error(f"body must be at most {MAX_BODY} characters", "body")
    runtime: Runtime = request.app.state.runtime
    sid = "SM" + uuid.uuid4().hex
    message, _ = await runtime.messages.record_inbound(
        InboundText(sid=sid, from_number=phone, to_number=DEFAULT_SENDER, body=body, media=[])
    )
    await runtime.queue.enqueue(phone)
    return JSONResponse({"sid": sid, "id": message.id}, status_code=202)


async def thread(request: Request) -> Response:
    """The conversation with one number, oldest first, with the actions each reply ran."""
    phone = request.query_params.get("phone", "").strip()
    if not phone:
        return _error("phone is required", "phone")
    runtime: Runtime = request.app.state.runtime
    rows = await runtime.messages.listing(phone=phone, limit=100)
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
                    "actions": row.details.get("actions", []),
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
