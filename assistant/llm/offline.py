"""The offline engine: deterministic intent rules that answer like the LLM, [ACTION:...] tags included.

It answers when no LLM is configured and when the LLM fails. It reads the turn's facts, never the
rendered prompt: what the customer wrote and attached, and their upcoming appointments (that list is how
"cancel my yoga" finds appointment 42), so a staff edit of the system template cannot break it. Without
facts (called on its own) it reads the last user message and knows no appointments.
It never says an action succeeded: the booking handler's result is added to the reply by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from assistant.business import Business, Service
from assistant.llm.facts import TurnFacts
from assistant.llm.port import ChatMessage
from assistant.llm.when import When, find_when

APPOINTMENT_ID = re.compile(
    r"(?:#\s*|\b(?:appointment|appt|booking|reservation)\s*(?:#|no\.?|number)?\s*)(?P<id>\d+)\b",
    re.IGNORECASE,
)


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


# The intent patterns, one per line; the engine tries them in the order it lists them.
HANDOFF = _words(
    "human",
    "real person",
    "a person",
    r"(?:talk|speak|chat) (?:to|with) some(?:one|body)",
    "staff",
    "agent",
    "representative",
    "manager",
    "operator",
)
CANCEL = _words(
    r"cancel\w*",
    "call off",
    r"can'?t make it",
    "cannot make it",
    r"won'?t make it",
    r"can'?t come",
    r"unable to (?:make|come|attend)",
    "not coming",
)
MOVE = _words("move", "reschedule", "re-schedule", "change", "push", "postpone", "switch", "shift")
# "what's my next appointment?": asking about one's own bookings, not making one (no booking verb).
MINE = re.compile(
    r"^(?!.*\b(?:book|schedule|reserve|sign up)\b).*(?:"
    r"\b(?:my|next)\s+(?:\w+\s+)?(?:appointments?|appts?|bookings?|reservations?|sessions?|class(?:es)?)\b"
    r"|\bwhat (?:\w+\s+)?(?:appointments?|bookings?|reservations?|sessions?|classes) (?:do|have) i\b"
    r"|\bwhen(?:'s| is| are)? my\b"
    r"|\b(?:do|have) i (?:have|got) (?:any(?:thing)?|an?)\b.*\b(?:booked|appointments?|bookings?|coming up)\b"
    r"|\bam i (?:booked|scheduled|signed up)\b)",
    re.IGNORECASE,
)
# "my next class" names the soonest appointment ("to next friday" names a day, not one of them).
NEXT_ONE = re.compile(
    r"\bnext\s+(?:\w+\s+)?(?:appointment|appt|booking|reservation|session|class)\b", re.IGNORECASE
)
# "yoga tomorrow at 6?" has no verb: a service named with a day or time also counts as booking.
BOOK = _words("book", "schedule", "reserve", r"sign (?:me )?up", "appointment", r"can i (?:get|take|join|do)")
HOURS = _words("hours", "open", "opening", r"close[sd]?", "closing", "what time")
PRICES = _words(
    r"prices?",
    "pricing",
    r"costs?",
    "how much",
    r"rates?",
    r"fees?",
    "services",
    "classes",
    "offer",
    "menu",
    "what do you have",
)
THANKS = _words("thanks", r"thank (?:you|u)", "thx", "ty", "tysm", "appreciate it", "cheers")
# Words too common to name a service on their own ("class" in "Spin Class").
GENERIC_WORDS = frozenset({"class", "classes", "session", "lesson", "appointment", "with", "and", "the"})
GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|hiya|howdy|yo|good (?:morning|afternoon|evening))\b", re.IGNORECASE
)


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


class OfflineEngine:
    """A `ChatModel` that answers from rules, without any network."""

    name = "offline"

    def __init__(self, business: Business, clock: Callable[[], datetime] | None = None) -> None:
        self.business = business
        self.clock = clock or (lambda: datetime.now(UTC))
        self._aliases = _service_aliases(business.services)
        # Longest first so "Personal Training" wins over a shorter name it contains.
        names = sorted((re.escape(alias) for alias in self._aliases), key=len, reverse=True)
        self._service_names = _words(*names) if names else re.compile(r"(?!x)x")  # never matches
        # Checked top to bottom; the first pattern found in the message picks the intent.
        self._intents: tuple[tuple[re.Pattern[str], Callable[[str, list[Upcoming]], str]], ...] = (
            (HANDOFF, self._handoff),
            (CANCEL, self._cancel),
            (MOVE, self._move),
            (MINE, self._mine),
            (BOOK, self._book),
            (HOURS, self._hours),
            (PRICES, self._prices),
            (self._service_names, self._about_service),
            (THANKS, self._thanks),
            (GREETING, self._greeting),
        )

    async def complete(self, messages: list[ChatMessage], facts: TurnFacts | None = None) -> str:
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
        for pattern, handler in self._intents:
            if pattern.search(text):
                return handler(text, upcoming)
        return self._unknown()

    # --- one function per intent ---

    def _greeting(self, text: str, upcoming: list[Upcoming]) -> str:
        return (
            f"Hi! This is {self.business.name}. I can tell you our hours and prices, and book, move or "
            "cancel an appointment for you. What can I do for you?"
        )

    def _hours(self, text: str, upcoming: list[Upcoming]) -> str:
        lines = self.business.hours_summary()
        if not lines:
            return f"Please call us{self._phone(' at ')} for our opening hours."
        return f"{self.business.name} hours: {'; '.join(lines)}."

    def _prices(self, text: str, upcoming: list[Upcoming]) -> str:
        service = self._service_in(text)
        if service:
            return _service_line(service) + " Want me to book one? Tell me a day and time."
        if not self.business.services:
            return f"Please call us{self._phone(' at ')} to hear what we offer."
        return f"We offer {self._service_list()}. Want me to book one?"

    def _about_service(self, text: str, upcoming: list[Upcoming]) -> str:
        # A service with a day or time ("yoga tomorrow at 6pm?") is a booking request without the verb.
        if not self._find_when(text).empty:
            return self._book(text, upcoming)
        return self._prices(text, upcoming)

    def _book(self, text: str, upcoming: list[Upcoming]) -> str:
        service = self._service_in(text)
        if service is None:
            if not self.business.services:
                return f"Please call us{self._phone(' at ')} to book."
            return f"Which would you like to book? We offer {self._service_list()}."
        when = self._find_when(text)
        if when.start is None:
            return f"What {self._missing(when)} would you like for {service.name}?"
        return (
            f"Let me book {service.name} for {_when(when.start)}. "
            f'[ACTION:SCHEDULE service="{service.name}" start="{_iso(when.start)}"]'
        )

    def _move(self, text: str, upcoming: list[Upcoming]) -> str:
        appointment, choices = self._choose(text, upcoming, day=None)
        if appointment is None:
            return self._ask_which("move", choices)
        # "move my tuesday yoga to friday at 9": the new time follows the last "to".
        when = self._find_when(text.rpartition(" to ")[2])
        if when.start is None:
            return f"What {self._missing(when)} should I move your {appointment.describe()} to?"
        return (
            f"Let me move your {appointment.describe()} to {_when(when.start)}. "
            f'[ACTION:UPDATE appointment="{appointment.id}" start="{_iso(when.start)}"]'
        )

    def _cancel(self, text: str, upcoming: list[Upcoming]) -> str:
        appointment, choices = self._choose(text, upcoming, day=self._find_when(text).day)
        if appointment is None:
            return self._ask_which("cancel", choices)
        return f'Let me cancel your {appointment.describe()}. [ACTION:CANCEL appointment="{appointment.id}"]'

    def _mine(self, text: str, upcoming: list[Upcoming]) -> str:
        if not upcoming:
            return "You have no upcoming appointments. Want to book one? Tell me a service, day and time."
        soonest = sorted(upcoming, key=lambda a: a.start or datetime.max)
        if len(soonest) == 1 or re.search(r"\bnext\b", text, re.IGNORECASE):
            later = f" (and {len(soonest) - 1} more after it)" if len(soonest) > 1 else ""
            return f"Your next appointment is {soonest[0].describe()} (#{soonest[0].id}){later}."
        listed = "; ".join(f"{a.describe()} (#{a.id})" for a in soonest)
        return f"Your upcoming appointments: {listed}."

    def _handoff(self, text: str, upcoming: list[Upcoming]) -> str:
        # The handler's result says a person will follow up; this only adds the quicker route.
        call = f"For anything urgent, call us at {self.business.phone}. " if self.business.phone else ""
        return f'{call}[ACTION:HANDOFF reason="customer asked for a person"]'

    def _thanks(self, text: str, upcoming: list[Upcoming]) -> str:
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

    def _service_in(self, text: str) -> Service | None:
        match = self._service_names.search(text)
        return self._aliases.get(match.group(0).casefold()) if match else None

    def _service_list(self) -> str:
        services = self.business.services
        return ", ".join(f"{s.name} {_price(s.price)} ({s.duration_minutes} min)" for s in services)

    def _find_when(self, text: str) -> When:
        # Service names and appointment ids are not dates ("appointment 42", "Spin 45").
        cleaned = APPOINTMENT_ID.sub(" ", self._service_names.sub(" ", text))
        return find_when(cleaned, self.clock(), self.business)

    def _choose(
        self, text: str, upcoming: list[Upcoming], day: date | None
    ) -> tuple[Upcoming | None, list[Upcoming]]:
        """The appointment the customer means, or None and the ones to ask about."""
        if named := APPOINTMENT_ID.search(text):
            listed = next((a for a in upcoming if a.id == named["id"]), None)
            return listed or Upcoming(id=named["id"]), []
        candidates = upcoming
        if service := self._service_in(text):
            wanted = service.name.casefold()
            candidates = [a for a in candidates if a.service and a.service.casefold() == wanted]
        if day is not None:
            candidates = [a for a in candidates if a.start and a.start.date() == day] or candidates
        if len(candidates) > 1 and NEXT_ONE.search(text):  # "my next class": the soonest of them
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


def _service_aliases(services: tuple[Service, ...]) -> dict[str, Service]:
    """Each service by its full name and, when only it has one, by a longer word of it ("training")."""
    aliases = {service.name.casefold(): service for service in services}
    owners: dict[str, list[Service]] = {}
    for service in services:
        for word in re.findall(r"[a-z]{4,}", service.name.casefold()):
            owners.setdefault(word, []).append(service)
    for word, having in owners.items():
        if len(having) == 1 and word not in GENERIC_WORDS:
            aliases.setdefault(word, having[0])
    return aliases


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
