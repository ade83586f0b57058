"""The service's configuration, read once from the environment (and `.env`) at the edge."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable
from datetime import time, timedelta
from pathlib import Path
from typing import Literal

import phonenumbers
from dotenv import dotenv_values
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/assistant.db"
MEMORY_REDIS_URL = "memory://"
LEAD_PART = re.compile(r"(\d+)\s*([dhm])")
LEAD_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENV_FILE = ".env"
# Segments per second a sender of each type may send (Twilio's defaults for US senders).
SENDER_RATES = {"long_code": 1.0, "toll_free": 3.0, "short_code": 100.0}
ToolMode = Literal["auto", "on", "off"]  # LLM_TOOLS


class ConfigError(Exception):
    """Configuration that cannot work; the message says what to fix, in one line."""


class Unreachable(ConfigError):
    """A server the settings name did not answer: down for now, or a wrong address."""


class NotMigrated(ConfigError):
    """The database answers, but `db upgrade` has not brought it to this release's schema (yet)."""


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def parse_leads(text: str) -> tuple[timedelta, ...]:
    """Reminder lead times from "24h,2h" (units d, h, m; "off" for none), longest first."""
    if text.strip().lower() in ("off", "none"):
        return ()
    leads: set[timedelta] = set()
    for part in text.split(","):
        match = LEAD_PART.fullmatch(part.strip().lower())
        if match is None or int(match[1]) == 0:
            raise ValueError(f"{part.strip()!r} must look like 24h, 90m or 2d (or set it to off)")
        leads.add(int(match[1]) * LEAD_UNITS[match[2]])
    return tuple(sorted(leads, reverse=True))


QUIET_HOURS = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)")


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """Quiet hours from "21:00-09:00" (local start and end; may span midnight), or None for "off"."""
    if text.strip().lower() in ("off", "none", ""):
        return None
    match = QUIET_HOURS.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text.strip()!r} must look like 21:00-09:00 (or set it to off)")
    start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
    return None if start == end else (start, end)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_numbers(value: str) -> tuple[str, ...]:
    """'+14155550100, +14155550101' → the numbers; ValueError naming one that is not E.164."""
    numbers = tuple(part.strip() for part in value.split(",") if part.strip())
    for number in numbers:
        if not (number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16):
            raise ValueError(f"{number!r} is not a phone number in E.164 form, like +14155550100")
    return numbers


