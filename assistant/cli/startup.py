"""Before `serve` and `worker` start: check everything they need, then say what is running and where."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from redis.exceptions import RedisError

from assistant import __version__
from assistant.business import Business, load_business
from assistant.database import ready_revision, shown_url
from assistant.logs import mask_phone
from assistant.senders import Senders
from assistant.settings import ConfigError, NotMigrated, Settings, Unreachable
from storage.database import create_engine, session_factory
from storage.redis import connect_redis
from storage.staff import StaffAccounts

WORKER_COMMAND = "sms-assistant worker"


@dataclass(frozen=True, slots=True)
class Preflight:
    """What the checks before start-up found."""

    business: Business
    revision: str
    staff_accounts: int


async def preflight(settings: Settings) -> Preflight:
    """Check the business file, the database (SQLite migrated, PostgreSQL current) and Redis.

    Each failure is one line naming the fix, so nothing half-starts and no traceback reaches the operator.
    """
    business = load_business(settings.business_config)
    Senders.from_settings(settings, business.senders)  # a sender ID needs a number that takes its replies
    engine = create_engine(settings.database_url)
    try:
        revision = await ready_revision(engine, settings)
        staff = len(await StaffAccounts(session_factory(engine)).listing())
    finally:
        await engine.dispose()
    if not settings.redis_in_process:
        redis = connect_redis(settings.redis_url)
        try:
            await redis.ping()
        except (RedisError, OSError) as exc:
            raise Unreachable(
                f"cannot reach Redis at {shown_redis_url(settings.redis_url)} ({exc}): "
                "is it running, and is REDIS_URL right?"
            ) from None
        finally:
            await redis.aclose()
    return Preflight(business=business, revision=revision, staff_accounts=staff)


async def preflight_waiting(settings: Settings, *, most_seconds: float = 10.0) -> Preflight:
    """The preflight, waiting for the database and Redis while they don't answer (a worker started before
    them, or during an outage); any other problem still stops at once.

    A database found unmigrated is refused at once, unless it was unreachable first: then it is still
    coming up, and its `db upgrade` is on the way.
    """
    pause, waited = 1.0, False
    problem: ConfigError
    while True:
        try:
            return await preflight(settings)
        except NotMigrated as exc:
            if not waited:
                raise
            problem = exc
        except Unreachable as exc:
            waited, problem = True, exc
        print(f"sms-assistant: {problem}; trying again in {pause:.0f} s", file=sys.stderr, flush=True)
        await asyncio.sleep(pause)
        pause = min(pause * 2, most_seconds)


def shown_redis_url(url: str) -> str:
    """A Redis URL fit to print: any password hidden."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***" if parts.username else ":***"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}{port}"))


def llm_line(settings: Settings) -> str:
    if not settings.llm_enabled:
        return "offline engine (built-in rules; set OPENAI_API_KEY to use a model)"
    host = urlsplit(settings.openai_base_url or "https://api.openai.com/v1").netloc
    return f"{settings.llm_model} at {host} (the offline engine answers if it fails)"


def sms_line(settings: Settings) -> str:
    if not settings.twilio_enabled:
        return "sandbox outbox: nothing is really texted (set TWILIO_* to send through Twilio)"
    if settings.twilio_messaging_service_sid:
        return f"Twilio, Messaging Service {settings.twilio_messaging_service_sid}"
    return f"Twilio, from {mask_phone(settings.twilio_phone_number or '')}"


def worker_line(settings: Settings, *, serving: bool) -> str:
    if not serving:
        return "this process answers queued texts"
    if settings.runs_embedded_worker:
        return "runs in this process"
    return f"none in this process: texts wait until a worker runs ({WORKER_COMMAND})"


def banner(settings: Settings, found: Preflight, *, base_url: str | None) -> str:
    """What start-up prints: mode, business, backends, the worker, and (for `serve`) the URLs to open."""
    mode = "embedded (one process)" if settings.redis_in_process else "production (shared Redis)"
    redis = "in-process (memory://)" if settings.redis_in_process else shown_redis_url(settings.redis_url)
    business = found.business
    rows = [
        ("business", f"{business.name} ({business.timezone})"),
        ("database", f"{shown_url(settings.database_url)} (schema {found.revision}, current)"),
        ("redis", redis),
        ("llm", llm_line(settings)),
        ("sms", sms_line(settings)),
        ("worker", worker_line(settings, serving=base_url is not None)),
    ]
    if base_url is not None:
        if settings.twilio_enabled:
            public = settings.public_base_url or "(PUBLIC_BASE_URL is unset: the request's own URL)"
            rows.append(("webhook", f"{public.rstrip('/')}/webhooks/twilio/sms"))
        else:
            rows.append(("open", f"{base_url}/sandbox    the phone simulator"))
        console = f"{base_url}/admin      the staff console"
        rows.append(("open" if settings.twilio_enabled else "", console))
        if not found.staff_accounts:
            rows.append(("", "no staff account yet: sms-assistant staff add NAME"))
    width = max(len(label) for label, _ in rows)
    lines = [f"SMS Assistant {__version__} · {mode}"]
    lines += [f"  {label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines)
