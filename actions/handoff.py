"""HANDOFF: flag the conversation so a member of staff picks it up."""

from __future__ import annotations

from typing import Any

from actions.phrases import say
from actions.registry import ActionContext, ActionResult, ActionSpec, Param


async def handoff(context: ActionContext, args: dict[str, Any]) -> ActionResult:
    reason = args.get("reason") or "customer asked for a person"
    await context.customers.flag_for_staff(context.phone, reason)
    return ActionResult(
        "HANDOFF",
        ok=True,
        message=say(context.language, "handed_off"),
        data={"reason": reason},
    )


SPEC = ActionSpec(
    name="HANDOFF",
    purpose="Ask a member of staff to take over (complaints, refunds, anything you cannot do)",
    params={"reason": Param("a few words on why", required=False)},
    handler=handoff,
    example='[ACTION:HANDOFF reason="wants a refund"]',
)
