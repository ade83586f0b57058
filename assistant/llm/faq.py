"""Finding which of the business's FAQ entries a text asks, by its keywords or by its question's words."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz

from assistant.business import Faq

# A text this close to an entry's question asks it, even without one of its keywords.
SIMILAR_QUESTION = 88


class FaqIndex:
    """The business's FAQ entries, ready to match texts against."""

    def __init__(self, entries: Sequence[Faq]) -> None:
        self._entries = [(entry, _phrases(entry.keywords)) for entry in entries]

    def answer_for(self, text: str) -> Faq | None:
        """The entry the text asks about: the most keywords found, then the closest question."""
        folded = text.casefold()
        best: tuple[float, Faq] | None = None
        for entry, keywords in self._entries:
            hits = sum(1 for keyword in keywords if keyword.search(folded))
            similarity = fuzz.token_set_ratio(folded, entry.question.casefold())
            score = hits * 100 + (similarity if similarity >= SIMILAR_QUESTION else 0)
            if score and (best is None or score > best[0]):
                best = (score, entry)
        return best[1] if best else None


def _phrases(keywords: Sequence[str]) -> list[re.Pattern[str]]:
    return [re.compile(rf"\b{re.escape(keyword.casefold())}\b") for keyword in keywords if keyword.strip()]
