"""The scripted dialogues (tests/dialogues/*.toml), each a test: what a customer says, what they hear back."""

from __future__ import annotations

import pytest

from tests.dialogues.script import load, play

DIALOGUES = load()


def test_there_are_enough_dialogues_to_mean_something() -> None:
    assert len(DIALOGUES) >= 40


@pytest.mark.parametrize("dialogue", DIALOGUES, ids=[dialogue.id for dialogue in DIALOGUES])
async def test_dialogue(dialogue) -> None:
    played = await play(dialogue)
    transcript = "\n".join(f"customer> {said}\nassistant> {reply}" for said, reply in played.transcript)
    assert played.problems == [], transcript
