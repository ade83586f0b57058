"""GET /metrics: Prometheus text, protected by METRICS_TOKEN, and summed over a machine's processes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.emulators.openai import OpenAIEmulator
from tests.emulators.twilio import TwilioEmulator
from tests.support import backends
from tests.support.processes import SMS_WEBHOOK, Fleet, product_env, signed_sms, wait_until

CUSTOMER = "+14155550701"


def value(text: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus text (0 when the sample is not there yet)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def test_a_text_and_its_reply_are_counted(make_settings, start_app) -> None:
    async with start_app(make_settings()) as app:
        before = (await app.client.get("/metrics")).text
        await app.client.post("/sandbox/messages", json={"from": CUSTOMER, "body": "what are your hours?"})
        await app.settle()
        response = await app.client.get("/metrics")
    after = response.text
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert value(after, "sms_inbound_texts_total") - value(before, "sms_inbound_texts_total") == 1
    answered = {"outcome": "answered"}
    assert value(after, "sms_turns_total", **answered) - value(before, "sms_turns_total", **answered) == 1
    delivered = {"kind": "reply", "status": "delivered"}  # the sandbox delivers at once
    assert (
        value(after, "sms_outbound_texts_total", **delivered)
        - value(before, "sms_outbound_texts_total", **delivered)
        == 1
    )
    assert value(after, "sms_queue_waiting_texts") == 0
    assert "sms_llm_request_seconds_bucket" in after


async def test_metrics_need_the_token_when_one_is_set(make_settings, start_app) -> None:
    token = "a metrics token of some length"
    async with start_app(make_settings(metrics_token=token)) as app:
        refused = await app.client.get("/metrics")
        wrong = await app.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        allowed = await app.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and "METRICS_TOKEN" in refused.text and wrong.status_code == 401
    assert allowed.status_code == 200 and "sms_inbound_texts_total" in allowed.text


@pytest.mark.skipif(not backends.redis_available(), reason="the web and worker processes need a shared Redis")
def test_the_web_process_reports_what_the_worker_counted(
    tmp_path: Path,
    database_url: str,
    twilio_server: tuple[TwilioEmulator, str],
    openai_server: tuple[OpenAIEmulator, str],
    llm: OpenAIEmulator,
    twilio: TwilioEmulator,
) -> None:
    llm.reply_with("We're open 6am-9pm.")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    with backends.redis_database() as redis_url:
        env: Callable[[], dict[str, str]] = lambda: product_env(  # noqa: E731
            database_url=database_url,
            redis_url=redis_url,
            twilio_base_url=twilio_server[1],
            openai_base_url=openai_server[1],
            burst_window_seconds=0,
            turn_lease_seconds=5.0,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        )
        with Fleet(env(), tmp_path) as fleet:
            fleet.cli("db", "upgrade")
            server, worker = fleet.serve("serve"), fleet.worker("worker")
            fleet.wait_ready(server, worker)
            params, headers = signed_sms("when are you open?", phone=CUSTOMER)
            assert (
                httpx.post(server.url + SMS_WEBHOOK, data=params, headers=headers, timeout=10).status_code
                == 200
            )
            wait_until(lambda: len(twilio.messages) >= 1, timeout=60, what="the worker's reply")
            scraped = httpx.get(server.url + "/metrics", timeout=10).text
    assert value(scraped, "sms_inbound_texts_total") == 1  # counted by the web process
    assert value(scraped, "sms_turns_total", outcome="answered") == 1  # counted by the worker process
    assert value(scraped, "sms_llm_request_seconds_count") == 1
    assert value(scraped, "sms_workers_alive") == 1
