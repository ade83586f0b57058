"""The keyword gate: STOP/START/HELP and plain-language revocation, decided before any LLM sees a text.

An opt-out or opt-in takes effect as the webhook records the text (`consent_event`, applied by
`assistant.inbound`); the gate in the worker then sends its one confirmation, and answers HELP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from assistant.keywords import KeywordSet, classify_phrase
from storage.consent import ConsentBook, ConsentChange
from storage.tables import Message

# Twilio Advanced Opt-Out tells us what it already answered in the webhook's OptOutType.
ADVANCED_OPT_OUT_EVENTS = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}
TWILIO_ANSWERED = "twilio_advanced_opt_out"
OPTED_OUT = "opted_out"

Reply = Literal["opt_out", "opt_in", "help", "opt_out_unclear"]


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """What a text does, on its own, to its number's consent: opt it out, or back in."""

    event: str  # opt_out | opt_in
    matched: str  # the keyword or phrase rule
    source: str  # keyword | phrase | twilio_advanced_opt_out (Twilio has already replied)


async def consent_event(
    keywords: KeywordSet, body: str, opt_out_type: str | None, *, opted_out: Callable[[], Awaitable[bool]]
) -> ConsentEvent | None:
    """The opt-out or opt-in this text is, if any; `opted_out()` is asked only about a YES-like word."""
    advanced = ADVANCED_OPT_OUT_EVENTS.get((opt_out_type or "").upper())
    if advanced in ("opt_out", "opt_in"):
        return ConsentEvent(advanced, (opt_out_type or "").upper(), TWILIO_ANSWERED)
    if advanced is not None:
        return None  # a HELP Twilio answered: recorded by the gate, no change of state
    match = keywords.classify(body)
    if match is not None:
        if match.kind == "help":
            return None
        # "YES" from a subscribed number is ordinary conversation; from an opted-out one, it opts in.
        if match.kind == "opt_in" and keywords.is_conditional_opt_in(match.keyword) and not await opted_out():
            return None
        return ConsentEvent(match.kind, match.keyword, "keyword")
    phrase = classify_phrase(body)
    if phrase is not None and phrase.kind == "opt_out":
        return ConsentEvent("opt_out", phrase.rule, "phrase")
    return None


def decided_details(event: ConsentEvent, change: ConsentChange) -> dict[str, Any]:
    """What the inbound message keeps of the consent change it made, for the gate to confirm later."""
    before = change.state if not change.changed else ("opted_in" if change.state == OPTED_OUT else OPTED_OUT)
    return {
        "consent": {
            "event": event.event,
            "source": event.source,
            "event_id": change.event_id,
            "state": change.state,
            "changed": change.changed,
            "before": before,
        }
    }


@dataclass(frozen=True, slots=True)
class Handled:
    """An inbound text the gate dealt with; `reply` names the template to answer with, if any."""

    message: Message
    reply: Reply | None
    change: ConsentChange | None = None
    language: str = "en"  # the keyword pack the text's word came from: the reply is in that language


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

    async def screen(self, phone: str, inbound: Sequence[Message], *, recorded: str) -> Screening:
        """Go through a burst in arrival order; an opt-out anywhere in it silences the rest.

        `recorded` is the number's state as the turn read it with its texts.
        """
        await self._consent.remember(phone, recorded)
        screening = Screening(opted_out=_state_before(inbound, recorded) == OPTED_OUT)
        for message in inbound:
            handled = await self._screen_one(phone, message, opted_out=screening.opted_out)
            if handled is None:
                screening.conversation.append(message)
                continue
            screening.handled.append(handled)
            if handled.change is not None:
                screening.opted_out = handled.change.state == OPTED_OUT
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
        handled = await self._decide(phone, message, opted_out=opted_out)
        if handled is not None and (match := self._keywords.classify(message.body)) is not None:
            return replace(handled, language=match.language)
        return handled

    async def _decide(self, phone: str, message: Message, *, opted_out: bool) -> Handled | None:
        decided = message.details.get("consent")
        if decided is not None:  # recorded with the text at the webhook: only the answer is left to do
            change = ConsentChange(decided["event_id"], decided["state"], decided["changed"])
            return self._answer(message, decided["event"], decided["source"], change, opted_out)

        # Texts recorded without the edge decision (before it existed) are decided here, as they were.
        advanced = message.details.get("opt_out_type")
        event = await consent_event(self._keywords, message.body, advanced, opted_out=_const(opted_out))
        if event is not None:
            change = await self._record(phone, message, event.event, event.matched, event.source)
            return self._answer(message, event.event, event.source, change, opted_out)
        if (advanced or "").upper() == "HELP":
            change = await self._record(phone, message, "help", "HELP", TWILIO_ANSWERED)
            return self._answer(message, "help", TWILIO_ANSWERED, change, opted_out)
        match = self._keywords.classify(message.body)
        if match is not None and match.kind == "help":
            change = await self._record(phone, message, "help", match.keyword, "keyword")
            return self._answer(message, "help", "keyword", change, opted_out)
        if match is None and classify_phrase(message.body) is not None and not opted_out:
            return Handled(message, "opt_out_unclear")  # a doubtful revocation: ask them to text STOP
        return None

    @classmethod
    def _answer(
        cls, message: Message, kind: str, source: str, change: ConsentChange, opted_out: bool
    ) -> Handled:
        # Twilio Advanced Opt-Out has already replied to what it handled.
        reply = None if source == TWILIO_ANSWERED else cls._reply_for(kind, change, opted_out)
        return Handled(message, reply, change)

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


def _const(value: bool) -> Callable[[], Awaitable[bool]]:
    async def answer() -> bool:
        return value

    return answer


def _state_before(inbound: Sequence[Message], recorded: str) -> str:
    """The number's state when the burst began: changes its texts made at the webhook come later."""
    for message in inbound:
        if decided := message.details.get("consent"):
            return str(decided["before"])
    return recorded
