"""The offline engine's intent rules and date reading, against the example business and a fixed clock."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from assistant.business import Business, load_business
from assistant.llm.facts import Appointment, TurnFacts
from assistant.llm.offline import OfflineEngine
from assistant.llm.port import ChatMessage
from assistant.llm.when import When, find_when

ZONE = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE)  # a Monday morning
UPCOMING = (
    Appointment("42", "Yoga", datetime(2026, 11, 24, 18, 0, tzinfo=ZONE)),
    Appointment("43", "Personal Training", datetime(2026, 11, 27, 9, 0, tzinfo=ZONE)),
)
TAG = re.compile(r"\[ACTION:[^\]]*\]")
MOVE_42_FRIDAY = '[ACTION:UPDATE appointment="42" start="2026-11-27T09:00"]'


@pytest.fixture(scope="module")
def business() -> Business:
    return load_business(None)


@pytest.fixture(scope="module")
def engine(business: Business) -> OfflineEngine:
    return OfflineEngine(business, clock=lambda: NOW)


def ask(
    engine: OfflineEngine,
    text: str,
    appointments: tuple[Appointment, ...] = UPCOMING,
    attachments: tuple[str, ...] = (),
) -> str:
    """The engine's answer to `text` with these facts (the prompt text is deliberately unhelpful)."""
    messages: list[ChatMessage] = [
        {"role": "system", "content": "You are the assistant."},
        {"role": "user", "content": text},
    ]
    facts = TurnFacts(now=NOW, zone=ZONE, appointments=appointments, words=text, attachments=attachments)
    return engine.reply(messages, facts)


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("book yoga tomorrow at 6pm", '[ACTION:SCHEDULE service="Yoga" start="2026-11-24T18:00"]'),
        ("can I get a spin class friday 7am", '[ACTION:SCHEDULE service="Spin" start="2026-11-27T07:00"]'),
        (
            "schedule personal training on Nov 30 at 10:00",
            '[ACTION:SCHEDULE service="Personal Training" start="2026-11-30T10:00"]',
        ),
        ("Book yoga next monday at 9", '[ACTION:SCHEDULE service="Yoga" start="2026-11-30T09:00"]'),
        ("yoga tomorrow at 6pm?", '[ACTION:SCHEDULE service="Yoga" start="2026-11-24T18:00"]'),
        ("move my yoga to friday at 9am", MOVE_42_FRIDAY),
        (
            "reschedule appointment 42 to tomorrow 10am",
            '[ACTION:UPDATE appointment="42" start="2026-11-24T10:00"]',
        ),
        ("can you move #43 to saturday at 10", '[ACTION:UPDATE appointment="43" start="2026-11-28T10:00"]'),
        ("I want to move my yoga to friday at 9am", MOVE_42_FRIDAY),
        ("move my tuesday yoga to friday at 9am", MOVE_42_FRIDAY),
        ("move my training to saturday at 10", '[ACTION:UPDATE appointment="43" start="2026-11-28T10:00"]'),
        ("cancel my yoga", '[ACTION:CANCEL appointment="42"]'),
        ("I need to cancel my appointment tomorrow", '[ACTION:CANCEL appointment="42"]'),
        ("please cancel appointment #43", '[ACTION:CANCEL appointment="43"]'),
        ("can I talk to a human?", '[ACTION:HANDOFF reason="customer asked for a person"]'),
    ],
)
def test_actions(engine: OfflineEngine, text: str, tag: str) -> None:
    reply = ask(engine, text)

    assert TAG.findall(reply) == [tag]
    assert reply.endswith(tag)


def test_a_booking_is_the_tag_alone_so_the_customer_reads_booked_once(engine: OfflineEngine) -> None:
    reply = ask(engine, "book yoga tomorrow at 6pm")

    assert reply == '[ACTION:SCHEDULE service="Yoga" start="2026-11-24T18:00"]'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi", "Acme Fitness"),
        ("Good morning!", "book, move or cancel"),
        ("when are you open", "Mon-Thu 6:00 AM-9:00 PM"),
        ("open on sunday?", "Sat-Sun 8:00 AM-6:00 PM"),
        ("hours", "Fri 6:00 AM-8:00 PM"),
        ("what classes do you have", "Yoga $20 (60 min), Personal Training $75 (60 min), Spin $18 (45 min)"),
        ("prices?", "Spin $18"),
        ("how much is yoga", "Yoga is $20 for 60 minutes."),
        ("book yoga", "What day and time would you like for Yoga?"),
        ("book spin on saturday", "What time on Sat Nov 28 would you like for Spin?"),
        ("book a class tomorrow at 6pm", "Which would you like to book?"),
        ("move my appointment", "Which appointment should I move? #42 Yoga on Tue Nov 24 at 6:00 PM; #43"),
        ("I'd like to move my yoga", "What day and time should I move your Yoga on Tue Nov 24 at 6:00 PM"),
        ("change my yoga to thursday", "What time on Thu Nov 26 should I move your Yoga"),
        ("I can't make it to my class", "Which appointment should I cancel?"),
        ("thanks!", "You're welcome"),
        ("what's the weather like", "hours, prices, and booking, moving or cancelling"),
    ],
)
def test_answers(engine: OfflineEngine, text: str, expected: str) -> None:
    reply = ask(engine, text)

    assert expected in reply
    assert "[ACTION" not in reply


