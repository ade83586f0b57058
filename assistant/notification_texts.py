"""Notification texts: one message's preview, or a digest of several, always within the segment budget."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from assistant.shaping import shape_reply
from prompts.renderer import PromptRenderer

ELLIPSIS = "..."
MAX_NAME = 40  # a very long display name must not leave no room for the preview
ROOMY_BUDGET = 10  # enough segments that shaping never cuts anything


def chat_link(app_base_url: str | None, chat_ids: Sequence[str]) -> str:
    """The chat to open: `{APP_BASE_URL}/chat/{chatId}`, the app itself for several chats, or ""."""
    if not app_base_url:
        return ""
    base = app_base_url.rstrip("/")
    distinct = sorted(set(chat_ids))
    return f"{base}/chat/{quote(distinct[0], safe='')}" if len(distinct) == 1 else base


def short_name(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1].rstrip() + "."


def name_list(names: Sequence[str], shown: int) -> str:
    """'Alice', 'Alice and Bob', 'Alice, Bob and Carol', or 'Alice, Bob and 3 others'."""
    if len(names) <= shown:
        head, tail = list(names[:-1]), names[-1]
    else:
        others = len(names) - shown
        head, tail = list(names[:shown]), f"{others} other{'' if others == 1 else 's'}"
    return f"{', '.join(head)} and {tail}" if head else tail


class NotificationTexts:
    """Renders `notification.j2` and `notification_digest.j2`, cut to fit before the send path shapes them."""

    def __init__(self, renderer: PromptRenderer, *, app_base_url: str | None, segment_budget: int) -> None:
        self._renderer = renderer
        self._app_base_url = app_base_url
        self._budget = segment_budget

    def _fits(self, text: str, suffix: str) -> bool:
        """Whether the send path would send `text` whole (shaping cuts only what is over budget)."""
        shaped = shape_reply(text, self._budget, suffix=suffix)
        return shaped.body == shape_reply(text, ROOMY_BUDGET, suffix=suffix).body

    async def single(self, *, sender: str, body: str, chat_id: str, suffix: str = "") -> str:
        """'New message from Alice: <preview>' and the link, the preview cut at a word to fit the budget."""
        words = " ".join(body.split())
        values = {"sender": short_name(sender), "link": chat_link(self._app_base_url, [chat_id])}

        async def render(preview: str) -> str:
            return await self._renderer.render("notification", {**values, "preview": preview})

        whole = await render(words)
        if self._fits(whole, suffix):
            return whole
        # Candidate cuts: after each word, else (one enormous word) after any character. Longer never fits
        # better, so the longest fitting cut is found by bisection.
        cuts = [index for index, char in enumerate(words) if char == " "] or list(range(1, len(words)))
        low, high, best = 0, len(cuts) - 1, None
        while low <= high:
            middle = (low + high) // 2
            candidate = await render(words[: cuts[middle]].rstrip() + ELLIPSIS)
            if self._fits(candidate, suffix):
                best, low = candidate, middle + 1
            else:
                high = middle - 1
        return best if best is not None else await render(ELLIPSIS)

    async def digest(
        self, *, senders: Sequence[str], count: int, chat_ids: Sequence[str], suffix: str = ""
    ) -> str:
        """'3 new messages from Alice and Bob — open <link>', naming fewer senders when names are long."""
        names = list(dict.fromkeys(short_name(name) for name in senders))
        link = chat_link(self._app_base_url, chat_ids)
        text = ""
        for shown in range(len(names), 0, -1):
            values = {"count": count, "senders": name_list(names, shown), "link": link}
            text = await self._renderer.render("notification_digest", values)
            if self._fits(text, suffix):
                return text
        return text
