"""Console pages for prompt templates: the list, an editor with preview and lint, playground, versions."""

from __future__ import annotations

import difflib
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from assistant.http.admin_console import Console, console_of, page
from assistant.prompt_lint import MODEL_FACING, DraftCheck, check_draft, sample_values
from assistant.segments import count_segments
from prompts.renderer import PromptError
from storage.prompt_versions import MAX_TEMPLATE_CHARS

PLAYGROUND_PHONE = "+15005550001"  # a number no customer has: the playground talks as a new customer
MAX_MESSAGE_CHARS = 1600
DESCRIPTIONS = {
    "system": "The system prompt: the model's instructions, sent with every customer turn.",
    "help": "The answer to HELP or INFO.",
    "opt_in": "The welcome back after START (or YES from an opted-out number).",
    "opt_out": "The one confirmation after STOP and the other opt-out words.",
    "opt_out_unclear": "The answer to an unclear opt-out question (“how do I unsubscribe?”).",
    "disclosure": "Added to the first text a number ever gets.",
    "one_way": "Added, instead, to texts from an alphanumeric sender ID that invite a reply: where to text.",
    "reminder": "The appointment reminder, sent before each appointment.",
    "fallback": "The apology when the assistant can't answer (Twilio's fallback URL, empty replies).",
    "notification": "The text to a chat-app user who is offline about a new chat message.",
    "notification_digest": "One text for several held-back chat messages.",
    "verification": "The one-time code that confirms a chat-app user's phone.",
}


def _source_of(request: Request) -> tuple[Console, str] | None:
    console = console_of(request)
    name = request.path_params["name"]
    return (console, name) if name in console.source.names() else None


async def _check(console: Console, name: str, body: str) -> DraftCheck:
    return await check_draft(
        name,
        body,
        shipped=await console.source.shipped(name),
        renderer=console.drafts,
        business=console.business,
        actions=console.actions.describe(),
        now=console.clock(),
        segment_budget=console.settings.segment_budget,
        segment_price=console.settings.sms_segment_price,
    )


async def _editor(
    request: Request, console: Console, name: str, body: str, status_code: int = 200, **extra: Any
) -> Response:
    """The editor page for `body` (saved or a draft), with its lint and any preview or playground result."""
    latest = await console.versions.latest(name)
    values, placeholders = sample_values(
        name,
        await console.source.shipped(name),
        console.business,
        console.actions.describe(),
        console.clock(),
    )
    context: dict[str, Any] = {
        "name": name,
        "description": DESCRIPTIONS.get(name, ""),
        "body": body,
        "note": "",
        "latest": latest,
        "check": await _check(console, name, body),
        "variables": sorted([*values, *placeholders]),
        "sms_facing": name not in MODEL_FACING,
        "price": console.settings.sms_segment_price,
        "budget": console.settings.segment_budget,
        "preview": False,
        "playground": None,
        "message": "",
        "phone": PLAYGROUND_PHONE,
        "notice": "",
        "error": "",
    }
    context.update(extra)
    return page(request, "prompt_edit.html", status_code, **context)


def _draft(form: Any) -> str:
    # Browsers send textarea lines with CRLF; templates are stored with plain newlines.
    return str(form.get("body", "")).replace("\r\n", "\n")


async def listing(request: Request) -> Response:
    console = console_of(request)
    edited = await console.versions.counts()
    rows = [
        {"name": name, "description": DESCRIPTIONS.get(name, ""), "edited": edited.get(name)}
        for name in console.source.names()
    ]
    return page(request, "prompts.html", rows=rows)


async def editor(request: Request) -> Response:
    found = _source_of(request)
    if found is None:
        return page(request, "not_found.html", 404, what="template")
    console, name = found
    body = await console.source.get(name)
    notice = ""
    if saved := request.query_params.get("saved"):
        notice = f"Saved as version {saved}. It is used from the next message on, in every process."
    elif request.query_params.get("unchanged"):
        notice = "Nothing to save: the draft is the same as the current version."
    return await _editor(request, console, name, body, notice=notice)


async def save(request: Request) -> Response:
    found = _source_of(request)
    if found is None:
        return page(request, "not_found.html", 404, what="template")
    console, name = found
    form = await request.form()
    body, note = _draft(form), str(form.get("note", ""))
    if len(body) > MAX_TEMPLATE_CHARS:
        error = f"Not saved: a template can be at most {MAX_TEMPLATE_CHARS} characters."
        return await _editor(request, console, name, body, 400, note=note, error=error)
    if body == await console.source.get(name):
        return RedirectResponse(f"/admin/prompts/{name}?unchanged=1", status_code=303)
    check = await _check(console, name, body)
    if check.blocks_save:
        error = "Not saved: this draft would break live messages. Fix the problem below and try again."
        return await _editor(request, console, name, body, 400, note=note, error=error, check=check)
    version = await console.versions.save(name, body, author=request.state.staff, note=note)
    return RedirectResponse(f"/admin/prompts/{name}?saved={version.id}", status_code=303)


