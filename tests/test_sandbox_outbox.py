"""The sandbox outbox: the in-process SMS gateway used in embedded mode and by tests of the send path."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from assistant.errors import InvalidRecipient, RecipientOptedOut, SmsError
from assistant.sms.port import OutgoingSms, SmsGateway
from assistant.sms.sandbox import DEFAULT_SENDER, SandboxOutbox
from tests.support.clock import ManualClock

ALICE = "+14155550100"
BOB = "+14155550101"


async def test_send_keeps_the_text_and_answers_like_twilio() -> None:
    now = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
    outbox = SandboxOutbox(clock=ManualClock(now))

    sent = await outbox.send(OutgoingSms(to=ALICE, body="See you at 6pm"))

    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.sid)
    assert sent.status == "delivered" and sent.sender == DEFAULT_SENDER
    [text] = outbox.sent_to(ALICE)
    assert (text.sid, text.to, text.body, text.sender) == (sent.sid, ALICE, "See you at 6pm", DEFAULT_SENDER)
    assert text.sent_at == now


async def test_sent_to_filters_by_number_in_order() -> None:
    outbox = SandboxOutbox(sender="+15550001111")
    for to, body in [(ALICE, "one"), (BOB, "two"), (ALICE, "three")]:
        await outbox.send(OutgoingSms(to=to, body=body))

    assert [t.body for t in outbox.sent_to(ALICE)] == ["one", "three"]
    assert [t.body for t in outbox.sent] == ["one", "two", "three"]
    assert outbox.sent_to("+14155550199") == []
    assert {t.sender for t in outbox.sent} == {"+15550001111"}


async def test_keeps_only_the_newest_texts() -> None:
    outbox = SandboxOutbox(capacity=3)
    for n in range(5):
        await outbox.send(OutgoingSms(to=ALICE, body=str(n)))

    assert [t.body for t in outbox.sent_to(ALICE)] == ["2", "3", "4"]


async def test_fail_for_opted_out_number() -> None:
    outbox = SandboxOutbox()
    outbox.fail_for(ALICE, 21610)

    with pytest.raises(RecipientOptedOut) as caught:
        await outbox.send(OutgoingSms(to=ALICE, body="hi"))
    await outbox.send(OutgoingSms(to=BOB, body="hi"))

    assert caught.value.code == 21610 and not caught.value.retryable
    assert outbox.sent_to(ALICE) == [] and len(outbox.sent_to(BOB)) == 1


@pytest.mark.parametrize(
    "code, error", [(21211, InvalidRecipient), (21614, InvalidRecipient), (30003, SmsError)]
)
async def test_fail_for_other_codes(code: int, error: type[SmsError]) -> None:
    outbox = SandboxOutbox()
    outbox.fail_for(ALICE, code)

    with pytest.raises(error) as caught:
        await outbox.send(OutgoingSms(to=ALICE, body="hi"))

    assert type(caught.value) is error and caught.value.code == code


async def test_stop_failing_and_clear() -> None:
    outbox = SandboxOutbox()
    outbox.fail_for(ALICE)
    outbox.stop_failing(ALICE)
    await outbox.send(OutgoingSms(to=ALICE, body="back"))
    assert len(outbox.sent_to(ALICE)) == 1

    outbox.fail_for(BOB)
    outbox.clear()
    await outbox.send(OutgoingSms(to=BOB, body="ok"))
    assert [t.to for t in outbox.sent] == [BOB]


async def test_satisfies_the_port() -> None:
    gateway: SmsGateway = SandboxOutbox()
    assert gateway.name == "sandbox"
    await gateway.aclose()


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SandboxOutbox(capacity=0)
