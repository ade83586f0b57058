"""Phone numbers as we store them: E.164, parsed with the phonenumbers library."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

EXAMPLES = "e.g. (415) 555-0123, or +44 20 7946 0018 with the country code"


def to_e164(raw: str, region: str = "US") -> str:
    """'(415) 555-0100' → '+14155550100'; ValueError with a readable reason when it isn't a number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{raw!r} is not a phone number ({EXAMPLES})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number ({EXAMPLES})") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def regions(number: str) -> tuple[str | None, str | None]:
    """An E.164 number's own region and its country code's main one (+44 7911…: GG, GB); None, None if it
    doesn't parse. Cached: every outbound text asks it about its recipient for its sender, price and MMS."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None, None
    return phonenumbers.region_code_for_number(parsed), phonenumbers.region_code_for_country_code(
        parsed.country_code
    )


def region_of(number: str) -> str | None:
    """The region code of a number (E.164): its own, or its country code's main one if not allocated."""
    own, main = regions(number)
    return own or main
