"""What Twilio's delivery error codes mean and what to do about each, for the console and staff alerts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorHelp:
    """One error code explained: what happened, and what staff or the operator can do."""

    code: int
    meaning: str
    action: str


_KNOWN = (
    ErrorHelp(
        21211,
        "The 'To' number is not a valid phone number.",
        "Check the customer's number in the Customers page; it may have a typo or a missing country code.",
    ),
    ErrorHelp(
        21408,
        "Sending to this region is not enabled on the Twilio account.",
        "Enable the country under Messaging > Settings > Geo permissions in the Twilio console.",
    ),
    ErrorHelp(
        21610,
        "The recipient replied STOP to this sender; Twilio blocks texts to them.",
        "Nothing to do: the number is recorded as opted out. They can text START to opt back in.",
    ),
    ErrorHelp(
        21614,
        "The 'To' number is not a mobile number (a landline, say).",
        "Ask the customer for a mobile number; landlines can't receive SMS.",
    ),
    ErrorHelp(
        30003,
        "Unreachable destination: the handset is off or out of coverage.",
        "Usually temporary. If it keeps happening for one customer, reach them another way.",
    ),
    ErrorHelp(
        30004,
        "Message blocked by the recipient or their carrier.",
        "The customer may have blocked the number; don't resend. Confirm they still want texts.",
    ),
    ErrorHelp(
        30005,
        "Unknown destination: the number doesn't exist or is no longer in service.",
        "Remove or correct the number; resending won't help.",
    ),
    ErrorHelp(
        30006,
        "Landline or unreachable carrier.",
        "The number can't receive SMS; ask the customer for a mobile number.",
    ),
    ErrorHelp(
        30007,
        "Filtered by the carrier as spam or unregistered traffic.",
        "Check the sender's A2P 10DLC or toll-free registration, and avoid link shorteners and ALL CAPS.",
    ),
    ErrorHelp(
        30008,
        "Unknown error from the carrier.",
        "Usually temporary; retry later. If it persists, open a ticket with Twilio support.",
    ),
    ErrorHelp(
        30034,
        "Sent from an unregistered US 10DLC number.",
        "Register the brand and campaign (A2P 10DLC) in the Twilio console, then add the number to it.",
    ),
    ErrorHelp(
        63018,
        "The sender exceeded its rate limit.",
        "Send more slowly (a long code sends about 1 segment per second) or use a Messaging Service.",
    ),
)
ERRORS: dict[int, ErrorHelp] = {help.code: help for help in _KNOWN}


def explain(code: int) -> ErrorHelp:
    """The help for `code`, or a pointer to Twilio's reference for one not listed here."""
    return ERRORS.get(code) or ErrorHelp(
        code,
        "An error this console doesn't describe.",
        f"See https://www.twilio.com/docs/api/errors/{code} for what it means.",
    )
