"""The keyword gate: STOP/START/HELP and plain-language revocation, decided before any LLM sees a text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from assistant.keywords import KeywordSet, classify_phrase
from storage.consent import ConsentBook, ConsentChange
from storage.tables import Message

# Twilio Advanced Opt-Out tells us what it already answered in the webhook's OptOutType.
ADVANCED_OPT_OUT_EVENTS = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}

Reply = Literal["opt_out", "opt_in", "help", "opt_out_unclear"]


@dataclass(frozen=True, slots=True)
class Handled:
    """An inbound text the gate dealt with; `reply` names the template to answer with, if any."""

    message: Message
    reply: Reply | None
    change: ConsentChange | None = None


@dataclass(slots=True)
class Screening:
    """The gate's verdict on a burst: texts it handled, and texts left for the conversation engine."""

    handled: list[Handled] = field(default_factory=list)
    conversation: list[Message] = field(default_factory=list)
    opted_out: bool = False


class KeywordGate:
    """Classifies each inbound text and records consent changes; it never calls the LLM."""

    def __init__(self, keywords: KeywordSet, consent: ConsentBook) -> None:
        self._keywords = keywords
        self._consent = consent

    async def screen(self, phone: str, inbound: Sequence[Message]) -> Screening:
        """Go through a burst in arrival order; an opt-out anywhere in it silences the rest."""
        screening = Screening(opted_out=await self._consent.cached_state(phone) == "opted_out")
        for message in inbound:
            handled = await self._screen_one(phone, message, opted_out=screening.opted_out)
            if handled is None:
                screening.conversation.append(message)
                continue
            screening.handled.append(handled)
            if handled.change is not None:
                screening.opted_out = handled.change.state == "opted_out"
        if screening.opted_out:
            # STOP wins: nothing else from this burst reaches the engine once the number is opted out.
            screening.handled += [Handled(message, None) for message in screening.conversation]
            screening.conversation = []
        return screening

    async def confirmation_sent(self, change: ConsentChange, sid: str | None) -> None:
        """Tie the confirmation text's SID to the ledger entry it confirms."""
        if sid:
            await self._consent.attach_confirmation(change.event_id, sid)

    async def _screen_one(self, phone: str, message: Message, *, opted_out: bool) -> Handled | None:
        advanced = message.details.get("opt_out_type")
        if advanced in ADVANCED_OPT_OUT_EVENTS:
            change = await self._record(
                phone, message, ADVANCED_OPT_OUT_EVENTS[advanced], advanced, "twilio_advanced_opt_out"
            )
            return Handled(message, None, change)  # Twilio has already replied

        match = self._keywords.classify(message.body)
        conditional = match is not None and self._keywords.is_conditional_opt_in(match.keyword)
        if match is not None and match.kind == "opt_in" and conditional and not opted_out:
            match = None  # "YES" from a subscribed number is ordinary conversation
        if match is not None:
            change = await self._record(phone, message, match.kind, match.keyword, "keyword")
            return Handled(message, self._reply_for(match.kind, change, opted_out), change)

        phrase = classify_phrase(message.body)
        if phrase is not None and phrase.kind == "opt_out":
            change = await self._record(phone, message, "opt_out", phrase.rule, "phrase")
            return Handled(message, self._reply_for("opt_out", change, opted_out), change)
        if phrase is not None and not opted_out:
            return Handled(message, "opt_out_unclear")
        return None

    @staticmethod
    def _reply_for(kind: str, change: ConsentChange, opted_out: bool) -> Reply | None:
        if kind == "opt_out":
            return "opt_out" if change.changed else None  # one confirmation, never a second
        if kind == "opt_in":
            return "opt_in"
        # HELP from an opted-out number is recorded but not answered: only the confirmation may go there.
        return None if opted_out else "help"

    async def _record(
        self, phone: str, message: Message, event: str, matched: str, source: str
    ) -> ConsentChange:
        return await self._consent.record(
            phone, event, source=source, raw_text=message.body, matched=matched, inbound_sid=message.sid
        )
