"""The staff console under /admin: sign-in, the gate in front of every page, and the page routes."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.http import admin_conversations, admin_overview, admin_prompts, admin_records
from assistant.http.admin_auth import DEVICE_SECONDS, SESSION_SECONDS, StaffSession
from assistant.http.admin_console import console_of, content_security_policy, open_console, page
from assistant.http.bodies import read_body, replay
from assistant.http.proxies import client_address

__all__ = ["open_console", "routes"]

SESSION_COOKIE = "sms_admin_session"
LOGIN_COOKIE = "sms_admin_login"
DEVICE_COOKIE = "sms_admin_device"
MAX_FORM_BYTES = 256 * 1024
SECURITY_HEADERS = {
    # No script at all, forms only to ourselves, never framed (clickjacking), nothing cached.
    "content-security-policy": content_security_policy(),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class AdminGate:
    """Lets a request through only with a live session, and a POST only with that session's form token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        request = Request(scope, receive)
        route = scope["path"][len(scope.get("root_path", "")) :] or "/"
        if route == "/login":
            signer = await console_of(request).signer()
            expected = signer.unsign("login", request.cookies.get(LOGIN_COOKIE))
        else:
            session = await _session(request)
            if session is None:
                target = (
                    "/admin/login?next=" + quote(scope["path"]) if request.method == "GET" else "/admin/login"
                )
                await RedirectResponse(target, status_code=303)(scope, receive, send)
                return
            scope.setdefault("state", {}).update(staff=session.user, csrf=session.csrf, session=session.id)
            expected = session.csrf
        if request.method == "POST":
            body = await read_body(receive, MAX_FORM_BYTES)
            if body is None:
                await HTMLResponse("Form too large.", status_code=413)(scope, receive, send)
                return
            form = await Request(scope, replay(body, receive)).form()
            receive = replay(body, receive)  # the page reads the form again
            token = form.get("csrf_token")
            given = token.encode() if isinstance(token, str) else b""
            if not expected or not hmac.compare_digest(given, expected.encode()):
                forbidden = HTMLResponse(
                    "<h1>403 Forbidden</h1><p>This form has expired or did not come from the console. "
                    '<a href="/admin">Reload the console</a> and try again.</p>',
                    status_code=403,
                )
                await forbidden(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _session(request: Request) -> StaffSession | None:
    """The live session this request's cookie names, if its account still exists."""
    console = console_of(request)
    session_id = (await console.signer()).unsign("session", request.cookies.get(SESSION_COOKIE))
    session = await console.sessions.get(session_id) if session_id else None
    if session is None or not await console.accounts.exists(session.user):
        return None
    return session


def _with_security_headers(send: Send) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers.setdefault(name, value)
        await send(message)

    return sender


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=console_of(request).secure_cookies,
    )


def _next_page(raw: str | None) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if raw and raw.startswith("/admin") and not raw.startswith("/admin/login") and "//" not in raw:
        return raw
    return "/admin/overview"


async def login_form(
    request: Request, error: str = "", status_code: int = 200, username: str = "", next_page: str = ""
) -> Response:
    console = console_of(request)
    token = secrets.token_urlsafe(32)
    next_page = _next_page(next_page or request.query_params.get("next"))
    context = {"login_token": token, "error": error, "next_page": next_page, "username": username}
    response = page(request, "login.html", status_code, **context)
    _cookie(response, request, LOGIN_COOKIE, (await console.signer()).sign("login", token), 3600)
    return response


async def login(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))
    client = client_address(request)
    next_page = str(form.get("next", ""))
    signer = await console.signer()
    device_purpose = f"device:{username.casefold()}"
    device = signer.unsign(device_purpose, request.cookies.get(DEVICE_COOKIE))
    wait = await console.limiter.take_try(username, client, device)
    if wait:
        minutes = max(1, round(wait / 60))
        message = f"Too many failed sign-ins. Try again in about {minutes} minute{'s' * (minutes != 1)}."
        return await login_form(request, message, 429, username, next_page)
    if not username or not await console.accounts.authenticate(username, password):
        return await login_form(request, "Wrong username or password.", 401, username, next_page)
    await console.limiter.succeeded(username, client, device)
    session = await console.sessions.create(username)  # a new id at every sign-in: no session fixation
    response = RedirectResponse(_next_page(next_page), status_code=303)
    _cookie(response, request, SESSION_COOKIE, signer.sign("session", session.id), SESSION_SECONDS)
    # This browser now knows the password: its later tries are counted apart from strangers'.
    device = device or secrets.token_urlsafe(16)
    _cookie(response, request, DEVICE_COOKIE, signer.sign(device_purpose, device), DEVICE_SECONDS)
    response.delete_cookie(LOGIN_COOKIE, path="/admin")
    return response


async def logout(request: Request) -> Response:
    await console_of(request).sessions.end(request.scope["state"]["session"])
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin", httponly=True, samesite="lax")
    return response


async def home(request: Request) -> Response:
    signed_in = await _session(request) is not None
    return RedirectResponse("/admin/overview" if signed_in else "/admin/login", status_code=303)


_pages = Router(
    routes=[
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *admin_overview.routes,
        *admin_prompts.routes,
        *admin_conversations.routes,
        *admin_records.routes,
    ]
)

routes = [Route("/admin", home), Mount("/admin", app=AdminGate(_pages))]
