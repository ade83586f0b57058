"""Real OS processes of the product on shared Redis and SQL: crash recovery, and many texts in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.emulators.openai import OpenAIEmulator
from tests.emulators.twilio import TwilioEmulator
from tests.support import backends
from tests.support.processes import (
    BUSINESS_NUMBER,
    SMS_WEBHOOK,
    Fleet,
    product_env,
    queued_turns,
    signed_sms,
    wait_until,
)
from tests.support.scale import problems, run_scale_check
from tests.support.staff import PASSWORD, USERNAME, form_token

pytestmark = pytest.mark.skipif(
    not backends.redis_available(),
    reason=f"no Redis at {backends.TEST_REDIS_URL}: worker processes need a shared Redis server",
)

CUSTOMER = "+14155550123"
REPLY = "We're open 6am-9pm every day."
DISCLOSURE = "Reply STOP to opt out."
# Short, so the dead worker's lock and stream entry are taken over quickly; live workers renew theirs.
LEASE = 5.0


@pytest.fixture
def shared_redis() -> Iterator[str]:
    """A Redis database only these tests use, flushed before and after."""
    with backends.redis_database() as url:
        yield url


@pytest.fixture
def fleet_env(
    database_url: str,
    shared_redis: str,
    twilio_server: tuple[TwilioEmulator, str],
    openai_server: tuple[OpenAIEmulator, str],
) -> Callable[..., dict[str, str]]:
    """The product processes' environment on this test's database, Redis and emulators; extras override."""

    def build(**extra: str) -> dict[str, str]:
        return product_env(
            database_url=database_url,
            redis_url=shared_redis,
            twilio_base_url=twilio_server[1],
            openai_base_url=openai_server[1],
            burst_window_seconds=0,
            turn_lease_seconds=LEASE,
            **extra,
        )

    return build


def test_worker_killed_mid_turn_answers_exactly_once(
    tmp_path: Path,
    fleet_env: Callable[..., dict[str, str]],
    shared_redis: str,
    twilio: TwilioEmulator,
    llm: OpenAIEmulator,
) -> None:
    """SIGKILL the worker while the LLM is thinking: a new worker answers, and the customer gets one text."""
    llm.reply_with(REPLY)
    llm.holds.close()  # the LLM thinks until the test lets it answer
    with Fleet(fleet_env(), tmp_path) as fleet:
        fleet.cli("db", "upgrade")
        server = fleet.serve("serve")
        doomed = fleet.worker("worker-1")
        fleet.wait_ready(server, doomed)

        params, headers = signed_sms("When are you open?", phone=CUSTOMER)
        response = httpx.post(server.url + SMS_WEBHOOK, data=params, headers=headers, timeout=10)
        assert response.status_code == 200, response.text

        wait_until(lambda: len(llm.requests) >= 1, timeout=15, what="worker-1 to ask the LLM")
        assert doomed.kill() == -9
        assert twilio.messages == [], "worker-1 texted before the LLM had answered"
        llm.holds.open()

        fleet.wait_ready(fleet.worker("worker-2"))
        wait_until(lambda: len(twilio.messages) >= 1, timeout=60, what="a reply after the takeover")
        # worker-2 also claims the dead worker's stream entry after a lease of idling, and acknowledges it
        # only once that turn is done: when the stream is empty, nothing more can be sent.
        wait_until(lambda: queued_turns(shared_redis) == 0, timeout=60, what="the turn stream to drain")

        assert [(m["to"], m["from"], m["body"]) for m in twilio.messages] == [
            (CUSTOMER, BUSINESS_NUMBER, f"{REPLY} {DISCLOSURE}")  # a first text carries the disclosure
        ]
        # Asked twice: by the dead worker (never answered) and by the one that took over.
        assert len(llm.requests) == 2
        rows = fleet.messages(phone=CUSTOMER)
        assert sorted(row["direction"] for row in rows) == ["inbound", "outbound"]
        outbound = next(row for row in rows if row["direction"] == "outbound")
        assert outbound["body"] == f"{REPLY} {DISCLOSURE}"
        assert outbound["sid"] == twilio.messages[0]["sid"]
        assert outbound["status"] == "queued"  # as Twilio answered the send; no status callbacks here
        assert server.running(), "the web process died"


@pytest.mark.skipif(
    not backends.postgres_available(),
    reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://... (SQLite is one-writer)",
)
def test_two_servers_two_workers_answer_200_texts_in_order(tmp_path: Path, shared_redis: str) -> None:
    """20 phones × 10 texts through 2 web + 2 worker processes: each text answered once, in order."""
    with backends.fresh_postgres_database() as database_url:
        run = run_scale_check(tmp_path, database_url=database_url, redis_url=shared_redis)

    print(run.figures())
    found = problems(run)
    assert not found, "\n".join(found)


def test_forty_parallel_sign_in_guesses_across_two_processes_get_five_evaluated(
    tmp_path: Path, fleet_env: Callable[..., dict[str, str]]
) -> None:
    # Plain http, so the test's browser keeps the console cookies.
    with Fleet(fleet_env(PUBLIC_BASE_URL="http://127.0.0.1"), tmp_path) as fleet:
        fleet.cli("db", "upgrade")
        fleet.cli("staff", "add", USERNAME, "--password-stdin", stdin=PASSWORD + "\n")
        servers = [fleet.serve("web-1"), fleet.serve("web-2")]
        fleet.wait_ready(*servers)

        async def guesses(url: str, passwords: list[str]) -> list[int]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as browser:
                form = form_token((await browser.get("/admin/login")).text)
                forms = [{"csrf_token": form, "username": USERNAME, "password": p} for p in passwords]
                posts = [browser.post("/admin/login", data=data) for data in forms]
                return [response.status_code for response in await asyncio.gather(*posts)]

        async def both() -> list[int]:
            wrong = [f"wrong guess {n}" for n in range(39)]
            first, second = await asyncio.gather(
                guesses(servers[0].url, wrong[:20]), guesses(servers[1].url, [*wrong[20:], PASSWORD])
            )
            return first + second

        answers = asyncio.run(both())
    assert answers.count(401) + answers.count(303) <= 5, answers
    assert answers.count(429) >= 35 and set(answers) <= {401, 303, 429}