def test_a_picture_alone_is_acknowledged_and_offers_a_person(engine: OfflineEngine) -> None:
    reply = ask(engine, "", attachments=("image/jpeg", "image/png"))

    assert reply.startswith("Thanks for the 2 pictures! I can't see images here. Reply AGENT")
    assert "[ACTION" not in reply  # an offer: nobody is told a person is coming until they ask


def test_one_file_is_named_as_a_file_and_the_offer_is_one_the_engine_takes(engine: OfflineEngine) -> None:
    assert ask(engine, "", attachments=("application/pdf",)).startswith("Thanks for the file!")
    assert ask(engine, "", attachments=("image/png",)).startswith("Thanks for the picture!")
    # The word it offers hands the conversation over.
    assert "[ACTION:HANDOFF" in ask(engine, "AGENT")


@pytest.mark.parametrize(("language", "word"), [("es", "AGENTE"), ("fr", "AGENT"), ("de", "MENSCH")])
def test_the_offer_of_a_person_works_in_each_language(
    engine: OfflineEngine, language: str, word: str
) -> None:
    facts = TurnFacts(now=NOW, zone=ZONE, attachments=("image/jpeg",), language=language)
    offer = engine.reply([{"role": "user", "content": ""}], facts)
    assert word in offer
    answer = TurnFacts(now=NOW, zone=ZONE, words=word.lower(), language=language)
    assert "[ACTION:HANDOFF" in engine.reply([{"role": "user", "content": word}], answer)


def test_media_with_words_it_cannot_place_is_taken_as_about_the_picture(engine: OfflineEngine) -> None:
    reply = ask(engine, "is this the right entrance?", attachments=("image/jpeg",))
    assert reply.startswith("Thanks for the picture! I can't see images here. Reply AGENT")
    assert ask(engine, "is this the right entrance?").startswith("Sorry, I didn't quite get that.")


def test_media_with_a_question_answers_the_question(engine: OfflineEngine) -> None:
    reply = ask(engine, "how much is spin?", attachments=("image/jpeg",))

    assert reply.startswith("Spin is $18")


def test_without_listed_appointments_it_asks_which(engine: OfflineEngine) -> None:
    reply = ask(engine, "cancel my yoga", appointments=())

    assert "[ACTION" not in reply
    assert "Which one do you mean?" in reply


def test_an_appointment_id_works_without_the_list(engine: OfflineEngine) -> None:
    reply = ask(engine, "reschedule appointment 42 to tomorrow 10am", appointments=())

    assert reply == (
        "Let me move your appointment #42 to Tue Nov 24 at 10:00 AM. "
        '[ACTION:UPDATE appointment="42" start="2026-11-24T10:00"]'
    )


def test_the_only_appointment_is_picked(engine: OfflineEngine) -> None:
    spin = Appointment("7", "Spin", datetime(2026, 11, 25, 7, 0, tzinfo=ZONE))
    reply = ask(engine, "I can't make it to my class", appointments=(spin,))

    assert reply.endswith('[ACTION:CANCEL appointment="7"]')


def test_only_the_last_user_message_counts(engine: OfflineEngine) -> None:
    messages: list[ChatMessage] = [
        {"role": "system", "content": "If the customer says hi, book yoga tomorrow at 6pm."},
        {"role": "user", "content": "book yoga tomorrow at 6pm"},
        {"role": "assistant", "content": "Let me book Yoga for Tue Nov 24 at 6:00 PM."},
        {"role": "user", "content": "thank you"},
    ]

    assert engine.reply(messages) == "You're welcome! Text us anytime."


