"""How fast the inbound webhook answers Twilio: verify, record, enqueue, TwiML — in one embedded process.

    python -m bench.webhook_latency [--texts 500]

Prints p50/p95/max milliseconds per signed webhook, measured in-process (no network), on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid

import httpx
from twilio.request_validator import RequestValidator

from assistant.app import create_app
from assistant.settings import Settings

TOKEN = "bench-token"
PUBLIC = "https://bench.example.com"


async def measure(texts: int, workdir: str) -> list[float]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir}/bench.db",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=TOKEN,
        twilio_phone_number="+15005550006",
        twilio_api_base_url="http://127.0.0.1:9",  # replies fail fast: only the webhook is measured
        public_base_url=PUBLIC,
        burst_window_seconds=30,  # keep the worker out of the way while we measure
    )
    app = create_app(settings)
    validator = RequestValidator(TOKEN)
    timings: list[float] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
            for n in range(texts):
                params = {
                    "MessageSid": "SM" + uuid.uuid4().hex,
                    "From": f"+1415555{n % 50:04d}",
                    "To": "+15005550006",
                    "Body": f"hello {n}",
                    "NumMedia": "0",
                }
                signature = validator.compute_signature(PUBLIC + "/webhooks/twilio/sms", params)
                started = time.perf_counter()
                response = await client.post(
                    "/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
                )
                timings.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhook_latency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--texts", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as workdir:
        timings = asyncio.run(measure(args.texts, workdir))
    ordered = sorted(timings)
    print(f"{len(timings)} signed webhooks, embedded SQLite + in-process Redis")
    print(
        f"p50 {statistics.median(ordered):.2f} ms  p95 {ordered[int(len(ordered) * 0.95)]:.2f} ms  "
        f"max {ordered[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
