"""Where a conversation stands, read from its recent messages: the request still being worked out.

The offline engine keeps no state of its own. The conversation's recent messages are the state (the
Redis window, rebuilt from SQL when Redis forgets), so every worker reads the same thread, before and
after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time

from assistant.business import Service
from assistant.llm.language import language_of
from assistant.llm.port import ChatMessage
from assistant.llm.reading import Reader, Reading

REQUESTS = frozenset({"book", "move", "cancel"})
# How far back a request may have started: a few texts of back and forth.
LOOK_BACK = 4
# The appointment a reply named: "Booked: Yoga, Tue Nov 24 6:00 PM (#42)."
NAMED_APPOINTMENT = re.compile(r"#(\d+)\b")
# A reply that waits for an answer: a question, a YES to give, or other times to pick from.
QUESTION = re.compile(r"\?(?:\s|$)|\bReply YES\b|\bNearest open times\b")


@dataclass(frozen=True, slots=True)
class Thread:
    """The request the conversation was working out before the customer's latest text."""

    intent: str | None = None  # book, move or cancel; None: nothing under way
    service: Service | None = None
    day: date | None = None
    clock: time | None = None
    appointment_id: str | None = None  # the appointment the last reply named, if one
    asked: bool = False  # the last reply asked the customer something

    @property
    def open(self) -> bool:
        """Something is being worked out, or was just done and may be corrected."""
        return self.intent is not None and (self.asked or self.appointment_id is not None)


def follow(messages: Sequence[ChatMessage], reader: Reader, language: str = "en") -> Thread:
    """The thread of `messages` up to, not including, the customer's latest text."""
    earlier = [message for message in messages if message["role"] != "system"]
    if earlier and earlier[-1]["role"] == "user":
        earlier = earlier[:-1]
    if not earlier or earlier[-1]["role"] != "assistant":
        return Thread()
    last_reply = earlier[-1]["content"]
    # The customer's texts back to the one that asked for the booking, move or cancel, each read once.
    asked_for: list[Reading] = []
    for message in reversed(earlier):
        if message["role"] != "user":
            continue
        asked_for.insert(0, _read(reader, message["content"], language))
        if _request(asked_for[0]) or len(asked_for) == LOOK_BACK:
            break
    intent, service, day, clock = None, None, None, None
    for reading in asked_for:  # later texts correct earlier ones
        intent = _request(reading) or intent
        loose = clock is not None or day is not None
        when = reader.when_in(
            reading.time_asked_for, day=day, near=clock, loose=loose, language=reading.language
        )
        service = reading.service or service
        day, clock = when.day or day, when.clock or clock
    named = set(NAMED_APPOINTMENT.findall(last_reply))
    return Thread(
        intent=intent,
        service=service,
        day=day,
        clock=clock,
        # A reply listing several ("Which one? #42 ...; #43 ...") names none of them in particular.
        appointment_id=named.pop() if len(named) == 1 else None,
        # Any question in it: a first reply ends with the STOP notice, after the question.
        asked=QUESTION.search(last_reply) is not None,
    )


def _request(reading: Reading) -> str | None:
    """The booking, move or cancel a text asks for; "yoga tomorrow at 6?" asks for a booking."""
    if reading.intent == "service" and not reading.when.empty:
        return "book"
    return reading.intent if reading.intent in REQUESTS else None


def _read(reader: Reader, text: str, language: str) -> Reading:
    """An earlier text, read in its own language ("cancel my spin" before "quiero reservar")."""
    return reader.read(text, language_of(text, reader.languages, otherwise=language))