async def preview(request: Request) -> Response:
    found = _source_of(request)
    if found is None:
        return page(request, "not_found.html", 404, what="template")
    console, name = found
    form = await request.form()
    body = _draft(form)[: MAX_TEMPLATE_CHARS * 2]
    return await _editor(request, console, name, body, note=str(form.get("note", "")), preview=True)


async def playground(request: Request) -> Response:
    """Run one customer message through the real engine with the draft system prompt; nothing is sent."""
    found = _source_of(request)
    if found is None or found[1] != "system":
        return page(request, "not_found.html", 404, what="playground")
    console, name = found
    form = await request.form()
    body, message = _draft(form), str(form.get("message", "")).strip()
    phone = str(form.get("phone", "")).strip() or PLAYGROUND_PHONE
    extra: dict[str, Any] = {"message": message, "phone": phone, "note": str(form.get("note", ""))}
    if not message or len(message) > MAX_MESSAGE_CHARS:
        error = f"Type a customer message of 1 to {MAX_MESSAGE_CHARS} characters to try the draft."
        return await _editor(request, console, name, body, 400, error=error, **extra)
    if not (phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) <= 16):
        error = "“Texting as” must be a phone number in E.164 form, e.g. +14155550123."
        return await _editor(request, console, name, body, 400, error=error, **extra)

    async def render(values: dict[str, Any]) -> str:
        text, _ = await console.drafts.render(body, values)
        return text

    try:
        result = await console.conversation.dry_run(phone, message, render)
    except PromptError as exc:
        return await _editor(request, console, name, body, error=f"The draft did not render: {exc}", **extra)
    reply = result.reply
    info = count_segments(reply.body)
    extra["playground"] = {
        "engine": result.engine,
        "path": result.path,
        "raw": result.raw,
        "actions": result.actions,
        "reply": reply.body,
        "segments": info.segments,
        "encoding": info.encoding,
        "cost": reply.price or 0.0,  # the send path's own estimate, by the number's country
    }
    return await _editor(request, console, name, body, **extra)


def _diff(older: str, newer: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) pairs for the page: add, remove, hunk or same."""
    lines = difflib.unified_diff(older.splitlines(), newer.splitlines(), "before", "after", lineterm="", n=2)
    kinds = {"+": "add", "-": "remove", "@": "hunk"}
    return [(kinds.get(line[:1], "same"), line) for line in list(lines)[2:]]


async def versions(request: Request, *, status_code: int = 200, error: str = "") -> Response:
    found = _source_of(request)
    if found is None:
        return page(request, "not_found.html", 404, what="template")
    console, name = found
    history = await console.versions.history(name)
    shipped = await console.source.shipped(name)
    rows = []
    for index, version in enumerate(history):
        before = history[index + 1].body if index + 1 < len(history) else shipped
        rows.append({"version": version, "diff": _diff(before, version.body), "current": index == 0})
    notice = ""
    if restored := request.query_params.get("restored"):
        notice = f"Restored: saved as version {restored}, used from the next message on."
    return page(
        request, "prompt_versions.html", status_code, name=name, rows=rows, notice=notice, error=error
    )


async def restore(request: Request) -> Response:
    """Make an old version (or the shipped file, version 0) current again, as a new version."""
    found = _source_of(request)
    if found is None:
        return page(request, "not_found.html", 404, what="template")
    console, name = found
    version_id = request.path_params["version"]
    if version_id == 0:
        body, note = await console.source.shipped(name), "restored the shipped file"
    else:
        old = await console.versions.get(name, version_id)
        if old is None:
            return page(request, "not_found.html", 404, what="version")
        body, note = old.body, f"restored version {version_id}"
    check = await _check(console, name, body)
    if check.blocks_save:
        error = f"Not restored: that version no longer renders ({check.error or 'too slow'})."
        return await versions(request, status_code=400, error=error)
    saved = await console.versions.save(name, body, author=request.state.staff, note=note)
    return RedirectResponse(f"/admin/prompts/{name}/versions?restored={saved.id}", status_code=303)


routes = [
    Route("/prompts", listing),
    Route("/prompts/{name}", editor, methods=["GET"]),
    Route("/prompts/{name}", save, methods=["POST"]),
    Route("/prompts/{name}/preview", preview, methods=["POST"]),
    Route("/prompts/{name}/playground", playground, methods=["POST"]),
    Route("/prompts/{name}/versions", versions),
    Route("/prompts/{name}/versions/{version:int}/restore", restore, methods=["POST"]),
]
