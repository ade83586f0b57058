"""The business the assistant speaks for: name, time zone, opening hours, services and prices."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.keywords import KeywordSet
from assistant.senders import CountrySender, country_senders
from assistant.settings import ConfigError
from assistant.sms.media import check_urls

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_BUSINESS_FILE = Path(__file__).resolve().parent.parent / "business.example.toml"


class Service(BaseModel):
    """Something a customer can book."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    duration_minutes: int = Field(gt=0, le=24 * 60)
    capacity: int = Field(1, gt=0)
    price: float = Field(0.0, ge=0)


class Faq(BaseModel):
    """A question customers ask, the answer to send, and the words or phrases that ask it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1, max_length=200)
    answer: str = Field(min_length=1, max_length=320)  # two SMS segments at most
    keywords: tuple[str, ...] = ()
    # Images sent with this answer, as an MMS (a map with "where are you located?"); checked at start-up.
    media: tuple[str, ...] = ()

    @field_validator("media")
    @classmethod
    def _media_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_urls(value)


class KeywordSettings(BaseModel):
    """Which keyword language packs the gate uses, and extra words the business adds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: tuple[str, ...] = ("en", "es", "fr", "de")
    opt_out: tuple[str, ...] = ()
    opt_in: tuple[str, ...] = ()
    help: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _known_languages(self) -> KeywordSettings:
        self.keyword_set()  # raises ValueError naming an unknown language
        return self

    def keyword_set(self) -> KeywordSet:
        return KeywordSet.build(
            self.languages, extra_opt_out=self.opt_out, extra_opt_in=self.opt_in, extra_help=self.help
        )


class OpeningHours(BaseModel):
    """One day's opening interval, local time."""

    model_config = ConfigDict(frozen=True)

    opens: time
    closes: time


class Business(BaseModel):
    """The business configuration file, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    timezone: str
    phone: str | None = None
    website: str | None = None
    address: str | None = None
    slot_minutes: int = Field(30, gt=0, le=24 * 60)
    closures: tuple[date, ...] = ()
    hours: dict[str, OpeningHours] = Field(default_factory=dict)
    services: tuple[Service, ...] = ()
    faq: tuple[Faq, ...] = ()
    # USD per SMS segment by region code ("GB", or "default" for any other), over the shipped price table.
    sms_prices: dict[str, float] = Field(default_factory=dict)
    # USD per MMS by region code, over the shipped US/CA price ($0.02).
    mms_prices: dict[str, float] = Field(default_factory=dict)
    # Images sent with the reply of an action that succeeded, by action name (SCHEDULE, INFO, ...).
    action_media: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    keywords: KeywordSettings = KeywordSettings()
    # The sender per destination region ("GB"): its own number, or an alphanumeric sender ID.
    senders: dict[str, CountrySender] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like America/New_York)"
            ) from None
        return value

    @field_validator("hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: object) -> dict[str, OpeningHours]:
        if not isinstance(value, dict):
            raise ValueError('must be a table of weekday = "HH:MM-HH:MM"')
        parsed: dict[str, OpeningHours] = {}
        for day, span in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)})")
            try:
                opens, closes = (time.fromisoformat(part.strip()) for part in str(span).split("-"))
            except ValueError:
                raise ValueError(f'{day} must look like "09:00-17:00" (got {span!r})') from None
            if closes <= opens:
                raise ValueError(f"{day} closes before it opens ({span})")
            parsed[day] = OpeningHours(opens=opens, closes=closes)
        return parsed

    @field_validator("senders", mode="before")
    @classmethod
    def _parse_senders(cls, value: object) -> dict[str, CountrySender]:
        return country_senders(value)

    @field_validator("action_media")
    @classmethod
    def _action_media(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, urls in value.items():
            if not name.isidentifier() or name != name.upper():
                raise ValueError(f"{name!r} is not an action name (use SCHEDULE, INFO, ...)")
            try:
                check_urls(urls)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return {name: check_urls(urls) for name, urls in value.items()}

    @field_validator("services")
    @classmethod
    def _unique_services(cls, value: tuple[Service, ...]) -> tuple[Service, ...]:
        names = [service.name.casefold() for service in value]
        if len(names) != len(set(names)):
            raise ValueError("service names must be unique")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def template_values(self) -> dict[str, object]:
        """The business as plain values for prompt templates (never the model object itself)."""
        return {
            "name": self.name,
            "timezone": self.timezone,
            "phone": self.phone,
            "website": self.website,
            "address": self.address,
            "hours": self.hours_summary(),
            "services": [service.model_dump() for service in self.services],
            "faq": [{"question": entry.question, "answer": entry.answer} for entry in self.faq],
        }

    def describe_time(self, moment: datetime) -> str:
        """A moment as customers read it, in the business's zone: 'Tue Nov 24 6:00 PM'."""
        local = moment.astimezone(self.zone) if moment.tzinfo else moment
        return f"{local:%a %b} {local.day} {_clock(local.time())}"

    def timestamp(self, moment: datetime, *, seconds: bool = False) -> str:
        """A moment as staff read it, in the business's zone, naming it: '2026-11-24 11:00 PST'."""
        local = moment.astimezone(self.zone)
        return local.strftime(f"%Y-%m-%d %H:%M{':%S' if seconds else ''} %Z")

    def service(self, name: str) -> Service | None:
        """The service with this name, ignoring case."""
        wanted = name.strip().casefold()
        return next((service for service in self.services if service.name.casefold() == wanted), None)

    def hours_on(self, day: date) -> OpeningHours | None:
        """Opening hours on a local date, or None when closed."""
        if day in self.closures:
            return None
        return self.hours.get(WEEKDAYS[day.weekday()])

    def is_open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        hours = self.hours_on(local.date())
        return hours is not None and hours.opens <= local.time() < hours.closes

    def fits(self, service: Service, start: datetime) -> bool:
        """Whether the whole service fits inside opening hours when it starts at `start`."""
        local = start.astimezone(self.zone)
        hours = self.hours_on(local.date())
        if hours is None:
            return False
        end = local + timedelta(minutes=service.duration_minutes)
        return hours.opens <= local.time() and end.date() == local.date() and end.time() <= hours.closes

    def hours_summary(self) -> list[str]:
        """Opening hours as short human lines, e.g. 'Mon-Thu 6:00 AM-9:00 PM'."""
        lines: list[str] = []
        run: list[str] = []
        previous: OpeningHours | None = None
        for day in (*WEEKDAYS, None):
            current = self.hours.get(day) if day else None
            if run and (current != previous or day is None):
                label = run[0].title() if len(run) == 1 else f"{run[0].title()}-{run[-1].title()}"
                lines.append(
                    f"{label} {_clock(previous.opens)}-{_clock(previous.closes)}" if previous else ""
                )
                run = []
            if day and current:
                run.append(day)
            previous = current
        return [line for line in lines if line]


def _clock(value: time) -> str:
    return value.strftime("%I:%M %p").lstrip("0")


def load_business(path: Path | None) -> Business:
    """Read and validate the business file; errors name the field that is wrong."""
    source = path or DEFAULT_BUSINESS_FILE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"business config not found: {source}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"business config {source} is not valid TOML: {exc}") from None
    try:
        return Business.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"business config {source}: {field}: {message}") from None
