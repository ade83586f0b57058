"""The service's Prometheus metrics, counted where things happen; `GET /metrics` reports them.

Each process counts its own. With prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR set to an
empty directory, the same for every process of the machine, before they start), /metrics reports the sum
over the web and worker processes of that machine; without it, only its own process (`make run` is one).
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

INBOUND = Counter("sms_inbound_texts_total", "Customer texts recorded (each MessageSid once)")
OUTBOUND = Counter(
    "sms_outbound_texts_total", "Outbound texts by kind and where they ended up", ["kind", "status"]
)
DELIVERY_ERRORS = Counter("sms_delivery_errors_total", "Twilio error codes on sends and callbacks", ["code"])
TURNS = Counter("sms_turns_total", "Customer turns by outcome", ["outcome"])  # answered, keyword, held, ...
LLM_SECONDS = Histogram(
    "sms_llm_request_seconds",
    "Time the LLM took to answer a turn (tool rounds included)",
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30),
)
LLM_FALLBACKS = Counter("sms_llm_fallbacks_total", "Turns the offline engine answered because the LLM failed")
NOTIFICATIONS = Counter(
    "sms_notification_decisions_total", "Chat notification decisions", ["kind", "status", "reason"]
)
LLM_TOKENS = Counter("sms_llm_tokens_total", "Tokens the LLM read and wrote", ["kind"])  # prompt, completion
COST = Counter("sms_cost_usd_total", "What texts (estimated at sending) and LLM calls cost, in USD", ["what"])
CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Snapshot(Collector):
    """Values read at scrape time from the shared record (the same whichever process is scraped)."""

    def __init__(self, waiting: int, oldest_seconds: float | None, workers: int | None) -> None:
        self._values = (waiting, oldest_seconds, workers)

    def collect(self):  # type: ignore[no-untyped-def]
        waiting, oldest, workers = self._values
        yield GaugeMetricFamily(
            "sms_queue_waiting_texts", "Customer texts waiting for their turn", value=waiting
        )
        yield GaugeMetricFamily(
            "sms_queue_oldest_waiting_seconds",
            "Age of the oldest waiting text (0: none)",
            value=oldest or 0.0,
        )
        if workers is not None:
            yield GaugeMetricFamily(
                "sms_workers_alive", "Worker processes with a recent heartbeat", value=workers
            )


def exposition(waiting: int, oldest_seconds: float | None, workers: int | None) -> bytes:
    """The Prometheus text for every process this machine's metrics cover, and the scrape-time values."""
    counted = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    snapshot = CollectorRegistry()
    snapshot.register(_Snapshot(waiting, oldest_seconds, workers))
    return generate_latest(counted) + generate_latest(snapshot)
