"""The allow-list of actions: declared parameters, validation, dispatch, and the prompt's action section."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from actions.booking_backend import BookingStore
from actions.confirmations import PendingConfirmations
from actions.parser import ActionCall
from storage.customers import CustomerDirectory

log = logging.getLogger(__name__)
# What the customer reads instead of the model's words when it asked for an action we don't have.
UNKNOWN_ACTION_REPLY = "Sorry, I can't do that by text. Reply AGENT to reach a person."


@dataclass(frozen=True, slots=True)
class Param:
    """One declared argument of an action."""

    description: str
    required: bool = True
    max_length: int = 200
    parse: Callable[[str], Any] = str  # raises ValueError on a bad value


class ServiceFacts(Protocol):
    """A bookable service, as handlers read it."""

    @property
    def name(self) -> str: ...
    @property
    def price(self) -> float: ...
    @property
    def duration_minutes(self) -> int: ...


class BusinessFacts(Protocol):
    """What handlers read about the business (the business file's `Business` is one)."""

    @property
    def zone(self) -> ZoneInfo: ...
    @property
    def services(self) -> Sequence[ServiceFacts]: ...
    @property
    def address(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def website(self) -> str | None: ...

    def describe_time(self, moment: datetime) -> str: ...
    def hours_summary(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What a handler may touch: the texting customer's own identity and the services handed in."""

    phone: str
    customer_id: int | None
    now: datetime
    business: BusinessFacts
    customers: CustomerDirectory
    bookings: BookingStore
    confirmations: PendingConfirmations
    turn_key: str  # names the turn, so a retried turn can't book twice
    language: str = "en"  # the customer's: what handlers tell them is in it


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What a handler did, in words the customer can be sent."""

    name: str
    ok: bool
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[ActionContext, dict[str, Any]], Awaitable[ActionResult]]


def outcome(action: Mapping[str, Any]) -> str:
    """How a recorded action ended, in the same words everywhere: done, awaiting YES, or failed."""
    if action.get("ok"):
        return "done"
    if action.get("awaiting"):
        return f"awaiting {action['awaiting']}"
    return "failed"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An allow-listed action: its name, purpose, parameters and handler."""

    name: str
    purpose: str
    params: dict[str, Param]
    handler: Handler
    example: str = ""
    # Sent instead of the model's words when the arguments don't validate; empty keeps the words.
    on_invalid: str = ""
    # Changes nothing (only reads), so a dry run may call it for real.
    read_only: bool = False
    # False: only the service calls it (carrying out a customer's YES), never the model's tags.
    offered: bool = True
    # What a real run would tell the customer, for a rehearsal that must not run it (its id unknown yet).
    preview: Callable[[ActionContext, dict[str, Any]], str] | None = None


class ActionRegistry:
    """Validates requested actions against their declarations and runs them."""

    def __init__(self, specs: Iterable[ActionSpec] = ()) -> None:
        self._specs: dict[str, ActionSpec] = {}
        self._tools: list[dict[str, Any]] | None = None
        for spec in specs:
            self.register(spec)

    def register(self, spec: ActionSpec) -> None:
        self._specs[spec.name.upper()] = spec
        self._tools = None  # built again on the next ask

    def names(self) -> list[str]:
        return list(self._specs)

    def validate(self, call: ActionCall) -> tuple[ActionSpec, dict[str, Any]]:
        """The spec and parsed arguments, or ValueError saying what is wrong."""
        spec = self._specs.get(call.name)
        if spec is None:
            raise ValueError(f"unknown action {call.name}")
        unknown = set(call.args) - set(spec.params)
        if unknown:
            raise ValueError(f"{call.name} does not take {', '.join(sorted(unknown))}")
        parsed: dict[str, Any] = {}
        for key, param in spec.params.items():
            raw = call.args.get(key, "").strip()
            if not raw:
                if param.required:
                    raise ValueError(f"{call.name} needs {key}")
                continue
            if len(raw) > param.max_length:
                raise ValueError(f"{call.name} {key} is too long")
            try:
                parsed[key] = param.parse(raw)
            except ValueError as exc:
                raise ValueError(f"{call.name} {key}: {exc}") from None
        return spec, parsed

    async def dispatch(self, calls: list[ActionCall], context: ActionContext) -> list[ActionResult]:
        """Run the model's valid calls in order; unknown and invalid ones become failures."""
        return await self._run(calls, context, rehearsal=False, trusted=False)

    async def rehearse(self, calls: list[ActionCall], context: ActionContext) -> list[ActionResult]:
        """Like `dispatch`, but only read-only handlers run; the others are validated and described."""
        return await self._run(calls, context, rehearsal=True, trusted=False)

    async def call(self, call: ActionCall, context: ActionContext) -> ActionResult:
        """Run one call the service makes itself (a customer's YES), through the same validation."""
        if call.name not in self._specs:
            raise ValueError(f"unknown action {call.name}")
        (result,) = await self._run([call], context, rehearsal=False, trusted=True)
        return result

    async def _run(
        self, calls: list[ActionCall], context: ActionContext, *, rehearsal: bool, trusted: bool
    ) -> list[ActionResult]:
        results: list[ActionResult] = []
        for index, call in enumerate(calls):
            spec = self._specs.get(call.name)
            if spec is None or not (spec.offered or trusted):
                # Its words may claim it happened ("Refund issued!"): the failure replaces them.
                log.warning("refused unknown action %s", call.name)
                error = {"error": f"unknown action {call.name}"}
                results.append(ActionResult(call.name, ok=False, message=UNKNOWN_ACTION_REPLY, data=error))
                continue
            try:
                spec, args = self.validate(call)
            except ValueError as exc:
                log.info("rejected action: %s", exc)
                results.append(
                    ActionResult(call.name, ok=False, message=spec.on_invalid, data={"error": str(exc)})
                )
                continue
            if rehearsal and not spec.read_only:
                shown = {key: str(value) for key, value in args.items()}
                preview = spec.preview(context, args) if spec.preview else ""
                results.append(
                    ActionResult(call.name, ok=True, message=preview, data={"dry_run": True, "args": shown})
                )
                continue
            # Each call of a turn is its own change: two SCHEDULEs must not share one idempotency key.
            own = context if index == 0 else replace(context, turn_key=f"{context.turn_key}:{index}")
            results.append(await spec.handler(own, args))
        return results

    def tools(self) -> list[dict[str, Any]]:
        """The offered actions as OpenAI function tools: JSON Schema from the same declarations.

        Built once (every LLM request offers them); callers must not change what they get.
        """
        if self._tools is None:
            self._tools = self._tool_definitions()
        return self._tools

    def _tool_definitions(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.purpose,
                    "parameters": {
                        "type": "object",
                        "properties": {
                            key: {
                                "type": "string",
                                "description": param.description,
                                "maxLength": param.max_length,
                            }
                            for key, param in spec.params.items()
                        },
                        "required": [key for key, param in spec.params.items() if param.required],
                        "additionalProperties": False,
                    },
                },
            }
            for spec in self._specs.values()
            if spec.offered
        ]

    def describe(self) -> list[dict[str, Any]]:
        """Plain values for the system prompt, from the same specs the dispatcher uses."""
        return [
            {
                "name": spec.name,
                "purpose": spec.purpose,
                "params": [
                    {"name": key, "description": param.description, "required": param.required}
                    for key, param in spec.params.items()
                ],
                "example": spec.example,
            }
            for spec in self._specs.values()
            if spec.offered
        ]
