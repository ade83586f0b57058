"""Who each text comes from: the number the customer texted, else their country's sender, else the default."""

from __future__ import annotations

import re
from collections.abc import Mapping

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.phones import regions
from assistant.settings import ConfigError, Settings
from assistant.sms.sandbox import DEFAULT_SENDER
from assistant.text_kinds import ONE_WAY_KINDS

# Twilio's rules for an alphanumeric sender ID: at most 11 ASCII letters, digits and spaces, not only digits.
ALPHANUMERIC = re.compile(r"[A-Za-z0-9 ]{1,11}")
# Where no alphanumeric sender ID reaches anyone: the US and Canada (and the US's territories, on its
# numbering plan). Twilio lists the other countries that refuse them; a send there fails with 21612.
NO_ALPHANUMERIC = frozenset({"US", "CA", "PR", "VI", "GU", "AS", "MP", "UM"})
# A country's own number is a long code unless the business file says its rate: 1 segment per second.
COUNTRY_RATE = 1.0
EXAMPLE = 'GB = "+447700100200", DE = "Acme"'


class CountrySender(BaseModel):
    """The sender for one destination country: its own number, or an alphanumeric sender ID."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender: str = Field(min_length=1)
    rate: float | None = Field(None, ge=0)  # segments per second; None: a long code's, 0: unpaced

    @property
    def one_way(self) -> bool:
        return is_alphanumeric(self.sender)


def is_alphanumeric(sender: str) -> bool:
    """Whether `sender` is an alphanumeric sender ID (one-way: nobody can text it back)."""
    return ALPHANUMERIC.fullmatch(sender) is not None and any(c.isalpha() for c in sender)


def country_senders(raw: object) -> dict[str, CountrySender]:
    """The business file's `[senders]` table, checked; a ValueError names the entry that is wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"must be a table of region = sender ({EXAMPLE})")
    senders: dict[str, CountrySender] = {}
    for region, entry in raw.items():
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{region!r} is not a region code (two capital letters: GB, DE, FR)")
        try:
            sender = CountrySender.model_validate({"sender": entry} if isinstance(entry, str) else entry)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = "".join(f"{part}: " for part in error["loc"])
            raise ValueError(f"{region}: {where}{error['msg']} ({EXAMPLE})") from None
        if problem := _problem(region, sender.sender):
            raise ValueError(f"{region} sender {sender.sender!r} {problem}")
        senders[region] = sender
    return senders


def _problem(region: str, sender: str) -> str | None:
    """What is wrong with `sender` for texts to `region`, if anything."""
    if is_alphanumeric(sender):
        if region in NO_ALPHANUMERIC:
            return (
                f"is an alphanumeric sender ID, and {region} numbers can't get texts from one: use a number"
            )
        return None
    if not sender.startswith("+"):
        return (
            "is neither a number in E.164 (+447700100200) nor an alphanumeric sender ID "
            "(1-11 letters, digits or spaces, at least one letter)"
        )
    try:
        number = phonenumbers.parse(sender, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return "is not a valid phone number"
    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != sender:
        return f"must be written in E.164: {phonenumbers.format_number(number, 0)}"
    # A country's own number: one from another country is what the default sender is for.
    expected = phonenumbers.country_code_for_region(region)
    if number.country_code != expected:
        return f"is a +{number.country_code} number, not one of {region}'s (+{expected})"
    return None


class Senders:
    """Chooses each text's sender, which ones the gateway must be told of, and how fast each may go."""

    def __init__(
        self,
        default: str,
        countries: Mapping[str, CountrySender] | None = None,
        *,
        reply_number: str | None = None,
        pacing_key: str | None = None,
        rate: float = 0.0,
    ) -> None:
        self.default = default  # recorded on texts from the default sender (the gateway may name another)
        self.reply_number = reply_number  # where texts from a sender ID tell customers to reply
        self._countries = dict(countries or {})
        one_way = [region for region, entry in self._countries.items() if entry.one_way]
        if one_way and not reply_number:
            raise ConfigError(
                f"business config: senders.{one_way[0]} is an alphanumeric sender ID, which can't take "
                "replies: set TWILIO_PHONE_NUMBER, the number its texts name for replies and STOP"
            )
        # A country sender that is the default number is simply the default.
        self._own = {entry.sender: entry for entry in self._countries.values() if entry.sender != default}
        self._pacing_key = pacing_key or default
        self._rate = rate

    @classmethod
    def from_settings(cls, settings: Settings, countries: Mapping[str, CountrySender]) -> Senders:
        """The default sender from the settings, and the business file's senders per country."""
        # Without Twilio the sandbox "sends" from its own number, which the phone simulator texts.
        default = settings.twilio_phone_number or settings.twilio_messaging_service_sid or DEFAULT_SENDER
        reply = settings.twilio_phone_number or (None if settings.twilio_enabled else DEFAULT_SENDER)
        return cls(
            default,
            countries,
            reply_number=reply,
            # The gateway sends from the Messaging Service when one is set (it wins), else from the number.
            pacing_key=settings.twilio_messaging_service_sid or default,
            rate=settings.send_rate,
        )

    def choose(self, phone: str, kind: str, *, texted: str | None = None) -> str:
        """The sender for a `kind` text to `phone`; `texted` is the business number they texted, if this
        answers them."""
        if texted:
            # Answered from the number they texted: a country's own, or the default (or a Messaging
            # Service's, which the gateway sends the default way: see `explicit`).
            return texted
        own, main = regions(phone)
        entry = self._countries.get(own or "") or self._countries.get(main or "")
        # A sender ID can't be texted back, so only texts that expect no answer go from one.
        if entry is None or (entry.one_way and kind not in ONE_WAY_KINDS):
            return self.default
        return entry.sender

    def explicit(self, sender: str) -> str | None:
        """The From the gateway must use for a text recorded from `sender`; None: the gateway's default."""
        # Any other number (the default, or one of a Messaging Service's pool) goes the default way.
        return sender if sender in self._own else None

    def is_one_way(self, sender: str) -> bool:
        entry = self._own.get(sender)
        return entry is not None and entry.one_way

    @property
    def pacing_key(self) -> str:
        """Whose send slots texts from the default sender take."""
        return self._pacing_key

    @property
    def default_rate(self) -> float:
        """The default sender's rate in segments per second (0: unpaced)."""
        return self._rate

    def own_rates(self) -> dict[str, float]:
        """Each country sender's rate in segments per second (0: unpaced), by the sender as recorded."""
        # Twilio's limits are per sender, so each country sender has a bucket of its own. Left unset, its
        # rate is a long code's, unless pacing is off (SEND_RATE_PER_SECOND=0).
        unset = COUNTRY_RATE if self._rate else 0.0
        rates: dict[str, float] = {}
        for entry in self._countries.values():
            if entry.sender in self._own:
                rate = entry.rate if entry.rate is not None else unset
                # One sender named for several countries is one sender to Twilio: its slowest rate.
                rates[entry.sender] = min(rate, rates.get(entry.sender, rate))
        return rates
