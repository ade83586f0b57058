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

from assistant.business import Business, Service
from assistant.llm.dialogue import Thread, follow
from assistant.llm.facts import TurnFacts
from assistant.llm.faq import FaqIndex
from assistant.llm.port import ChatMessage, Toolbox
from assistant.llm.reading import Reader, Reading
from assistant.llm.when import When
from storage.clock import system_clock

# "where are you?" with no FAQ entry for it: the address is the answer.
WHERE = re.compile(r"\b(?:where (?:are|r) (?:you|u)|located|location|address|directions)\b", re.IGNORECASE)
# "no" to a question that was not a YES question: nothing more to work out.
DECLINE = re.compile(
    r"^\W*(?:no|nope|nah|no thanks?|no thank you|never ?mind|forget it|not now)\W*$", re.IGNORECASE
)
AGREE = re.compile(r"^\W*(?:yes|yeah|yep|yup|sure|ok|okay|great|perfect|sounds good)\W*$", re.IGNORECASE)
# "43" answering "which appointment?".
BARE_NUMBER = re.compile(r"^\W*#?\s*(\d{1,18})\W*$")


@dataclass(frozen=True)
class Upcoming:
    """An appointment the customer has, as the system prompt lists it (or only its id, when named)."""

    id: str
    service: str | None = None
    start: datetime | None = None

    def describe(self) -> str:
        """How a reply names it: 'Yoga on Tue Nov 24 at 6:00 PM', or 'appointment #42'."""
        if self.service and self.start:
            return f"{self.service} on {_when(self.start)}"
        return f"appointment #{self.id}"


