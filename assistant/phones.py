"""Phone numbers as we store them: E.164, parsed with the phonenumbers library."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str, region: str = "US") -> str:
    """'(415) 555-0100' → '+14155550100'; ValueError with a readable reason when it isn't a number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
