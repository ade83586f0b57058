"""Sender pacing across workers: 60 replies queued at once, 2 workers, a sender allowed 2 segments/s.

    python -m bench.pacing [--texts 60] [--rate 2] [--workers 2] [--json bench-results.json]

Real product processes (`serve --no-worker` and `--workers` × `worker`) on PostgreSQL + Redis, talking to
the Twilio and OpenAI emulators over loopback. `--texts` customers text at once and the LLM answers at
once, so every reply is ready together and only the pacing (shared through Redis) spaces them. From the
moments the Twilio emulator created each message: the most texts in any one second (a sliding window
starting at each text), and the time the texts took (first to last, plus the one interval the last uses:
60 texts at 2/s take 30 s and span 29.5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.turns import phone, post_texts, wait_for
from tests.emulators.openai import OpenAIEmulator
from tests.emulators.server import serve_in_thread
from tests.emulators.twilio import TwilioEmulator
from tests.support import backends
from tests.support.processes import Fleet, product_env


def most_in_a_window(times: list[float], seconds: float = 1.0) -> int:
    """The most moments in any window [t, t + seconds) that starts at one of them."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def paced_replies(
    workdir: Path, database_url: str, redis_url: str, texts: int, rate: float, workers: int
) -> dict:
    """Every customer texts once at the same moment; the replies' creation times at the Twilio emulator."""
    with ExitStack() as stack:
        twilio, llm = TwilioEmulator(), OpenAIEmulator()
        llm.reply_with("Thanks, see you soon.")
        env = product_env(
            database_url=database_url,
            redis_url=redis_url,
            twilio_base_url=stack.enter_context(serve_in_thread(twilio.app)),
            openai_base_url=stack.enter_context(serve_in_thread(llm.app)),
            burst_window_seconds=0,
            turn_lease_seconds=90,
            SEND_RATE_PER_SECOND=str(rate),
            # Each worker takes at most its share of the turns, so both send and the limit is truly shared.
            WORKER_CONCURRENCY=str(-(-texts // workers)),
        )
        fleet = stack.enter_context(Fleet(env, workdir))
        web = fleet.serve("web")
        processes = [web, *(fleet.worker(f"worker-{index}") for index in range(workers))]
        fleet.wait_ready(*processes)
        started = time.monotonic()
        asyncio.run(post_texts(web.url, texts, 0, connections=texts))
        budget = texts / rate * 2 + 60
        wait_for(lambda: len(twilio.messages) >= texts, timeout=budget, what="every reply", watch=processes)
        time.sleep(2 / rate)  # any extra (a text sent twice) would show up by now
        created = list(twilio.created)
        # Both workers must have answered some: the limit is only shared if both send.
        answered = {p.name: p.log_text().count("answered +") for p in processes[1:]}
        bodies = [message["to"] for message in twilio.messages]
    span = created[-1] - created[0]
    return {
        "texts": texts,
        "rate_per_second": rate,
        "workers": workers,
        "sent": len(created),
        "distinct_recipients": len(set(bodies)),
        "expected_recipients": len({phone(index) for index in range(texts)}),
        "max_in_any_second": most_in_a_window(created),
        "first_to_last_seconds": round(span, 3),
        "total_seconds": round(span + 1 / rate, 3),
        "ideal_total_seconds": round(texts / rate, 3),
        "first_reply_after_seconds": round(created[0] - started, 3),
        "smallest_gap_seconds": round(min(b - a for a, b in itertools.pairwise(created)), 3),
        "answered_per_worker": answered,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=60)
    parser.add_argument("--rate", type=float, default=2.0, help="SEND_RATE_PER_SECOND")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", default="bench-results.json", help="where to add the figures")
    options = parser.parse_args()
    if not (backends.postgres_available() and backends.redis_available()):
        print("pacing figures skipped: they need PostgreSQL (TEST_DATABASE_URL) and Redis (TEST_REDIS_URL)")
        return 0
    with (
        tempfile.TemporaryDirectory(prefix="pacing-bench-") as tmp,
        backends.fresh_postgres_database() as database,
        backends.redis_database() as redis_url,
    ):
        results: dict[str, Any] = paced_replies(
            Path(tmp), database, redis_url, options.texts, options.rate, options.workers
        )
    print(json.dumps(results, indent=2))
    path = Path(options.json)
    stored = json.loads(path.read_text()) if path.is_file() else {}
    stored["pacing"] = results
    path.write_text(json.dumps(stored, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