@dataclass(frozen=True)
class Request:
    """What the customer wants done, from their text and the thread it continues."""

    intent: str | None
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
    ) -> str:
        """Answer the last user message."""
        return self.reply(messages, facts)

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
        if media and not text:
            return self._media(media)
        reading = self._reader.read(text)
        if reading.intent == "handoff":
            return self._handoff()
        if (entry := self._faq.answer_for(reading.text)) is not None:
            return entry.answer
        if reading.intent is None and self.business.address and WHERE.search(reading.text):
            return f"We're at {self.business.address}."
        if DECLINE.match(reading.text):
            return "No problem. Is there anything else I can help with?"
        if AGREE.match(reading.text):  # a YES with nothing waiting for it
            return "Great! Is there anything else I can help with?"
        thread = follow(messages, self._reader)
        request = self._continued(reading, thread, upcoming) or self._fresh(reading, thread)
        handler = self._handlers.get(request.intent or "")
        return handler(request, upcoming) if handler else self._unknown()

    def _fresh(self, reading: Reading, thread: Thread) -> Request:
        """The request a text makes on its own ("book it" books the service just talked about)."""
        when = reading.when
        if reading.intent == "move":  # "move my tuesday yoga to friday at 9": the new time follows "to"
            when = self._reader.when_in(reading.text.rpartition(" to ")[2])
        service = reading.service or (thread.service if reading.intent == "book" else None)
        return Request(
            reading.intent,
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
        if just_done is not None and just_done.start and thread.intent in ("book", "move"):
            # "actually make it 7", just after it was booked (or a move was asked): move that appointment.
            start = just_done.start
            when = self._reader.when_in(reading.text, day=start.date(), near=start.time(), loose=True)
            if when.empty:
                return None
            moved = When(day=when.day or start.date(), clock=when.clock or start.time())
            return Request("move", text=reading.text, appointment_id=just_done.id, when=moved, guessed=typos)
        if not thread.asked:
            return None
        when = self._reader.when_in(reading.text, day=thread.day, near=thread.clock, loose=True)
        asked_time = When(day=when.day or thread.day, clock=when.clock or thread.clock, assumed=when.assumed)
        bare = BARE_NUMBER.match(reading.text)
        return Request(
            thread.intent,
            text=reading.text,
            service=reading.service or thread.service,
            when=asked_time if thread.intent != "cancel" else when,
            appointment_id=reading.appointment_id or (bare[1] if bare else None),
            next_one=reading.next_one,
            guessed=typos + when.assumed,
        )

    # --- one function per intent ---

    def _greeting(self, request: Request, upcoming: list[Upcoming]) -> str:
        return (
            f"Hi! This is {self.business.name}. I can tell you our hours and prices, and book, move or "
            "cancel an appointment for you. What can I do for you?"
        )

    def _hours(self, request: Request, upcoming: list[Upcoming]) -> str:
        lines = self.business.hours_summary()
        if not lines:
            return f"Please call us{self._phone(' at ')} for our opening hours."
        return f"{self.business.name} hours: {'; '.join(lines)}."

    def _prices(self, request: Request, upcoming: list[Upcoming]) -> str:
        if request.service:
            return _service_line(request.service) + " Want me to book one? Tell me a day and time."
        if not self.business.services:
            return f"Please call us{self._phone(' at ')} to hear what we offer."
        return f"We offer {self._service_list()}. Want me to book one?"

    def _about_service(self, request: Request, upcoming: list[Upcoming]) -> str:
        # A service with a day or time ("yoga tomorrow at 6pm?") is a booking request without the verb.
        if not request.when.empty:
            return self._book(request, upcoming)
        return self._prices(request, upcoming)

    def _book(self, request: Request, upcoming: list[Upcoming]) -> str:
        service, when = request.service, request.when
        if service is None:
            if not self.business.services:
                return f"Please call us{self._phone(' at ')} to book."
            return f"Which would you like to book? We offer {self._service_list()}."
        if when.start is None:
            return f"What {self._missing(when)} would you like for {service.name}?"
        # Only the tag: the handler's "Booked: ..." (or its question, when it was guessed) is the reply.
        ask = ' ask="yes"' if request.guessed else ""
        return f'[ACTION:SCHEDULE service="{service.name}" start="{_iso(when.start)}"{ask}]'

    def _move(self, request: Request, upcoming: list[Upcoming]) -> str:
        appointment, choices = self._choose(request, upcoming, day=None)
        if appointment is None:
            return self._ask_which("move", choices)
        start = request.when.start
        if start is None:
            return f"What {self._missing(request.when)} should I move your {appointment.describe()} to?"
        return (
            f"Let me move your {appointment.describe()} to {_when(start)}. "
            f'[ACTION:UPDATE appointment="{appointment.id}" start="{_iso(start)}"]'
        )

    def _cancel(self, request: Request, upcoming: list[Upcoming]) -> str:
        appointment, choices = self._choose(request, upcoming, day=request.when.day)
        if appointment is None:
            return self._ask_which("cancel", choices)
        return f'Let me cancel your {appointment.describe()}. [ACTION:CANCEL appointment="{appointment.id}"]'

    def _mine(self, request: Request, upcoming: list[Upcoming]) -> str:
        if not upcoming:
            return "You have no upcoming appointments. Want to book one? Tell me a service, day and time."
        soonest = sorted(upcoming, key=lambda a: a.start or datetime.max)
        if len(soonest) == 1 or re.search(r"\bnext\b", request.text, re.IGNORECASE):
            later = f" (and {len(soonest) - 1} more after it)" if len(soonest) > 1 else ""
            return f"Your next appointment is {soonest[0].describe()} (#{soonest[0].id}){later}."
        listed = "; ".join(f"{a.describe()} (#{a.id})" for a in soonest)
        return f"Your upcoming appointments: {listed}."

    def _handoff(self) -> str:
        # The handler's result says a person will follow up; this only adds the quicker route.
        call = f"For anything urgent, call us at {self.business.phone}. " if self.business.phone else ""
        return f'{call}[ACTION:HANDOFF reason="customer asked for a person"]'

    def _thanks(self, request: Request, upcoming: list[Upcoming]) -> str:
        return "You're welcome! Text us anytime."

    def _media(self, attachments: list[str]) -> str:
        kind = "picture" if all("image" in what.lower() for what in attachments) else "attachment"
        return f"Thanks for the {kind}! A person from our team will take a look. What can I help you with?"

    def _unknown(self) -> str:
        return (
            "Sorry, I didn't quite get that. I can help with our hours, prices, and booking, moving or "
            "cancelling an appointment. If you'd rather talk to a person, just say so."
        )

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

    def _ask_which(self, verb: str, choices: list[Upcoming]) -> str:
        if not choices:
            return (
                f"I can't find an upcoming appointment to {verb}. Which one do you mean? "
                "The number from your confirmation text (like #42) helps."
            )
        listed = "; ".join(f"#{a.id} {a.describe()}" for a in choices)
        return f"Which appointment should I {verb}? {listed}"

    def _missing(self, when: When) -> str:
        """What to ask for when a start time is incomplete: 'time on Fri Nov 27' or 'day and time'."""
        return f"time on {_day(when.day)}" if when.day is not None else "day and time"

    def _phone(self, prefix: str) -> str:
        return f"{prefix}{self.business.phone}" if self.business.phone else ""


def _service_line(service: Service) -> str:
    return f"{service.name} is {_price(service.price)} for {service.duration_minutes} minutes."


def _price(amount: float) -> str:
    return f"${amount:,.0f}" if amount == int(amount) else f"${amount:,.2f}"


def _day(day: date) -> str:
    return f"{day:%a %b} {day.day}"


def _when(moment: datetime) -> str:
    return f"{_day(moment.date())} at {moment:%I:%M %p}".replace(" at 0", " at ")  # "6:00 PM", not "06:00 PM"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")
