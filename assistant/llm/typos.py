"""Misspelt days, months, services and "book" put right before a text is read, noting what was guessed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Short month names are left alone: "march" is one letter from "match", "may" is a verb.
MONTH_NAMES = ("january", "february", "august", "september", "october", "november", "december")
VERBS = ("book", "cancel", "reschedule", "appointment", "tomorrow")
WORD = re.compile(r"[a-z]+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Corrected:
    """A text with its typos put right, and which of them change what is being asked for."""

    text: str
    guessed: tuple[str, ...] = ()  # "fridy → friday": a day, month or service read from a typo


class Speller:
    """Puts right words one slip away from a day, a month, a service or a booking verb."""

    def __init__(self, service_words: Iterable[str]) -> None:
        self._facts = {*WEEKDAY_NAMES, *MONTH_NAMES, *(word.casefold() for word in service_words)}
        self._vocabulary = sorted(self._facts | set(VERBS))

    def correct(self, text: str) -> Corrected:
        guessed: list[str] = []

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            target = self._nearest(word.casefold())
            if target is None:
                return word
            if target in self._facts:
                guessed.append(f"{word} → {target}")
            return target

        return Corrected(WORD.sub(fix, text), tuple(guessed))

    def _nearest(self, word: str) -> str | None:
        if word in self._vocabulary or len(word) < 3:
            return None
        for target in self._vocabulary:
            if _one_slip(word, target):
                return target
        return None


def _one_slip(word: str, target: str) -> bool:
    """A typo of `target`: one edit (two in long words), the first letter right, not a shorter word.

    Short words only count a missing, doubled or swapped letter ("spinn", "yoag"): one changed letter turns
    "spin" into "spun" and "skin", which are words of their own.
    """
    if word[0] != target[0] or abs(len(word) - len(target)) > 2:
        return False
    if len(target) - len(word) >= 2 and target.startswith(word):
        return False  # a word of its own, not a slip: "person" in "personal", "train" in "training"
    if len(word) == 3:  # "bok": only a dropped letter of "book"
        return target == "book" and OSA.distance(word, target) == 1
    allowed = 2 if len(target) >= 8 else 1
    if OSA.distance(word, target) > allowed:
        return False
    return len(target) > 4 or len(word) != len(target) or sorted(word) == sorted(target)
