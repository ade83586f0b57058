"""Phone numbers as we store them: E.164, parsed with the phonenumbers library."""

from __future__ import annotations

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
