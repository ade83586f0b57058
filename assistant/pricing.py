"""What a text costs before Twilio says: a price per SMS segment, or per MMS, by the destination's country."""

from __future__ import annotations

from collections.abc import Mapping

from assistant.phones import region_of

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
# USD per MMS, whatever its length: Twilio sends MMS only in the US and Canada (elsewhere it is an SMS).
DEFAULT_MMS_PRICES = dict.fromkeys(NORTH_AMERICA, 0.02)


class SmsPrices:
    """Per-segment and per-MMS prices by region code, with the business file's own over the shipped ones."""

    def __init__(
        self,
        home_price: float,
        overrides: Mapping[str, float] = (),
        mms_overrides: Mapping[str, float] = (),
    ) -> None:
        self._prices = {**DEFAULT_PRICES, **dict.fromkeys(NORTH_AMERICA, home_price), **dict(overrides)}
        self._mms = {**DEFAULT_MMS_PRICES, **dict(mms_overrides)}

    def per_segment(self, number: str) -> float:
        """The price of one segment to `number` (E.164)."""
        return self._prices.get(region_of(number) or "default", self._prices["default"])

    def per_mms(self, number: str) -> float | None:
        """The price of one MMS to `number`, or None where no MMS price is known (it goes as SMS there)."""
        return self._mms.get(region_of(number) or "default", self._mms.get("default"))

    def estimate(self, number: str, segments: int, *, mms: bool = False) -> float:
        """What a text costs: one MMS price for an MMS (however long), else its segments at the SMS price."""
        if mms and (price := self.per_mms(number)) is not None:
            return round(price, 6)
        return round(self.per_segment(number) * segments, 6)
