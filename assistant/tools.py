"""A turn's actions offered to the model as native tools, run through the registry's guards."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from actions.parser import ActionCall
from actions.registry import ActionContext, ActionRegistry, ActionResult
from assistant.llm.port import ToolCall

log = logging.getLogger(__name__)

MAX_CALLS = 4  # per turn: one booking change is the rule, and a model that loops must not run on


@dataclass
class TurnToolbox:
    """The `Toolbox` of one turn: the texting customer's context only, and a record of every call."""

    registry: ActionRegistry
    context: ActionContext
    rehearsal: bool = False  # a dry run: only read-only actions really run
    calls: list[ActionCall] = field(default_factory=list)
    results: list[ActionResult] = field(default_factory=list)

    def definitions(self) -> list[dict[str, Any]]:
        return self.registry.tools()

    async def run(self, call: ToolCall) -> str:
        result = await self._result(call)
        self.results.append(result)
        return json.dumps({"ok": result.ok, "message": result.message, **result.data}, default=str)

    async def _result(self, call: ToolCall) -> ActionResult:
        name = call.name.strip().upper()
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            log.info("refused a malformed %s call: its arguments are not a JSON object", name)
            return ActionResult(name, ok=False, data={"error": "arguments must be a JSON object"})
        if len(self.calls) >= MAX_CALLS:
            return ActionResult(name, ok=False, data={"error": f"at most {MAX_CALLS} actions in one reply"})
        action = ActionCall(name, {key: str(value) for key, value in arguments.items()})
        self.calls.append(action)
        # Each call its own change, named by its place in the turn, so a retried turn books once.
        own = replace(self.context, turn_key=f"{self.context.turn_key}:tool{len(self.calls)}")
        run = self.registry.rehearse if self.rehearsal else self.registry.dispatch
        (result,) = await run([action], own)
        return result

    def reply(self, words: str) -> str:
        """The SMS after the model used tools: its own words, which have seen every result.

        A change waiting for YES is asked in the handler's words instead, as with tags: that is the
        question the customer's YES answers, and the model's words might say it is done already.
        """
        if questions := [r.message for r in self.results if r.data.get("awaiting") and r.message]:
            return " ".join(questions)
        return words or " ".join(result.message for result in self.results if result.message)

    def shown(self, words: str) -> str:
        """The model's words and its calls as text tags, the way logs and the console show actions."""
        return " ".join([words, *(call.tag() for call in self.calls)]).strip()
