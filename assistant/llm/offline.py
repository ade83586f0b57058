"""The offline engine: deterministic rules that answer like the LLM, [ACTION:...] tags included.

It answers when no LLM is configured and when the LLM fails. It reads the turn's facts, never the
rendered prompt: what the customer wrote and attached, and their upcoming appointments (that list is how
"cancel my yoga" finds appointment 42), so a staff edit of the system template cannot break it. It follows
the conversation's recent messages, so "friday at 7" answers the question its last reply asked and
"actually make it 7" corrects what was just booked. Without facts (called on its own) it reads the last
user message and knows no appointments.
It never says an action succeeded: the booking handler's result is added to the reply by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from actions.phrases import local_day
from assistant.business import Business, Service
from assistant.llm import phrases
from assistant.llm.dialogue import Thread, follow
from assistant.llm.facts import TurnFacts
from assistant.llm.faq import FaqIndex
from assistant.llm.language import language_of
from assistant.llm.patterns import BARE_NUMBER
from assistant.llm.port import ChatMessage, Completion, Toolbox
from assistant.llm.reading import Reader, Reading
from assistant.llm.when import When
from storage.clock import system_clock


@dataclass(frozen=True)
class Upcoming:
    """An appointment the customer has, as the system prompt lists it (or only its id, when named)."""

    id: str
    service: str | None = None
    start: datetime | None = None

    def describe(self, language: str = "en") -> str:
        """How a reply names it: 'Yoga on Tue Nov 24 at 6:00 PM', or 'appointment #42'."""
        if self.service and self.start:
            return phrases.reply(
                language, "named", service=self.service, when=phrases.when(language, self.start)
            )
        return phrases.reply(language, "numbered", id=self.id)


@dataclass(frozen=True)
class Request:
    """What the customer wants done, from their text and the thread it continues."""

    intent: str | None
    language: str = "en"
    text: str = ""
    service: Service | None = None
    when: When = field(default_factory=When)  # book, move: the time asked for; cancel: the day named
    appointment_id: str | None = None
    next_one: bool = False
    guessed: tuple[str, ...] = ()  # what was assumed: a booking then waits for the customer's YES


class OfflineEngine:
    """A `ChatModel` that answers from rules, without any network."""

    name = "offline"

    def __init__(self, business: Business, clock: Callable[[], datetime] | None = None) -> None:
        self.business = business
        self.clock = clock or system_clock
        self._reader = Reader(business, self.clock)
        self._faq = FaqIndex(business.faq)
        self._handlers: dict[str, Callable[[Request, list[Upcoming]], str]] = {
            "cancel": self._cancel,
            "move": self._move,
            "mine": self._mine,
            "book": self._book,
            "hours": self._hours,
            "prices": self._prices,
            "service": self._about_service,
            "thanks": self._thanks,
            "greeting": self._greeting,
        }

    async def complete(
        self, messages: list[ChatMessage], facts: TurnFacts | None = None, tools: Toolbox | None = None
    ) -> Completion:
        """Answer the last user message."""
        return Completion(self.reply(messages, facts))

    async def aclose(self) -> None:
        """Nothing to release."""

    def reply(self, messages: list[ChatMessage], facts: TurnFacts | None = None) -> str:
        """The synchronous core of `complete`."""
        if facts is None:
            text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "").strip()
            upcoming: list[Upcoming] = []
            media: list[str] = []
        else:
            text, media = facts.words.strip(), list(facts.attachments)
            # Naive local times, as the customer says them and as action tags are written.
            upcoming = [
                Upcoming(id=a.id, service=a.service, start=facts.local(a.start)) for a in facts.appointments
            ]
        language = facts.language if facts is not None else language_of(text, self._reader.languages)
        if media and not text:
            return self._media(media, language)
        reading = self._reader.read(text, language)
        if reading.intent == "handoff":
            return self._handoff(language)
        if (entry := self._faq.answer_for(reading.text)) is not None:
            return entry.answer
        if reading.intent is None and self.business.address and reading.asks_where:
            return phrases.reply(language, "where", address=self.business.address)
        if reading.declines:
            return phrases.reply(language, "decline")
        if reading.agrees:  # a YES with nothing waiting for it
            return phrases.reply(language, "agree")
        thread = follow(messages, self._reader, language)
        request = self._continued(reading, thread, upcoming) or self._fresh(reading, thread)
        handler = self._handlers.get(request.intent or "")
        if handler is not None:
            return handler(request, upcoming)
        # Words it can't place beside a picture are most likely about the picture, which it can't see.
        return self._media(media, language) if media else phrases.reply(language, "unknown")

    def _fresh(self, reading: Reading, thread: Thread) -> Request:
        """The request a text makes on its own ("book it" books the service just talked about)."""
        when = reading.when
        if reading.intent == "move":  # "move my tuesday yoga to friday at 9": the new time follows "to"
            when = self._reader.when_in(reading.time_asked_for, language=reading.language)
        service = reading.service or (thread.service if reading.intent == "book" else None)
        return Request(
            reading.intent,
            language=reading.language,
            text=reading.text,
            service=service,
            when=when,
            appointment_id=reading.appointment_id,
            next_one=reading.next_one,
            guessed=reading.guessed,
        )

    def _continued(self, reading: Reading, thread: Thread, upcoming: list[Upcoming]) -> Request | None:
        """The thread's request with this text's answer or correction in it; None if it starts anew."""
        if not thread.open:
            return None
        if reading.intent not in (None, "service", thread.intent) and not reading.correction:
            return None  # a new question or request
        typos = tuple(guess for guess in reading.guessed if "→" in guess)
        just_done = next((a for a in upcoming if a.id == thread.appointment_id), None)
        # "actually make it 7" or "friday instead", just after it was booked (or a move was asked), moves that
        # appointment; "book yoga tomorrow" after a spin booking is a booking of its own.
        correcting = reading.correction or reading.intent is None
        other_service = (
            reading.service is not None
            and just_done is not None
            and just_done.service != reading.service.name
        )
        if (
            just_done is not None
            and just_done.start
            and thread.intent in ("book", "move")
            and correcting
            and not other_service
        ):
            start = just_done.start
            when = self._reader.when_in(
                reading.text, day=start.date(), near=start.time(), loose=True, language=reading.language
            )
            if when.empty:
                return None
            moved = When(day=when.day or start.date(), clock=when.clock or start.time())
            return Request(
                "move",
                language=reading.language,
                text=reading.text,
                appointment_id=just_done.id,
                when=moved,
                guessed=typos,
            )
        if not thread.asked:
            return None
        when = self._reader.when_in(
            reading.text, day=thread.day, near=thread.clock, loose=True, language=reading.language
        )
        merged = When(day=when.day or thread.day, clock=when.clock or thread.clock, assumed=when.assumed)
        bare = BARE_NUMBER.match(reading.text)
        return Request(
            thread.intent,
            language=reading.language,
            text=reading.text,
            service=reading.service or thread.service,
            when=merged if thread.intent != "cancel" else when,
            appointment_id=reading.appointment_id or (bare[1] if bare else None),
            next_one=reading.next_one,
            guessed=typos + when.assumed,
        )

    # --- one function per intent ---

    def _greeting(self, request: Request, upcoming: list[Upcoming]) -> str:
        return phrases.reply(request.language, "greeting", name=self.business.name)

    def _hours(self, request: Request, upcoming: list[Upcoming]) -> str:
        lines = self.business.hours_summary()
        if not lines:
            return phrases.reply(request.language, "call_for_hours", phone=self._phone(request.language))
        hours = phrases.hours(request.language, lines)
        return phrases.reply(request.language, "hours", name=self.business.name, hours=hours)

    def _prices(self, request: Request, upcoming: list[Upcoming]) -> str:
        language, service = request.language, request.service
        if service:
            line = phrases.reply(
                language,
                "service_line",
                service=service.name,
                price=_price(service.price),
                minutes=service.duration_minutes,
            )
            return line + phrases.reply(language, "offer")
        if not self.business.services:
            return phrases.reply(language, "call_for_services", phone=self._phone(language))
        return phrases.reply(language, "we_offer", services=self._service_list())

    def _about_service(self, request: Request, upcoming: list[Upcoming]) -> str:
        # A service with a day or time ("yoga tomorrow at 6pm?") is a booking request without the verb.
        if not request.when.empty:
            return self._book(request, upcoming)
        return self._prices(request, upcoming)

    def _book(self, request: Request, upcoming: list[Upcoming]) -> str:
        language, service, when = request.language, request.service, request.when
        if service is None:
            if not self.business.services:
                return phrases.reply(language, "call_to_book", phone=self._phone(language))
            return phrases.reply(language, "which_service", services=self._service_list())
        if when.start is None:
            if when.day is not None:
                day = local_day(language, when.day)
                return phrases.reply(language, "ask_time", day=day, service=service.name)
            return phrases.reply(language, "ask_day_time", service=service.name)
        # Only the tag: the handler's "Booked: ..." (or its question, when it was guessed) is the reply.
        ask = ' ask="yes"' if request.guessed else ""
        return f'[ACTION:SCHEDULE service="{service.name}" start="{_iso(when.start)}"{ask}]'

    def _move(self, request: Request, upcoming: list[Upcoming]) -> str:
        language = request.language
        appointment, choices = self._choose(request, upcoming, day=None)
        if appointment is None:
            return self._ask_which(language, "move", choices)
        start, what = request.when.start, appointment.describe(language)
        if start is None:
            if request.when.day is not None:
                return phrases.reply(
                    language, "move_time", day=local_day(language, request.when.day), what=what
                )
            return phrases.reply(language, "move_day_time", what=what)
        return phrases.reply(language, "moving", what=what, when=phrases.when(language, start)) + (
            f'[ACTION:UPDATE appointment="{appointment.id}" start="{_iso(start)}"]'
        )

    def _cancel(self, request: Request, upcoming: list[Upcoming]) -> str:
        appointment, choices = self._choose(request, upcoming, day=request.when.day)
        if appointment is None:
            return self._ask_which(request.language, "cancel", choices)
        words = phrases.reply(request.language, "cancelling", what=appointment.describe(request.language))
        return words + f'[ACTION:CANCEL appointment="{appointment.id}"]'

    def _mine(self, request: Request, upcoming: list[Upcoming]) -> str:
        language = request.language
        if not upcoming:
            return phrases.reply(language, "none_upcoming")
        soonest = sorted(upcoming, key=lambda a: a.start or datetime.max)
        if len(soonest) == 1 or request.next_one or re.search(r"\bnext\b", request.text, re.IGNORECASE):
            later = phrases.reply(language, "more", count=len(soonest) - 1) if len(soonest) > 1 else ""
            return phrases.reply(
                language, "next", what=soonest[0].describe(language), id=soonest[0].id, later=later
            )
        listed = "; ".join(f"{a.describe(language)} (#{a.id})" for a in soonest)
        return phrases.reply(language, "upcoming", listed=listed)

    def _handoff(self, language: str) -> str:
        # The handler's result says a person will follow up; this only adds the quicker route.
        phone = self.business.phone
        call = phrases.reply(language, "urgent", phone=phone) if phone else ""
        return f'{call}[ACTION:HANDOFF reason="customer asked for a person"]'

    def _thanks(self, request: Request, upcoming: list[Upcoming]) -> str:
        return phrases.reply(request.language, "thanks")

    def _media(self, attachments: list[str], language: str) -> str:
        """Say what came (it can't look at it) and offer a person: "AGENT" hands the thread to staff."""
        pictures = all(what.lower().startswith("image/") for what in attachments)
        key = "picture" if pictures else "attachment"
        many = len(attachments) > 1
        return phrases.reply(language, f"{key}s" if many else key, count=len(attachments))

    # --- helpers ---

    def _service_list(self) -> str:
        services = self.business.services
        return ", ".join(f"{s.name} {_price(s.price)} ({s.duration_minutes} min)" for s in services)

    def _choose(
        self, request: Request, upcoming: list[Upcoming], day: date | None
    ) -> tuple[Upcoming | None, list[Upcoming]]:
        """The appointment the customer means, or None and the ones to ask about."""
        if request.appointment_id is not None:
            listed = next((a for a in upcoming if a.id == request.appointment_id), None)
            return listed or Upcoming(id=request.appointment_id), []
        candidates = upcoming
        if request.service is not None:
            wanted = request.service.name.casefold()
            candidates = [a for a in candidates if a.service and a.service.casefold() == wanted]
        if day is not None:
            candidates = [a for a in candidates if a.start and a.start.date() == day] or candidates
        if len(candidates) > 1 and request.next_one:  # "my next class": the soonest of them
            candidates = sorted(candidates, key=lambda a: a.start or datetime.max)[:1]
        if len(candidates) == 1:
            return candidates[0], []
        return None, candidates or upcoming

    def _ask_which(self, language: str, verb: str, choices: list[Upcoming]) -> str:
        verb = phrases.reply(language, f"verb_{verb}")
        if not choices:
            return phrases.reply(language, "cant_find", verb=verb)
        listed = "; ".join(f"#{a.id} {a.describe(language)}" for a in choices)
        return phrases.reply(language, "which", verb=verb, listed=listed)

    def _phone(self, language: str) -> str:
        """' at +1 415 555 0100' ('al ...' in Spanish) when the business has a phone, else nothing."""
        if not self.business.phone:
            return ""
        return f" {'al' if language == 'es' else 'at'} {self.business.phone}"


def _price(amount: float) -> str:
    return f"${amount:,.0f}" if amount == int(amount) else f"${amount:,.2f}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")
