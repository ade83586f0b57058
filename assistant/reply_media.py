"""The images the business file sends with replies: with an FAQ's answer, or an action that succeeded."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence

from rapidfuzz import fuzz

from actions.registry import ActionResult
from assistant.business import Business
from assistant.settings import ConfigError
from assistant.sms.media import Media, MediaError, MediaInspector, MediaUnreachable, fitting

log = logging.getLogger(__name__)

# A reply carries an FAQ answer when it quotes it this closely: the offline engine quotes it word for word,
# and the system prompt gives the model the answers to give (it may change a word or two).
QUOTED = 90
_SPACES = re.compile(r"\s+")


def _folded(text: str) -> str:
    return _SPACES.sub(" ", text.casefold()).strip()


class ReplyMedia:
    """The business file's media, checked: which of them a reply carries."""

    def __init__(
        self,
        faq: Sequence[tuple[str, tuple[Media, ...]]] = (),
        actions: Mapping[str, tuple[Media, ...]] | None = None,
    ) -> None:
        self._faq = [(_folded(answer), media) for answer, media in faq if media]
        self._actions = dict(actions or {})

    def __bool__(self) -> bool:
        return bool(self._faq or self._actions)

    def for_reply(self, text: str, results: Sequence[ActionResult]) -> tuple[Media, ...]:
        """The media for a reply with these words and action results, as many as one MMS carries."""
        folded = _folded(text)
        found: list[Media] = []
        for answer, media in self._faq:
            # Only a reply about as long as the answer can quote it (a short "yes" matches anything).
            if len(folded) >= 0.8 * len(answer) and fuzz.partial_ratio(answer, folded) >= QUOTED:
                found.extend(media)
        for result in results:
            if result.ok:
                found.extend(self._actions.get(result.name, ()))
        return fitting(found)


async def checked_reply_media(
    business: Business, inspector: MediaInspector, actions: Collection[str]
) -> ReplyMedia:
    """The business file's media, each URL asked for its type and size once, at start-up.

    A definite refusal (not an image, over 5 MB, a 404, an unknown action) stops start-up like any other
    mistake in the file. A server that doesn't answer now only leaves that entry's images off, with a
    warning: the text still goes, and the service doesn't depend on an image host to start.
    """
    unknown = sorted(set(business.action_media) - {name.upper() for name in actions})
    if unknown:
        raise ConfigError(f"business config: action_media: no action named {', '.join(unknown)}")
    faq = [
        (entry.answer, await _checked(inspector, entry.media, f"faq {entry.question!r}"))
        for entry in business.faq
        if entry.media
    ]
    named = {
        name: await _checked(inspector, urls, f"action_media.{name}")
        for name, urls in business.action_media.items()
    }
    return ReplyMedia(faq, named)


async def _checked(inspector: MediaInspector, urls: Sequence[str], where: str) -> tuple[Media, ...]:
    try:
        return await inspector.inspect(urls)
    except MediaUnreachable as exc:
        log.warning("business config: %s: sending it without its media for now: %s", where, exc)
        return ()
    except MediaError as exc:
        raise ConfigError(f"business config: {where}: {exc}") from None
