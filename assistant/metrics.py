"""The service's Prometheus metrics, counted where things happen; `GET /metrics` reports them.

Each process counts its own. With prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR set to an
empty directory, the same for every process of the machine, before they start), /metrics reports the sum
over the web and worker processes of that machine; without it, only its own process (`make run` is one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Values read at scrape time from the shared record (the same whichever process is scraped)."""

    waiting: int = 0
    oldest_seconds: float | None = None
    workers: int | None = None
    # (period, what) -> USD spent, what in sms | llm; period -> the budget, for the periods that have one
    spend: dict[tuple[str, str], float] = field(default_factory=dict)
    budgets: dict[str, float] = field(default_factory=dict)
    held: int | None = None  # texts the budget holds back
    delivery_rate: float | None = None  # over the last 100 texts with a final status


class _Snapshot(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self):  # type: ignore[no-untyped-def]
        now = self._snapshot
        yield GaugeMetricFamily(
            "sms_queue_waiting_texts", "Customer texts waiting for their turn", value=now.waiting
        )
        yield GaugeMetricFamily(
            "sms_queue_oldest_waiting_seconds",
            "Age of the oldest waiting text (0: none)",
            value=now.oldest_seconds or 0.0,
        )
        if now.workers is not None:
            yield GaugeMetricFamily(
                "sms_workers_alive", "Worker processes with a recent heartbeat", value=now.workers
            )
        if now.spend:
            spend = GaugeMetricFamily(
                "sms_spend_usd", "Spent in the business's day and month so far", labels=["period", "what"]
            )
            for (period, what), usd in sorted(now.spend.items()):
                spend.add_metric([period, what], usd)
            yield spend
        if now.budgets:
            budget = GaugeMetricFamily("sms_budget_usd", "DAILY_BUDGET and MONTHLY_BUDGET", labels=["period"])
            share = GaugeMetricFamily(
                "sms_budget_spent_ratio",
                "Share of each budget spent (1: proactive texts held)",
                labels=["period"],
            )
            for period, usd in sorted(now.budgets.items()):
                budget.add_metric([period], usd)
                spent = sum(value for (spent_in, _), value in now.spend.items() if spent_in == period)
                share.add_metric([period], spent / usd)
            yield budget
            yield share
        if now.held is not None:
            yield GaugeMetricFamily(
                "sms_held_texts", "Texts held back until the budget allows", value=now.held
            )
        if now.delivery_rate is not None:
            yield GaugeMetricFamily(
                "sms_delivery_rate_recent",
                "Delivered share of the last 100 texts with a final status",
                value=now.delivery_rate,
            )


def exposition(snapshot: Snapshot) -> bytes:
    """The Prometheus text for every process this machine's metrics cover, and the scrape-time values."""
    counted = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    snapshots = CollectorRegistry()
    snapshots.register(_Snapshot(snapshot))
    return generate_latest(counted) + generate_latest(snapshots)
