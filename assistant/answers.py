"""What the model answers a turn and what its actions did: native tool calls or text tags, with the
offline engine answering whenever the LLM fails, so the customer still hears back."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from actions.parser import parse_actions, strip_actions
from actions.registry import ActionContext, ActionRegistry, ActionResult
from assistant.errors import LLMError
from assistant.llm.facts import TurnFacts
from assistant.llm.port import ChatMessage, ChatModel, Completion
from assistant.metrics import COST, LLM_FALLBACKS, LLM_SECONDS, LLM_TOKENS
from assistant.tools import TurnToolbox
from storage.spend import LlmUse

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the model said and what came of it, before it is recorded and sent."""

    text: str  # the SMS to send; empty when there is nothing to say (the caller apologises)
    raw: str  # the model's words with its actions as tags, as logs and the console show them
    engine: str
    results: list[ActionResult]
    path: str  # how the model asked for its actions: "tools" (native calls) or "tags"
    use: LlmUse | None = None  # what asking the model took and cost, as it is recorded


class Answerer:
    """Asks the LLM (or, when it fails, the offline engine) and carries out the actions it asks for."""

    def __init__(self, llm: ChatModel, fallback: ChatModel, actions: ActionRegistry) -> None:
        self._llm = llm
        self._fallback = fallback
        self._actions = actions

    async def answer(
        self, chat: list[ChatMessage], facts: TurnFacts, context: ActionContext, *, rehearsal: bool = False
    ) -> Answer:
        """The reply to `chat` and what its actions did; a rehearsal runs only read-only actions."""
        toolbox = TurnToolbox(self._actions, context, rehearsal=rehearsal)
        started = time.perf_counter()
        try:
            completion = await self._llm.complete(chat, facts, tools=toolbox)
        except LLMError as exc:
            LLM_FALLBACKS.inc()
            use = self._use("fallback", started)
            if toolbox.results:  # its calls ran already: answer from them, never have them asked for again
                log.warning("LLM failed after its tool calls (%s); answering from their results", exc)
                text, shown = toolbox.reply(""), toolbox.shown("")
                return Answer(text, shown, self._llm.name, toolbox.results, "tools", use)
            log.warning("LLM failed (%s); answering with %s", exc, self._fallback.name)
            raw, engine = (await self._fallback.complete(chat, facts)).text, self._fallback.name
        else:
            raw, engine = completion.text, self._llm.name
            use = self._use("offline" if self._llm is self._fallback else "answered", started, completion)
        if toolbox.results:
            # Tags in its words as well would ask a second time for what a call already did.
            words = strip_actions(raw)
            return Answer(toolbox.reply(words), toolbox.shown(words), engine, toolbox.results, "tools", use)
        run = self._actions.rehearse if rehearsal else self._actions.dispatch
        results = await run(parse_actions(raw), context)
        return Answer(compose_reply(strip_actions(raw), results), raw, engine, results, "tags", use)

    def _use(self, outcome: str, started: float, completion: Completion | None = None) -> LlmUse:
        """The ask as it is recorded, and counted for /metrics."""
        seconds = time.perf_counter() - started
        if outcome == "answered":
            LLM_SECONDS.observe(seconds)
        used = completion or Completion("")
        LLM_TOKENS.labels("prompt").inc(used.prompt_tokens)
        LLM_TOKENS.labels("completion").inc(used.completion_tokens)
        COST.labels("llm").inc(used.cost)
        return LlmUse(
            model=self._llm.name,
            outcome=outcome,
            latency_ms=round(seconds * 1000),
            prompt_tokens=used.prompt_tokens,
            completion_tokens=used.completion_tokens,
            cost=used.cost,
        )


def compose_reply(model_text: str, results: Sequence[ActionResult]) -> str:
    """The model's words plus what the handlers did; a failed change replaces the words entirely."""
    failed = [result for result in results if not result.ok and result.message]
    if failed:
        # Never send the model's text when an action failed: it may say "you're booked!".
        return " ".join(result.message for result in failed)
    done = [result.message for result in results if result.ok and result.message]
    return " ".join(part for part in (model_text, *done) if part).strip()