async def test_complete_is_the_async_port(engine: OfflineEngine) -> None:
    reply = (await engine.complete([{"role": "user", "content": "hello"}])).text

    assert reply.startswith("Hi! This is Acme Fitness.")
    await engine.aclose()


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "hours",
        "prices",
        "book yoga tomorrow at 6pm",
        "move my yoga to friday at 9am",
        "cancel my yoga",
        "can't make it",
        "thanks",
        "help me with something",
    ],
)
def test_replies_are_plain_sms_that_never_claim_success(engine: OfflineEngine, text: str) -> None:
    reply = TAG.sub("", ask(engine, text))

    assert reply.isascii() and "**" not in reply
    assert not re.search(r"\b(booked|confirmed|cancelled|canceled|moved|all set|done)\b", reply, re.I)
    assert "reply cancel" not in reply.lower()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow at 6pm", When(date(2026, 11, 24), time(18, 0))),
        ("friday 7am", When(date(2026, 11, 27), time(7, 0))),
        ("Nov 30 at 10:00", When(date(2026, 11, 30), time(10, 0))),
        ("next monday at 9", When(date(2026, 11, 30), time(9, 0))),
        ("tonight at 7", When(date(2026, 11, 23), time(19, 0))),
        ("tmrw 6:30pm", When(date(2026, 11, 24), time(18, 30))),
        ("11/30 at 5:30pm", When(date(2026, 11, 30), time(17, 30))),
        ("friday at noon", When(date(2026, 11, 27), time(12, 0))),
        ("dec 1st at 18:00", When(date(2026, 12, 1), time(18, 0))),
        # A time alone is the next one to come round, and the day is only assumed.
        ("at 9am", When(date(2026, 11, 24), time(9, 0), assumed=("the day",))),  # 9 AM today has passed
        ("at 5", When(date(2026, 11, 23), time(17, 0), assumed=("the day",))),  # open at 5 PM, not 5 AM
        # Open at both 6s: 6 PM is the usual reading of a bare 6, and it is a guess.
        ("tomorrow at 6", When(date(2026, 11, 24), time(18, 0), assumed=("a.m. or p.m.",))),
        ("tomorrow at 8", When(date(2026, 11, 24), time(8, 0), assumed=("a.m. or p.m.",))),
        ("tomorrow at 9", When(date(2026, 11, 24), time(9, 0))),  # 9 PM is closing time: no guess
        ("saturday", When(date(2026, 11, 28), None)),
        ("may I come in", When()),
        ("book yoga", When()),
    ],
)
def test_find_when(business: Business, text: str, expected: When) -> None:
    assert find_when(text, NOW, business) == expected


def test_find_when_uses_the_business_zone(business: Business) -> None:
    # 02:00 UTC on Nov 24 is still Nov 23 in Los Angeles, so "tomorrow" is Nov 24 there.
    found = find_when("tomorrow at 6pm", datetime(2026, 11, 24, 2, 0, tzinfo=ZoneInfo("UTC")), business)

    assert found.start == datetime(2026, 11, 24, 18, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "what's my next appointment?",
            "Your next appointment is Yoga on Tue Nov 24 at 6:00 PM (#42) (and 1 more",
        ),
        ("when is my next class", "Your next appointment is Yoga on Tue Nov 24 at 6:00 PM (#42)"),
        (
            "what are my bookings",
            "Your upcoming appointments: Yoga on Tue Nov 24 at 6:00 PM (#42); "
            "Personal Training on Fri Nov 27 at 9:00 AM (#43).",
        ),
        ("do I have anything booked?", "Your upcoming appointments: Yoga on Tue Nov 24"),
        ("what time is my appointment", "Your upcoming appointments: Yoga on Tue Nov 24"),
    ],
)
def test_a_customer_asking_about_their_appointments_hears_their_own(
    engine: OfflineEngine, text: str, expected: str
) -> None:
    reply = ask(engine, text)
    assert reply.startswith(expected), reply
    assert TAG.findall(reply) == []  # nothing is booked, moved or cancelled by asking


def test_asking_about_appointments_with_none_offers_to_book(engine: OfflineEngine) -> None:
    reply = ask(engine, "when is my next appointment?", appointments=())
    assert reply == "You have no upcoming appointments. Want to book one? Tell me a service, day and time."


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        (
            "book my next appointment: yoga tomorrow at 6pm",
            '[ACTION:SCHEDULE service="Yoga" start="2026-11-24T18:00"]',
        ),
        ("cancel my next appointment", '[ACTION:CANCEL appointment="42"]'),  # the soonest
        ("move my next class to friday at 9am", MOVE_42_FRIDAY),
    ],
)
def test_a_change_to_my_next_appointment_changes_the_soonest(
    engine: OfflineEngine, text: str, tag: str
) -> None:
    assert TAG.findall(ask(engine, text)) == [tag]


def test_next_friday_is_a_day_not_an_appointment(engine: OfflineEngine) -> None:
    reply = ask(engine, "move my appointment to next friday at 9am")
    assert reply.startswith("Which appointment should I move? #42") and TAG.findall(reply) == []


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("es", "manana a las 10", When(date(2026, 11, 24), time(10, 0))),
        ("es", "el viernes a las 7 de la manana", When(date(2026, 11, 27), time(7, 0))),
        ("es", "el jueves a las 6 de la tarde", When(date(2026, 11, 26), time(18, 0))),
        ("fr", "vendredi a 18h30", When(date(2026, 11, 27), time(18, 30))),
        ("fr", "vendredi a 6h du soir", When(date(2026, 11, 27), time(18, 0))),
        ("fr", "samedi a 9h", When(date(2026, 11, 28), time(9, 0))),  # the 24-hour clock: no guess
        ("de", "morgen um 10 uhr", When(date(2026, 11, 24), time(10, 0))),
        ("de", "freitag um 6 uhr abends", When(date(2026, 11, 27), time(18, 0))),
        ("de", "freitag morgens um 8", When(date(2026, 11, 27), time(8, 0))),  # "morgens" is not "morgen"
    ],
)
def test_find_when_in_other_languages(business: Business, language: str, text: str, expected: When) -> None:
    assert find_when(text, NOW, business, language=language) == expected
