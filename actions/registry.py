"""The allow-list of actions: declared parameters, validation, dispatch, and the prompt's action section."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from actions.confirmations import PendingConfirmations
from actions.parser import ActionCall
from assistant.bookings.port import BookingStore
from assistant.business import Business
from storage.customers import CustomerDirectory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Param:
    """One declared argument of an action."""

    description: str
    required: bool = True
    max_length: int = 200
    parse: Callable[[str], Any] = str  # raises ValueError on a bad value


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What a handler may touch: the texting customer's own identity and the services handed in."""

    phone: str
    customer_id: int | None
    now: datetime
    business: Business
    customers: CustomerDirectory
    bookings: BookingStore
    confirmations: PendingConfirmations
    turn_key: str  # names the turn, so a retried turn can't book twice


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


class ActionRegistry:
    """Validates requested actions against their declarations and runs them."""

    def __init__(self, specs: Iterable[ActionSpec] = ()) -> None:
        self._specs: dict[str, ActionSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: ActionSpec) -> None:
        self._specs[spec.name.upper()] = spec

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
        """Run each valid call in order; unknown names are dropped, invalid ones become failed results."""
        results: list[ActionResult] = []
        for call in calls:
            if call.name not in self._specs:
                log.warning("ignored unknown action %s", call.name)
                continue
            try:
                spec, args = self.validate(call)
            except ValueError as exc:
                log.info("rejected action: %s", exc)
                results.append(
                    ActionResult(
                        call.name,
                        ok=False,
                        message=self._specs[call.name].on_invalid,
                        data={"error": str(exc)},
                    )
                )
                continue
            results.append(await spec.handler(context, args))
        return results

    async def rehearse(self, calls: list[ActionCall], context: ActionContext) -> list[ActionResult]:
        """Like `dispatch`, but only read-only handlers run; the others are validated and described."""
        results: list[ActionResult] = []
        for call in calls:
            if call.name not in self._specs:
                continue
            try:
                spec, args = self.validate(call)
            except ValueError as exc:
                spec = self._specs[call.name]
                results.append(
                    ActionResult(call.name, ok=False, message=spec.on_invalid, data={"error": str(exc)})
                )
                continue
            if spec.read_only:
                results.append(await spec.handler(context, args))
            else:
                shown = {key: str(value) for key, value in args.items()}
                results.append(ActionResult(call.name, ok=True, data={"dry_run": True, "args": shown}))
        return results

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
        ]
