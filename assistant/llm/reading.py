"""Reading one customer text for the offline engine: what they ask for, which service, day and time."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from assistant.business import Business, Service
from assistant.llm.language import unaccented
from assistant.llm.patterns import APPOINTMENT_ID, PATTERNS, words
from assistant.llm.typos import Corrected, Speller
from assistant.llm.when import When, find_when

# Words too common to name a service on their own ("class" in "Spin Class").
GENERIC_WORDS = frozenset({"class", "classes", "session", "lesson", "appointment", "with", "and", "the"})


@dataclass(frozen=True, slots=True)
class Reading:
    """What one text asks for, with its typos put right."""

    text: str
    language: str  # en or es: the patterns it was read with
    intent: str | None  # handoff, cancel, move, mine, book, hours, prices, thanks, greeting; None: unclear
    service: Service | None
    when: When
    guessed: tuple[str, ...]  # what was assumed: typos read as days or services, a day or a.m./p.m.
    correction: bool  # "actually", "instead", "make it 7": it changes what was being discussed
    appointment_id: str | None  # "#42", "appointment 42"
    next_one: bool  # "my next class": the soonest of the matching appointments
    asks_where: bool  # "where are you located?"
    declines: bool  # the whole text is a "no"
    agrees: bool  # the whole text is a "yes"

    @property
    def time_asked_for(self) -> str:
        """The words naming the time wanted: a move's new time follows its last "to" (or "al")."""
        if self.intent != "move":
            return self.text
        for word in (" to ", " al ", " para el "):
            if word in self.text:
                return self.text.rpartition(word)[2]
        return self.text


class Reader:
    """Reads texts against one business's services and hours."""

    def __init__(self, business: Business, clock: Callable[[], datetime]) -> None:
        self._business = business
        self._clock = clock
        self.languages = business.keywords.languages  # the ones texts may be read in
        self.aliases = _service_aliases(business.services)
        # Longest first so "Personal Training" wins over a shorter name it contains.
        names = sorted((re.escape(alias) for alias in self.aliases), key=len, reverse=True)
        self._service_names = words(*names) if names else re.compile(r"(?!x)x")  # never matches
        self._speller = Speller(word for service in business.services for word in service.name.split())

    def read(self, raw: str, language: str = "en") -> Reading:
        patterns = PATTERNS.get(language, PATTERNS["en"])
        # Other languages are read without accents, as texts are often typed ("manana" for "mañana").
        corrected = self._speller.correct(raw) if language == "en" else Corrected(unaccented(raw))
        text = corrected.text
        service = self.service_in(text)
        when = self.when_in(text, language=language)
        intent = next((name for name, pattern in patterns.intents if pattern.search(text)), None)
        if intent is None and service is not None:
            intent = "service"
        if intent is None:
            intent = next((name for name, pattern in patterns.small_talk if pattern.search(text)), None)
        named = APPOINTMENT_ID.search(text)
        return Reading(
            text=text,
            language=language,
            intent=intent,
            service=service,
            when=when,
            guessed=corrected.guessed + when.assumed,
            correction=bool(patterns.correction.search(text)),
            appointment_id=named["id"] if named else None,
            next_one=bool(patterns.next_one.search(text)),
            asks_where=bool(patterns.where.search(text)),
            declines=bool(patterns.decline.match(text)),
            agrees=bool(patterns.agree.match(text)),
        )

    def service_in(self, text: str) -> Service | None:
        match = self._service_names.search(text)
        return self.aliases.get(match.group(0).casefold()) if match else None

    def when_in(
        self,
        text: str,
        *,
        day: date | None = None,
        near: time | None = None,
        loose: bool = False,
        language: str = "en",
    ) -> When:
        """The day and time in `text`, with `day` and `near` the ones being discussed (see `find_when`)."""
        # Service names and appointment ids are not dates ("appointment 42", "Spin 45").
        cleaned = APPOINTMENT_ID.sub(" ", self._service_names.sub(" ", text))
        return find_when(
            cleaned, self._clock(), self._business, day=day, near=near, loose=loose, language=language
        )


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
