"""The staff console's access rules and prompt templates: sign-in, CSRF, saving, versions, preview, lint."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from storage.database import session_factory
from storage.staff import StaffAccounts
from tests.support.staff import PASSWORD, add_staff, form_token, sign_in, token

ADMIN_URLS = [
    "/admin",
    "/admin/",
    "/admin/prompts",
    "/admin/prompts/system",
    "/admin/prompts/system/versions",
    "/admin/conversations",
    "/admin/conversations/%2B14155550123",
    "/admin/optouts",
    "/admin/optouts.csv",
    "/admin/appointments",
    "/admin/customers",
    "/admin/notifications",
    "/admin/no-such-page",
]
ATTACKS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ 'a' * 100000000 }}",
    "{{ 2**100000000 }}",
    "{{ ((2**64)**64)**64 }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
]
ATTACK_NAMES = ["mro", "globals", "huge-string", "huge-power", "unprintable-int", "nested-range"]


def _location(response) -> str:
    return response.headers.get("location", "")


async def test_every_admin_url_sends_a_stranger_to_the_login(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        for url in ADMIN_URLS:
            response = await app.client.get(url)
            assert response.status_code in (303, 307), url
            target = _location(response)
            if target == "/admin/":  # the slash redirect, then the console's own
                response = await app.client.get(target)
                target = _location(response)
            assert target.startswith("/admin/login"), url
        posted = await app.client.post("/admin/prompts/system", data={"body": "hacked"})
        assert posted.status_code == 303 and _location(posted).startswith("/admin/login")
        login = await app.client.get("/admin/login")
        assert login.status_code == 200 and 'name="password"' in login.text


async def test_a_wrong_password_or_name_stays_out(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        for username, password in (("dana", "wrong password!"), ("nobody", PASSWORD), ("", "")):
            response = await sign_in(app.client, username, password)
            assert response.status_code == 401
            assert "Wrong username or password." in response.text
            assert "sms_admin_session" not in response.headers.get("set-cookie", "")
        assert _location(await app.client.get("/admin/prompts")).startswith("/admin/login")

        signed_in = await sign_in(app.client)
        assert signed_in.status_code == 303 and _location(signed_in) == "/admin/overview"
        assert (await app.client.get("/admin/prompts")).status_code == 200


async def test_the_session_cookie_is_signed_httponly_lax_and_secure_over_https(
    twilio_settings, start_app
) -> None:
    async with start_app(twilio_settings()) as app:  # PUBLIC_BASE_URL is https://...
        await add_staff(app.runtime)
        response = await sign_in(app.client)
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("sms_admin_session=")
        )
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite=lax", "path=/admin"} <= flags
        value = cookie.split(";")[0].split("=", 1)[1]
        forged = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
        app.client.cookies.clear()
        app.client.cookies.set("sms_admin_session", forged, domain="assistant.example.com", path="/admin")
        assert _location(await app.client.get("/admin/prompts")).startswith("/admin/login")


async def test_cookies_are_not_secure_over_plain_http(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        cookie = (await sign_in(app.client)).headers["set-cookie"]
        assert "httponly" in cookie.lower() and "secure" not in cookie.lower()


async def test_a_post_without_the_forms_token_is_refused(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        bare_login = await app.client.post("/admin/login", data={"username": "dana", "password": PASSWORD})
        assert bare_login.status_code == 403
        await sign_in(app.client)
        good = await token(app.client)
        for data in ({"body": "x"}, {"body": "x", "csrf_token": "guess"}, {"body": "x", "csrf_token": ""}):
            for path in (
                "/admin/prompts/system",
                "/admin/conversations/%2B14155550123/takeover",
                "/admin/logout",
            ):
                response = await app.client.post(path, data=data)
                assert response.status_code == 403, (path, data)
        assert await app.runtime.renderer.source.versions.history("system") == []  # nothing was saved
        assert (await app.client.post("/admin/logout", data={"csrf_token": good})).status_code == 303


async def test_signing_out_ends_the_session_for_good(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        await sign_in(app.client)
        stolen = dict(app.client.cookies)
        await app.client.post("/admin/logout", data={"csrf_token": await token(app.client)})
        app.client.cookies.update(stolen)  # someone kept a copy of the cookie
        assert _location(await app.client.get("/admin/prompts")).startswith("/admin/login")


async def test_failed_sign_ins_are_limited(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        for _ in range(5):
            assert (await sign_in(app.client, "dana", "not the password")).status_code == 401
        blocked = await sign_in(app.client)  # even the right password waits now
        assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text
        assert _location(await app.client.get("/admin/prompts")).startswith("/admin/login")


def _browser(app, address: str | None = None) -> httpx.AsyncClient:
    """Another browser; with an address, it reaches us through the local proxy, which forwards it."""
    headers = {"X-Forwarded-For": address} if address else {}
    transport = httpx.ASGITransport(app=app.app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def test_forty_parallel_guesses_get_at_most_five_evaluated(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app, _browser(app) as browser:
        await add_staff(app.runtime)
        form = form_token((await browser.get("/admin/login")).text)

        async def guess(password: str) -> int:
            data = {"csrf_token": form, "username": "dana", "password": password}
            return (await browser.post("/admin/login", data=data)).status_code

        answers = await asyncio.gather(*[guess(f"wrong guess {n}") for n in range(39)], guess(PASSWORD))
    assert answers.count(401) + answers.count(303) <= 5  # the rest never reached the password check
    assert answers.count(429) >= 35 and set(answers) <= {401, 303, 429}


async def test_a_strangers_guesses_dont_lock_out_staff_on_a_browser_they_used_before(
    make_settings, start_app
) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        async with _browser(app, "198.51.100.7") as own:
            assert (await sign_in(own)).status_code == 303
            await own.post("/admin/logout", data={"csrf_token": await token(own)})
            async with _browser(app, "203.0.113.9") as stranger:
                tried = [(await sign_in(stranger, "dana", "guess")).status_code for _ in range(7)]
                assert tried == [401] * 5 + [429] * 2
                assert (await sign_in(stranger)).status_code == 429  # the account is closed to strangers
            assert (await sign_in(own)).status_code == 303  # but not to the browser that knows it


async def test_behind_a_proxy_each_client_address_has_its_own_limit(make_settings, start_app) -> None:
    async with start_app(make_settings(trusted_proxies="127.0.0.0/8, ::1")) as app:
        await add_staff(app.runtime)
        async with _browser(app, "203.0.113.9") as attacker:
            tried = [(await sign_in(attacker, f"name{n}", "guess")).status_code for n in range(32)]
            assert tried == [401] * 30 + [429] * 2
        async with _browser(app, "198.51.100.7") as colleague:  # the same proxy, another person
            assert (await sign_in(colleague)).status_code == 303


async def test_a_saved_system_template_is_in_the_very_next_llm_request_and_can_be_restored(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("Hello!")
    async with start_app(twilio_settings()) as app:
        await add_staff(app.runtime)
        await sign_in(app.client)
        editor = await app.client.get("/admin/prompts/system")
        shipped = await app.runtime.renderer.source.shipped("system")
        for marker in ("Sign off as Team Zebra.", "Sign off as Team Okapi."):
            saved = await app.client.post(
                "/admin/prompts/system",
                data={"csrf_token": form_token(editor.text), "body": shipped + "\n" + marker, "note": marker},
            )
            assert saved.status_code == 303 and "saved=" in _location(saved)
        notice = await app.client.get(_location(saved))
        assert "used from the next message on" in notice.text

        await app.text("hi there")
        await app.settle()
        system = llm.requests[-1]["messages"][0]
        assert system["role"] == "system" and system["content"].endswith("Sign off as Team Okapi.")

        versions = await app.client.get("/admin/prompts/system/versions")
        assert versions.text.count('<h2 id="v') == 2 and "By dana" in versions.text
        assert "+Sign off as Team Okapi." in versions.text and "-Sign off as Team Zebra." in versions.text
        first_id = re.findall(r"/versions/(\d+)/restore", versions.text)[0]
        restored = await app.client.post(
            f"/admin/prompts/system/versions/{first_id}/restore",
            data={"csrf_token": form_token(versions.text)},
        )
        assert restored.status_code == 303

        await app.text("and again")
        await app.settle()
        content = llm.requests[-1]["messages"][0]["content"]
        assert content.endswith("Sign off as Team Zebra.") and "Okapi" not in content

        versions = await app.client.get("/admin/prompts/system/versions")
        assert f"restored version {first_id}" in versions.text
        await app.client.post(
            "/admin/prompts/system/versions/0/restore", data={"csrf_token": form_token(versions.text)}
        )
        await app.text("once more")
        await app.settle()
        content = llm.requests[-1]["messages"][0]["content"]
        assert "Sign off as" not in content and content.startswith("You are the text-message assistant")


@pytest.mark.parametrize("attack", ATTACKS, ids=ATTACK_NAMES)
async def test_preview_of_an_attack_is_refused_and_the_server_stays_healthy(
    attack, make_settings, start_app
) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        await sign_in(app.client)
        csrf = await token(app.client)
        async with asyncio.timeout(60):  # generous: the child renderer is stopped after 2 s
            preview = await app.client.post(
                "/admin/prompts/system/preview", data={"csrf_token": csrf, "body": attack}
            )
        assert preview.status_code == 200
        assert "Does not render" in preview.text
        for leak in ("&lt;class", "__builtins__", "<class", "aaaaaaaaaa", "function"):
            assert leak not in preview.text.split('id="body"')[-1].split("</textarea>", 1)[-1]
        health = await asyncio.wait_for(app.client.get("/healthz"), 30)
        assert health.status_code == 200
        fine = await app.client.post(
            "/admin/prompts/fallback/preview", data={"csrf_token": csrf, "body": "Sorry!"}
        )
        assert '<div class="sms">Sorry!</div>' in fine.text
        saved = await app.client.post("/admin/prompts/system", data={"csrf_token": csrf, "body": attack})
        assert saved.status_code == 400 and "Not saved" in saved.text
        assert await app.runtime.renderer.source.versions.history("system") == []


@pytest.mark.parametrize("attack", ATTACKS, ids=ATTACK_NAMES)
async def test_playground_run_of_an_attack_shows_the_error_on_the_page(
    attack, make_settings, start_app
) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        await sign_in(app.client)
        csrf = await token(app.client)
        async with asyncio.timeout(60):
            tried = await app.client.post(
                "/admin/prompts/system/playground",
                data={"csrf_token": csrf, "body": attack, "message": "hi"},
            )
        assert tried.status_code == 200 and "The draft did not render" in tried.text
        assert (await app.client.get("/healthz")).status_code == 200


async def test_preview_lints_opt_out_words_unknown_values_and_segments(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        await sign_in(app.client)
        csrf = await token(app.client)
        draft = "{{ business.name }}: see you {{ appointment.when }}. Reply CANCEL to cancel, or text END."
        page = (
            await app.client.post("/admin/prompts/reminder/preview", data={"csrf_token": csrf, "body": draft})
        ).text
        assert "“Reply CANCEL” tells the customer to reply with an opt-out word" in page
        assert "“text END” tells the customer" in page
        assert "Acme Fitness: see you tomorrow at 10:00 AM." in page
        assert "1 segment</strong>" in page and "$0.0083" in page

        unknown = await app.client.post(
            "/admin/prompts/help/preview", data={"csrf_token": csrf, "body": "Hi {{ shoe_size }}"}
        )
        assert "“shoe_size” is not a value this template gets" in unknown.text
        assert "Does not render" in unknown.text

        long = await app.client.post(
            "/admin/prompts/fallback/preview", data={"csrf_token": csrf, "body": "Sorry. " * 60}
        )
        assert "3 segments</strong>" in long.text and "texts are cut to 2" in long.text

        allowed = await app.client.post(
            "/admin/prompts/opt_out/preview",
            data={"csrf_token": csrf, "body": "Done. Reply START to come back."},
        )
        assert "reply with an opt-out word" not in allowed.text
        shipped = await app.client.get("/admin/prompts/system")
        assert (
            "No problems found" in shipped.text
        )  # "reply with a single word such as CANCEL" is no instruction


async def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        for asked, landed in (
            ("/admin/optouts", "/admin/optouts"),
            ("//evil.example/admin", "/admin/overview"),
            ("https://evil.example/", "/admin/overview"),
        ):
            app.client.cookies.clear()
            form = await app.client.get("/admin/login", params={"next": asked})
            data = {"csrf_token": form_token(form.text), "username": "dana", "password": PASSWORD}
            response = await app.client.post("/admin/login", data={**data, "next": asked})
            assert _location(response) == landed


async def test_removing_a_staff_member_ends_their_sessions(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        await add_staff(app.runtime)
        await sign_in(app.client)
        assert (await app.client.get("/admin/prompts")).status_code == 200
        await StaffAccounts(session_factory(app.runtime.clients.engine)).remove("dana")
        assert _location(await app.client.get("/admin/prompts")).startswith("/admin/login")
