"""Reading one customer text for the offline engine: what they ask for, which service, day and time."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from assistant.business import Business, Service
from assistant.llm.typos import Speller
from assistant.llm.when import When, find_when

APPOINTMENT_ID = re.compile(
    r"(?:#\s*|\b(?:appointment|appt|booking|reservation)\s*(?:#|no\.?|number)?\s*)(?P<id>\d+)\b",
    re.IGNORECASE,
)


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


# The intent patterns, one per line; a text's intent is the first of INTENTS found in it.
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
    r"|\bwhat (?:do|have) i (?:got|have)\b.*\b(?:booked|scheduled|coming up)\b"
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
GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|hiya|howdy|yo|good (?:morning|afternoon|evening))\b", re.IGNORECASE
)
# Words that change what was being discussed rather than start something new ("actually make it 7").
CORRECTION = _words(
    "actually",
    "instead",
    "rather",
    r"make it",
    r"how about",
    r"what about",
    r"(?:change|switch|move) it to",
    r"the \w+ one",
    r"no,? (?:at|on|make)",
)
INTENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("handoff", HANDOFF),
    ("cancel", CANCEL),
    ("move", MOVE),
    ("mine", MINE),
    ("book", BOOK),
    ("hours", HOURS),
    ("prices", PRICES),
)
SMALL_TALK: tuple[tuple[str, re.Pattern[str]], ...] = (("thanks", THANKS), ("greeting", GREETING))
# Words too common to name a service on their own ("class" in "Spin Class").
GENERIC_WORDS = frozenset({"class", "classes", "session", "lesson", "appointment", "with", "and", "the"})


@dataclass(frozen=True, slots=True)
class Reading:
    """What one text asks for, with its typos put right."""

    text: str
    intent: str | None  # handoff, cancel, move, mine, book, hours, prices, thanks, greeting; None: unclear
    service: Service | None
    when: When
    guessed: tuple[str, ...]  # what was assumed: typos read as days or services, a day or a.m./p.m.
    correction: bool  # "actually", "instead", "make it 7": it changes what was being discussed
    appointment_id: str | None  # "#42", "appointment 42"
    next_one: bool  # "my next class": the soonest of the matching appointments

    @property
    def sure(self) -> bool:
        """Nothing was guessed: a booking may go ahead without asking first."""
        return not self.guessed


class Reader:
    """Reads texts against one business's services and hours."""

    def __init__(self, business: Business, clock: Callable[[], datetime]) -> None:
        self._business = business
        self._clock = clock
        self.aliases = _service_aliases(business.services)
        # Longest first so "Personal Training" wins over a shorter name it contains.
        names = sorted((re.escape(alias) for alias in self.aliases), key=len, reverse=True)
        self._service_names = _words(*names) if names else re.compile(r"(?!x)x")  # never matches
        self._speller = Speller(word for service in business.services for word in service.name.split())

    def read(self, raw: str) -> Reading:
        corrected = self._speller.correct(raw)
        text = corrected.text
        service = self.service_in(text)
        when = self.when_in(text)
        intent = next((name for name, pattern in INTENTS if pattern.search(text)), None)
        if intent is None and service is not None:
            intent = "service"
        if intent is None:
            intent = next((name for name, pattern in SMALL_TALK if pattern.search(text)), None)
        named = APPOINTMENT_ID.search(text)
        return Reading(
            text=text,
            intent=intent,
            service=service,
            when=when,
            guessed=corrected.guessed + when.assumed,
            correction=bool(CORRECTION.search(text)),
            appointment_id=named["id"] if named else None,
            next_one=bool(NEXT_ONE.search(text)),
        )

    def service_in(self, text: str) -> Service | None:
        match = self._service_names.search(text)
        return self.aliases.get(match.group(0).casefold()) if match else None

    def when_in(
        self, text: str, *, day: date | None = None, near: time | None = None, loose: bool = False
    ) -> When:
        """The day and time in `text`, with `day` and `near` the ones being discussed (see `find_when`)."""
        # Service names and appointment ids are not dates ("appointment 42", "Spin 45").
        cleaned = APPOINTMENT_ID.sub(" ", self._service_names.sub(" ", text))
        return find_when(cleaned, self._clock(), self._business, day=day, near=near, loose=loose)


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
