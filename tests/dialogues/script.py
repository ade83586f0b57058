"""Loading the scripted dialogues and playing them through the real turn path.

Each `*.toml` file here holds `[[dialogue]]` entries: the appointments booked already (the customer's own,
or with `phone`, someone else's), the texts
they send (each with the facts its reply must state and the words it must not use), and the bookings
they have at the end. A dialogue runs on its own in-process runtime (SQLite, in-process Redis, the
sandbox outbox, the offline engine), with the clock standing at `now` and moved forward a minute a turn.
"""

from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from actions.booking_backend import BookingRequest
from assistant.runtime import Runtime, open_runtime
from assistant.worker import Worker
from storage.messages import InboundText
from tests.conftest import IsolatedSettings
from tests.support.clock import ManualClock

FOLDER = Path(__file__).parent
PHONE = "+14155550123"
BUSINESS_NUMBER = "+15005550006"
# A Monday morning in the example business's zone: "tomorrow" is Tue Nov 24.
DEFAULT_NOW = "2026-11-23T10:00"
# Words no reply may use: the engine giving up, or a reply that says the same thing twice.
NEVER = ("didn't quite get that",)


@dataclass(frozen=True, slots=True)
class Turn:
    say: str
    expect: tuple[str, ...]  # each must appear in the reply (ignoring case)
    reject: tuple[str, ...]  # none may appear


@dataclass(frozen=True, slots=True)
class Dialogue:
    name: str
    source: str  # the file it came from
    now: str
    booked: tuple[tuple[str, str, str], ...]  # (phone, service, local start) booked before it starts
    turns: tuple[Turn, ...]
    bookings: tuple[tuple[str, str], ...] | None  # what they have at the end; None: not checked

    @property
    def id(self) -> str:
        return f"{self.source}: {self.name}"


def load(folder: Path = FOLDER) -> list[Dialogue]:
    """Every dialogue in the folder's TOML files, in file order."""
    found = []
    for path in sorted(folder.glob("*.toml")):
        for entry in tomllib.loads(path.read_text(encoding="utf-8"))["dialogue"]:
            found.append(_dialogue(path.stem, entry))
    return found


def _dialogue(source: str, entry: dict[str, Any]) -> Dialogue:
    turns = tuple(
        Turn(turn["say"], tuple(turn.get("expect", ())), tuple(turn.get("reject", ())))
        for turn in entry["turns"]
    )
    bookings = entry.get("bookings")
    return Dialogue(
        name=entry["name"],
        source=source,
        now=entry.get("now", DEFAULT_NOW),
        booked=tuple((b.get("phone", PHONE), b["service"], b["start"]) for b in entry.get("booked", ())),
        turns=turns,
        bookings=None if bookings is None else tuple((b["service"], b["start"]) for b in bookings),
    )


@dataclass
class Played:
    """What happened when a dialogue ran: each text and its reply, and whatever broke its script."""

    transcript: list[tuple[str, str]]
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


async def play(dialogue: Dialogue) -> Played:
    """Run the dialogue on a fresh in-process runtime and check every line of its script."""
    with TemporaryDirectory(prefix="sms-assistant-dialogue-") as folder:
        settings = IsolatedSettings(
            database_url=f"sqlite+aiosqlite:///{folder}/dialogue.db",
            redis_url="memory://",
            embedded_worker=True,
            burst_window_seconds=0.0,
        )
        clock = ManualClock(datetime.fromisoformat(dialogue.now + "+00:00"))
        async with open_runtime(settings, clock=clock) as runtime:
            zone = runtime.clients.business.zone
            clock.set(datetime.fromisoformat(dialogue.now).replace(tzinfo=zone))
            for phone, service, start in dialogue.booked:
                at = datetime.fromisoformat(start).replace(tzinfo=zone)
                await runtime.clients.bookings.book(BookingRequest(phone=phone, service=service, start=at))
            played = Played([], [])
            worker = runtime.worker()
            for number, turn in enumerate(dialogue.turns, 1):
                reply = await _say(runtime, worker, turn.say)
                played.transcript.append((turn.say, reply))
                played.problems += _check(number, turn, reply)
                clock.advance(minutes=1)
            if dialogue.bookings is not None:
                have = sorted(await _bookings(runtime))
                if have != (wanted := sorted(dialogue.bookings)):
                    played.problems.append(f"bookings at the end: {have}, expected {wanted}")
    return played


async def _say(runtime: Runtime, worker: Worker, text: str) -> str:
    """The customer texts `text`; the worker answers it; the replies texted back, joined."""
    inbound = InboundText(
        sid="SM" + uuid.uuid4().hex, from_number=PHONE, to_number=BUSINESS_NUMBER, body=text, media=[]
    )
    recorded_id, _ = await runtime.inbound.accept(inbound)
    await worker.drain()
    replies = [
        row.body
        for row in reversed(await runtime.messages.listing(phone=PHONE, limit=10))
        if row.direction == "outbound" and row.id > recorded_id
    ]
    return " / ".join(replies) or "(no reply)"


def _check(number: int, turn: Turn, reply: str) -> list[str]:
    folded = reply.casefold()
    missing = [fact for fact in turn.expect if fact.casefold() not in folded]
    wrong = [word for word in (*turn.reject, *NEVER) if word.casefold() in folded]
    problems = []
    if missing:
        problems.append(f"turn {number} ({turn.say!r}): the reply {reply!r} does not say {missing}")
    if wrong:
        problems.append(f"turn {number} ({turn.say!r}): the reply {reply!r} says {wrong}")
    return problems


async def _bookings(runtime: Runtime) -> list[tuple[str, str]]:
    zone = runtime.clients.business.zone
    return [
        (booking.service, booking.start.astimezone(zone).strftime("%Y-%m-%dT%H:%M"))
        for booking in await runtime.clients.bookings.listing(phone=PHONE)
        if booking.status == "booked"
    ]
