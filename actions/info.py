"""INFO: answer a factual question about the business from its configuration, not from the model."""

from __future__ import annotations

from typing import Any

from actions.registry import ActionContext, ActionResult, ActionSpec, Param

TOPICS = ("hours", "services", "prices", "address", "phone", "website")


def _topic(raw: str) -> str:
    topic = raw.strip().lower()
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {', '.join(TOPICS)}")
    return topic


async def info(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    business = context.business
    topic = args["topic"]
    if topic == "hours":
        text = "Our hours: " + "; ".join(business.hours_summary()) + "."
    elif topic in ("services", "prices"):
        items = [f"{s.name} ${s.price:g} ({s.duration_minutes} min)" for s in business.services]
        text = "We offer " + ", ".join(items) + "." if items else ""
    else:
        value = getattr(business, topic)
        text = f"Our {topic}: {value}." if value else ""
    if not text:
        return ActionResult("INFO", ok=False, message="", data={"topic": topic})
    return ActionResult("INFO", ok=True, message=text, data={"topic": topic})


SPEC = ActionSpec(
    name="INFO",
    purpose="Look up a fact about the business so the customer gets the exact answer",
    params={"topic": Param(f"one of: {', '.join(TOPICS)}", parse=_topic)},
    handler=info,
    example='[ACTION:INFO topic="hours"]',
    read_only=True,
)