def parse_networks(value: str) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES`: addresses and CIDR ranges, comma-separated; ValueError names a bad entry."""
    networks = []
    for entry in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR range (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias=_env("DATABASE_URL"))
    database_pool_size: int = Field(20, gt=0, le=500, validation_alias=_env("DATABASE_POOL_SIZE"))
    redis_url: str = Field(MEMORY_REDIS_URL, validation_alias=_env("REDIS_URL"))
    redis_pool_size: int = Field(50, gt=0, le=1000, validation_alias=_env("REDIS_POOL_SIZE"))

    twilio_account_sid: str | None = Field(None, validation_alias=_env("TWILIO_ACCOUNT_SID", "TWILIO_SID"))
    twilio_auth_token: str | None = Field(None, validation_alias=_env("TWILIO_AUTH_TOKEN", "TWILIO_AUTH"))
    twilio_phone_number: str | None = Field(None, validation_alias=_env("TWILIO_PHONE_NUMBER", "TWILIO_FROM"))
    twilio_messaging_service_sid: str | None = Field(
        None, validation_alias=_env("TWILIO_MESSAGING_SERVICE_SID")
    )
    twilio_api_base_url: str = Field("https://api.twilio.com", validation_alias=_env("TWILIO_API_BASE_URL"))
    twilio_timeout_seconds: float = Field(10.0, gt=0, validation_alias=_env("TWILIO_TIMEOUT_SECONDS"))
    # How long a text Twilio refused for now (429, 503, no connection) keeps being retried, from staging.
    send_retry_window_seconds: float = Field(
        3600.0, ge=0, le=7 * 24 * 3600, validation_alias=_env("SEND_RETRY_WINDOW_SECONDS")
    )
    # Carriers filter senders that burst: the sender's rate in segments per second comes from its type,
    # unless SEND_RATE_PER_SECOND says otherwise (a rate Twilio granted); 0 sends unpaced (tests on a
    # clock that stands still, or when Twilio's own queue is enough).
    sender_type: str = Field("long_code", validation_alias=_env("SENDER_TYPE"))
    send_rate_per_second: float | None = Field(
        None, ge=0, le=10_000, validation_alias=_env("SEND_RATE_PER_SECOND")
    )

    public_base_url: str | None = Field(None, validation_alias=_env("PUBLIC_BASE_URL", "API_BASE_URL"))
    trusted_proxies: str = Field("127.0.0.1,::1", validation_alias=_env("TRUSTED_PROXIES"))
    # Webhook requests that fail the signature check, per client address per window, before they get 429
    # (signed requests are never counted, so Twilio is never refused for rate).
    webhook_forged_limit: int = Field(20, gt=0, le=100_000, validation_alias=_env("WEBHOOK_FORGED_LIMIT"))
    webhook_forged_window_seconds: int = Field(
        60, gt=0, le=24 * 3600, validation_alias=_env("WEBHOOK_FORGED_WINDOW_SECONDS")
    )

    openai_api_key: str | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    llm_model: str = Field("gpt-4o-mini", validation_alias=_env("LLM_MODEL"))
    llm_temperature: float = Field(0.7, ge=0, le=2, validation_alias=_env("LLM_TEMPERATURE"))
    llm_max_tokens: int = Field(150, gt=0, validation_alias=_env("LLM_MAX_TOKENS"))
    llm_timeout_seconds: float = Field(20.0, gt=0, le=55, validation_alias=_env("LLM_TIMEOUT_SECONDS"))
    llm_max_retries: int = Field(1, ge=0, le=5, validation_alias=_env("LLM_MAX_RETRIES"))
    # Native tool calls for the actions: auto offers them until the endpoint refuses; off keeps text tags.
    llm_tools: ToolMode = Field("auto", validation_alias=_env("LLM_TOOLS"))
    # USD per million tokens read and written, for the cost counters (gpt-4o-mini's list prices).
    llm_input_price: float = Field(0.15, ge=0, validation_alias=_env("LLM_INPUT_PRICE_PER_MILLION"))
    llm_output_price: float = Field(0.60, ge=0, validation_alias=_env("LLM_OUTPUT_PRICE_PER_MILLION"))
    # on: images customers send go to the model as image parts (it must be vision-capable); off: it is
    # told an image came, and of what type.
    llm_vision: bool = Field(False, validation_alias=_env("LLM_VISION"))
    # How long a media URL's server has to say its type and size (console attachments, business file).
    media_check_timeout_seconds: float = Field(
        5.0, gt=0, le=30, validation_alias=_env("MEDIA_CHECK_TIMEOUT_SECONDS")
    )

    booking_api_url: str | None = Field(None, validation_alias=_env("BOOKING_API_URL"))
    booking_api_token: str | None = Field(None, validation_alias=_env("BOOKING_API_TOKEN"))
    confirmation_ttl_seconds: int = Field(600, gt=0, validation_alias=_env("CONFIRMATION_TTL_SECONDS"))
    reminder_leads: str = Field("24h,2h", validation_alias=_env("REMINDER_LEADS"))

    phone_region: str = Field("US", min_length=2, max_length=2, validation_alias=_env("PHONE_REGION"))

    chat_api_key: str | None = Field(None, validation_alias=_env("CHAT_API_KEY"))
    app_base_url: str | None = Field(None, validation_alias=_env("APP_BASE_URL"))
    notify_cooldown_seconds: int = Field(60, ge=0, validation_alias=_env("NOTIFY_COOLDOWN_SECONDS"))
    notify_hourly_cap: int = Field(5, gt=0, validation_alias=_env("NOTIFY_HOURLY_CAP"))
    notify_daily_cap: int = Field(30, gt=0, validation_alias=_env("NOTIFY_DAILY_CAP"))
    quiet_hours: str = Field("21:00-09:00", validation_alias=_env("QUIET_HOURS"))
    presence_grace_seconds: float = Field(30.0, ge=0, validation_alias=_env("PRESENCE_GRACE_SECONDS"))
    chat_max_body: int = Field(2000, gt=0, le=100_000, validation_alias=_env("CHAT_MAX_BODY"))
    verify_code_ttl_seconds: int = Field(600, gt=0, validation_alias=_env("VERIFY_CODE_TTL_SECONDS"))
    verify_max_attempts: int = Field(5, gt=0, validation_alias=_env("VERIFY_MAX_ATTEMPTS"))
    business_config: Path | None = Field(None, validation_alias=_env("BUSINESS_CONFIG"))

    history_size: int = Field(10, gt=0, le=100, validation_alias=_env("HISTORY_SIZE"))
    history_ttl_seconds: int = Field(7 * 24 * 3600, gt=0, validation_alias=_env("HISTORY_TTL_SECONDS"))
    burst_window_seconds: float = Field(2.0, ge=0, le=30, validation_alias=_env("BURST_WINDOW_SECONDS"))
    segment_budget: int = Field(2, ge=1, le=10, validation_alias=_env("SEGMENT_BUDGET"))
    turn_lease_seconds: float = Field(90.0, gt=0, validation_alias=_env("TURN_LEASE_SECONDS"))
    # A turn mostly waits for the LLM: with 1 s answers, 512 in flight answer 1,000 numbers in 7 s (256 took
    # 9.5 s) for 10 MB more memory, still well inside one core's CPU.
    worker_concurrency: int = Field(512, gt=0, le=1000, validation_alias=_env("WORKER_CONCURRENCY"))
    auto_reply_limit: int = Field(20, gt=0, validation_alias=_env("AUTO_REPLY_LIMIT"))
    auto_reply_window_seconds: int = Field(300, gt=0, validation_alias=_env("AUTO_REPLY_WINDOW_SECONDS"))
    repeat_text_limit: int = Field(3, gt=0, validation_alias=_env("REPEAT_TEXT_LIMIT"))
    embedded_worker: bool | None = Field(None, validation_alias=_env("EMBEDDED_WORKER"))
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    log_format: Literal["text", "json"] = Field("text", validation_alias=_env("LOG_FORMAT"))
    # Unset: /metrics is open (keep it off the public internet); set: it needs `Authorization: Bearer …`.
    metrics_token: str | None = Field(None, min_length=16, validation_alias=_env("METRICS_TOKEN"))
    # Off by default: every inbound text is logged by the service itself (number masked), and a line per
    # request from uvicorn too costs a webhook a tenth of its time under load.
    access_log: bool = Field(False, validation_alias=_env("ACCESS_LOG"))

    # The staff console (/admin): unset, a random key is generated once and kept in the database.
    admin_secret_key: str | None = Field(None, min_length=32, validation_alias=_env("ADMIN_SECRET_KEY"))
    takeover_minutes: int = Field(240, ge=0, le=10_080, validation_alias=_env("TAKEOVER_MINUTES"))
    sms_segment_price: float = Field(0.0083, ge=0, validation_alias=_env("SMS_SEGMENT_PRICE"))
    # USD per business day / month on texts and the LLM; unset: no limit. At 80 % staff are told; at 100 %
    # proactive texts are held, and replies too with BUDGET_HARD_STOP (never an opt-out confirmation).
    daily_budget: float | None = Field(None, gt=0, validation_alias=_env("DAILY_BUDGET"))
    monthly_budget: float | None = Field(None, gt=0, validation_alias=_env("MONTHLY_BUDGET"))
    budget_hard_stop: bool = Field(False, validation_alias=_env("BUDGET_HARD_STOP"))

    # Staff told when a conversation needs a person: texts to these numbers and/or a signed webhook.
    staff_alert_numbers: str = Field("", validation_alias=_env("STAFF_ALERT_NUMBERS"))
    staff_alert_webhook_url: str | None = Field(None, validation_alias=_env("STAFF_ALERT_WEBHOOK_URL"))
    staff_alert_webhook_secret: str | None = Field(
        None, min_length=16, validation_alias=_env("STAFF_ALERT_WEBHOOK_SECRET")
    )
    staff_alert_cooldown_seconds: float = Field(
        1800.0, ge=0, validation_alias=_env("STAFF_ALERT_COOLDOWN_SECONDS")
    )

    @field_validator("reminder_leads")
    @classmethod
    def _valid_leads(cls, value: str) -> str:
        parse_leads(value)  # a malformed list stops start-up here, naming the part that is wrong
        return value

    @field_validator("staff_alert_numbers")
    @classmethod
    def _valid_staff_numbers(cls, value: str) -> str:
        parse_numbers(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _valid_quiet_hours(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    @field_validator("sender_type")
    @classmethod
    def _known_sender_type(cls, value: str) -> str:
        name = value.strip().lower().replace("-", "_")
        if name not in SENDER_RATES:
            raise ValueError(f"must be one of {', '.join(SENDER_RATES)} (got {value!r})")
        return name

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)} (got {value!r})")
        return value.strip().upper()

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"must be the two-letter region numbers without a country code are from, "
                f"like US or GB (got {value!r})"
            )
        return value.strip().upper()

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if bool(self.twilio_account_sid) != bool(self.twilio_auth_token):
            missing = "TWILIO_AUTH_TOKEN" if self.twilio_account_sid else "TWILIO_ACCOUNT_SID"
            raise ValueError(f"Twilio needs both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: set {missing}")
        if self.twilio_account_sid and not self.twilio_account_sid.startswith("AC"):
            raise ValueError("TWILIO_ACCOUNT_SID must start with 'AC' (find it in the Twilio console)")
        if self.twilio_account_sid and not (self.twilio_phone_number or self.twilio_messaging_service_sid):
            raise ValueError("Twilio needs a sender: set TWILIO_PHONE_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        if self.staff_alert_webhook_url and not self.staff_alert_webhook_secret:
            raise ValueError("STAFF_ALERT_WEBHOOK_URL needs STAFF_ALERT_WEBHOOK_SECRET to sign its requests")
        if self.staff_alert_webhook_url and not self.staff_alert_webhook_url.startswith(
            ("https://", "http://")
        ):
            raise ValueError("STAFF_ALERT_WEBHOOK_URL must be an http(s):// URL")
        if self.twilio_messaging_service_sid and not self.twilio_messaging_service_sid.startswith("MG"):
            raise ValueError("TWILIO_MESSAGING_SERVICE_SID must start with 'MG'")
        if self.openai_base_url and not self.openai_api_key:
            raise ValueError(
                "OPENAI_BASE_URL is set but OPENAI_API_KEY is not: set a key (any value for local servers)"
            )
        for name in (
            "public_base_url",
            "twilio_api_base_url",
            "openai_base_url",
            "app_base_url",
            "booking_api_url",
        ):
            value = getattr(self, name)
            if value and not value.startswith(("http://", "https://")):
                raise ValueError(f"{name.upper()} must start with http:// or https:// (got {value!r})")
        if not self.redis_url.startswith(("memory://", "redis://", "rediss://", "unix://")):
            raise ValueError("REDIS_URL must be memory:// or redis://host:port/db")
        if "+" not in self.database_url.split("://", 1)[0]:
            raise ValueError(
                "DATABASE_URL needs an async driver: sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        if self.business_config and not self.business_config.is_file():
            raise ValueError(f"BUSINESS_CONFIG file not found: {self.business_config}")
        return self

    @property
    def send_rate(self) -> float:
        """Segments per second the sender may send: SEND_RATE_PER_SECOND, else its type's; 0: unpaced."""
        if self.send_rate_per_second is not None:
            return self.send_rate_per_second
        return SENDER_RATES[self.sender_type]

    @property
    def staff_alert_recipients(self) -> tuple[str, ...]:
        return parse_numbers(self.staff_alert_numbers)

    @property
    def reminder_lead_times(self) -> tuple[timedelta, ...]:
        """REMINDER_LEADS as lead times before each appointment, longest first."""
        return parse_leads(self.reminder_leads)

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """QUIET_HOURS as local (start, end), or None when off."""
        return parse_quiet_hours(self.quiet_hours)

    @property
    def twilio_enabled(self) -> bool:
        """True when real Twilio credentials are configured (otherwise the sandbox outbox is used)."""
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def llm_enabled(self) -> bool:
        """True when an OpenAI-compatible endpoint is configured (otherwise the offline engine answers)."""
        return bool(self.openai_api_key)

    @property
    def redis_in_process(self) -> bool:
        return self.redis_url.startswith(MEMORY_REDIS_URL)

    @property
    def runs_embedded_worker(self) -> bool:
        """Whether `serve` runs the worker loop itself (always, when Redis is in-process)."""
        if self.redis_in_process:
            return True
        return bool(self.embedded_worker)

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def consent_scope(self) -> str:
        """Whose opt-outs these are: the Messaging Service, else the sending number (see README)."""
        return self.twilio_messaging_service_sid or self.twilio_phone_number or "sandbox"

    @property
    def status_callback_url(self) -> str | None:
        if not self.public_base_url:
            return None
        return self.public_base_url.rstrip("/") + "/webhooks/twilio/status"


def setting_names() -> frozenset[str]:
    """Every environment variable name the service reads, aliases included."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
    return frozenset(names)


def near_misses(names: Iterable[str]) -> list[str]:
    """Warnings for names that look like one of our settings but aren't one, naming the closest real one."""
    known = setting_names()
    families = {name.split("_", 1)[0] for name in known}
    warnings = []
    for name in sorted(set(names)):
        upper = name.upper()
        if upper in known:
            continue
        # Closer still when it starts like ours (OPENAI_KEY); 0.85 elsewhere keeps TEST_DATABASE_URL quiet.
        cutoff = 0.8 if upper.split("_", 1)[0] in families else 0.85
        closest = difflib.get_close_matches(upper, known, n=1, cutoff=cutoff)
        if closest:
            warnings.append(f"{name} is not a setting and is ignored; did you mean {closest[0]}?")
    return warnings


def environment_near_misses(environ: Iterable[str], env_file: Path = Path(ENV_FILE)) -> list[str]:
    """`near_misses` over the process environment and the .env file that `Settings` reads."""
    names = set(environ)
    if env_file.is_file():
        names.update(dotenv_values(env_file))
    return near_misses(names)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning validation errors into one readable `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error.get("loc", ()) if part)
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        where = f"{field.upper()}: " if field else ""
        raise ConfigError(f"invalid configuration: {where}{message}") from None
