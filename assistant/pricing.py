"""What a text costs before Twilio says: a price per segment by the destination's country."""

from __future__ import annotations

from collections.abc import Mapping

import phonenumbers

# USD per SMS segment, roughly Twilio's list prices: the US and Canada, Western Europe, and everywhere else.
NORTH_AMERICA = ("US", "CA")
WESTERN_EUROPE = (
    "GB",
    "IE",
    "FR",
    "DE",
    "ES",
    "IT",
    "PT",
    "NL",
    "BE",
    "LU",
    "AT",
    "CH",
    "DK",
    "SE",
    "NO",
    "FI",
)
DEFAULT_PRICES = {
    **dict.fromkeys(WESTERN_EUROPE, 0.08),
    "default": 0.10,
}


class SmsPrices:
    """Per-segment prices by region code, with the business file's own over the shipped ones."""

    def __init__(self, home_price: float, overrides: Mapping[str, float] = ()) -> None:
        self._prices = {**DEFAULT_PRICES, **dict.fromkeys(NORTH_AMERICA, home_price), **dict(overrides)}

    def per_segment(self, number: str) -> float:
        """The price of one segment to `number` (E.164)."""
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return self._prices["default"]
        # The number's own region, or its country code's main one for numbers not (yet) allocated.
        region = phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(
            parsed.country_code
        )
        return self._prices.get(region, self._prices["default"])

    def estimate(self, number: str, segments: int) -> float:
        return round(self.per_segment(number) * segments, 6)
