"""Checks on a template draft before staff save it: it renders, uses only known values, and fits SMS rules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateSyntaxError

from assistant.business import Business
from assistant.keywords import normalise
from assistant.llm.facts import Appointment, TurnFacts
from assistant.reminders import lead_text, when_text
from assistant.segments import SegmentInfo, count_segments, smart_encode
from prompts.isolated import IsolatedRenderer
from prompts.renderer import PromptError, template_variables

# Templates whose job is the opt-out flow: telling the customer to reply STOP is right there.
OPT_OUT_TEMPLATES = frozenset({"opt_out", "opt_out_unclear", "help", "opt_in", "disclosure", "one_way"})
# Templates that are instructions to the model, not text a customer receives.
MODEL_FACING = frozenset({"system"})
# A draft that renders slower than this would hold up every turn, so it can't be saved.
SAVE_RENDER_SECONDS = 0.25
SAMPLE_CUSTOMER_NAME = "Alex Sample"
# "Reply CANCEL", "text us STOP", "respond with 'END'": an instruction followed by the word itself.
_INSTRUCTION = re.compile(
    r"\b(?:reply|replying|text|txt|send|respond|answer|type|write)\b(?:\s+(?:back|us|with|the\s+word))*"
    r"\s+[\"'“‘«]?(?P<words>[^\s\"'”’»]+(?:\s+[^\s\"'”’»]+)?)",
    re.IGNORECASE,
)


@dataclass(slots=True)
class DraftCheck:
    """The outcome of rendering a draft against sample values, and what the lint found."""

    rendered: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    segments: SegmentInfo | None = None
    cost: float | None = None

    @property
    def blocks_save(self) -> bool:
        """A draft that fails to render, or renders too slowly, would break live turns."""
        return self.error is not None or self.seconds > SAVE_RENDER_SECONDS


def opt_out_words(business: Business) -> frozenset[str]:
    """Every opt-out keyword the business's gate honours, normalised."""
    return frozenset(word for pack in business.keywords.keyword_set().packs for word in pack.opt_out)


def opt_out_instructions(text: str, words: frozenset[str]) -> list[str]:
    """The phrases in `text` that tell someone to reply with a standalone opt-out word."""
    found: list[str] = []
    for match in _INSTRUCTION.finditer(text):
        tokens = match["words"].split()
        for size in (2, 1):
            if len(tokens) >= size and normalise(" ".join(tokens[:size])) in words:
                phrase = text[match.start() : match.start("words")] + " ".join(tokens[:size])
                found.append(phrase.strip().rstrip(".,;:!?"))
                break
    return list(dict.fromkeys(found))


def sample_values(
    name: str, shipped: str, business: Business, actions: list[dict[str, Any]], now: datetime
) -> tuple[dict[str, Any], list[str]]:
    """Values like the ones this template gets in production, and names to fill with ‹placeholders›."""
    plain = business.template_values()
    local = now.astimezone(ZoneInfo(business.timezone))
    start = (local + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    service = business.services[0].name if business.services else "Consultation"
    known: dict[str, dict[str, Any]] = {
        "system": TurnFacts(
            now=now,
            zone=ZoneInfo(business.timezone),
            customer_name=SAMPLE_CUSTOMER_NAME,
            appointments=(Appointment("42", service, start),),
        ).prompt_values(plain, actions),
        "disclosure": {},
        "one_way": {"number": "+14155550100"},
        "reminder": {
            "business": plain,
            "appointment": {
                "id": "42",
                "service": service,
                "when": when_text(start, now, business),
                "start": start.isoformat(timespec="minutes"),
            },
            "lead": lead_text(timedelta(hours=24)),
        },
    }
    link = "https://chat.example.com/chat/42"
    known["notification"] = {"sender": "Alice", "preview": "Are we still on for tomorrow?", "link": link}
    known["notification_digest"] = {"count": 3, "senders": "Alice and Bob", "link": link}
    known["verification"] = {"business": plain, "code": "482913", "minutes": 10}
    values = dict(known.get(name, {}))
    used = template_variables(shipped)
    if "business" in used or name in OPT_OUT_TEMPLATES or name == "fallback":
        values.setdefault("business", plain)
    # Whatever else the shipped file reads is what production gives it; we show those as ‹placeholders›.
    return values, sorted(used - set(values))


async def check_draft(
    name: str,
    source: str,
    *,
    shipped: str,
    renderer: IsolatedRenderer,
    business: Business,
    actions: list[dict[str, Any]],
    now: datetime,
    segment_budget: int,
    segment_price: float,
) -> DraftCheck:
    """Render the draft in the isolated renderer and lint it; never raises for a bad draft."""
    check = DraftCheck()
    values, placeholders = sample_values(name, shipped, business, actions, now)
    try:
        unknown = template_variables(source) - set(values) - set(placeholders)
    except TemplateSyntaxError as exc:
        check.error = f"template syntax error on line {exc.lineno}: {exc.message}"
        return check
    for variable in sorted(unknown):
        check.warnings.append(
            f"“{variable}” is not a value this template gets ({_known(values, placeholders)})."
        )
    try:
        check.rendered, check.seconds = await renderer.render(source, values, placeholders)
    except PromptError as exc:
        check.error = str(exc)
    if check.seconds > SAVE_RENDER_SECONDS:
        check.warnings.append(
            f"It took {check.seconds:.2f} s to render; every turn would wait that long (limit "
            f"{SAVE_RENDER_SECONDS:g} s)."
        )
    if name not in OPT_OUT_TEMPLATES:
        words = opt_out_words(business)
        for phrase in opt_out_instructions(check.rendered or source, words):
            check.warnings.append(
                f"“{phrase}” tells the customer to reply with an opt-out word: carriers and Twilio will "
                "unsubscribe them. Ask for it in other words (e.g. “just tell us you'd like to cancel”)."
            )
    if name not in MODEL_FACING and check.rendered is not None:
        check.segments = count_segments(smart_encode(check.rendered))
        check.cost = check.segments.segments * segment_price
        if check.segments.segments > segment_budget:
            check.warnings.append(
                f"It is {check.segments.segments} SMS segments; texts are cut to {segment_budget} "
                "(SEGMENT_BUDGET), so the end would be lost."
            )
    return check


def _known(values: dict[str, Any], placeholders: Iterable[str]) -> str:
    names = sorted([*values, *placeholders])
    return "available: " + ", ".join(names) if names else "it gets no values"
