"""Signing in to the staff console from tests, the way a browser does: read the form, post it back."""

from __future__ import annotations

import re
from typing import Any

import httpx

from assistant.runtime import Runtime
from storage.staff import StaffAccounts

USERNAME = "dana"
PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def add_staff(runtime: Runtime, username: str = USERNAME, password: str = PASSWORD) -> None:
    await StaffAccounts(runtime.clients.sessions).add(username, password)


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _TOKEN.search(html)
    assert match is not None, "the page has no form token"
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient, username: str = USERNAME, password: str = PASSWORD
) -> httpx.Response:
    """Post the login form; returns the response (303 to the console when it worked)."""
    form = await client.get("/admin/login")
    data = {"csrf_token": form_token(form.text), "username": username, "password": password}
    return await client.post("/admin/login", data=data)


async def token(client: httpx.AsyncClient, path: str = "/admin/prompts") -> str:
    """The signed-in session's form token, as any console page carries it."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return form_token(page.text)


async def signed_in(app: Any) -> str:
    """A staff member added and signed in on `app`'s client; returns the session's form token."""
    await add_staff(app.runtime)
    await sign_in(app.client)
    return await token(app.client)
