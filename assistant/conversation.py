"""The inbound turn, top to bottom: gate → context → prompt → LLM → actions → shape → record → send."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from actions import booking
from actions.booking_backend import BookingRefused, BookingStore
from actions.confirmations import AFFIRMATIVES, NEGATIVES, PendingChange, PendingConfirmations
from actions.parser import neutralise
from actions.phrases import say
from actions.registry import ActionContext, ActionRegistry, ActionResult
from assistant.answers import Answerer
from assistant.business import Business
from assistant.gate import Handled, KeywordGate
from assistant.keywords import normalise
from assistant.llm.facts import Appointment, TurnFacts
from assistant.llm.language import language_of
from assistant.llm.port import ChatMessage, ChatModel
from assistant.logs import mask_phone
from assistant.metrics import TURNS
from assistant.reply_media import ReplyMedia
from assistant.sender import Sender
from assistant.transcript import Transcript, attachment_types, customer_text, images_of, words_of
from prompts.renderer import PromptRenderer
from storage.batching import Coalescer
from storage.clock import Clock
from storage.customers import CustomerDirectory
from storage.messages import Closing, MessageLog, PendingTurn
from storage.reply_guard import ReplyGuard
from storage.spend import LlmUse, SpendBook
from storage.tables import Customer, Message

log = logging.getLogger(__name__)

SystemRender = Callable[[dict[str, Any]], Awaitable[str]]
# A whole text asking for a person flags the conversation for staff (the model still answers it).
STAFF_WORDS = frozenset({"AGENT", "HUMAN", "PERSON", "OPERATOR", "REPRESENTATIVE", "REAL PERSON"})
CLOSE_BATCH = 100  # turns whose replies one transaction records


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What one turn produced: the recorded reply, the engine that wrote it, the actions that ran."""

    reply: Message
    engine: str
    actions: list[ActionResult]
    system_prompt: str


@dataclass(frozen=True, slots=True)
class DryRun:
    """What a turn would have answered: nothing was recorded, sent, booked or remembered."""

    system_prompt: str
    raw: str
    engine: str
    actions: list[ActionResult]
    reply: Message  # unsaved, shaped exactly as the send path would send it
    path: str = "tags"  # how the model asked for its actions: "tools" (native calls) or "tags"


class Conversation:
    """Answers one customer's pending texts: the keyword gate first, then, if anything is left, the LLM."""

    def __init__(
        self,
        *,
        business: Business,
        messages: MessageLog,
        customers: CustomerDirectory,
        transcript: Transcript,
        renderer: PromptRenderer,
        gate: KeywordGate,
        guard: ReplyGuard,
        llm: ChatModel,
        fallback: ChatModel,
        actions: ActionRegistry,
        bookings: BookingStore,
        confirmations: PendingConfirmations,
        sender: Sender,
        spend: SpendBook,
        clock: Clock,
        media: ReplyMedia | None = None,
    ) -> None:
        self._business = business
        self._media = media or ReplyMedia()  # the business file's images for FAQ answers and actions
        self._spend = spend
        self._messages = messages
        # Concurrent turns record their replies together: one transaction for every turn ending now.
        self._closings = Coalescer(messages.close_turns, max_batch=CLOSE_BATCH)
        self._customers = customers
        self._transcript = transcript
        self._renderer = renderer
        self._gate = gate
        self._guard = guard
        self._actions = actions
        self._answers = Answerer(llm, fallback, actions)
        self._bookings = bookings
        self._confirmations = confirmations
        self._sender = sender
        self._clock = clock

    async def answer(self, turn: PendingTurn) -> TurnResult | None:
        """Run the turn for a phone's pending texts; None when only the gate answered."""
        phone = turn.phone
        screening = await self._gate.screen(phone, turn.messages, recorded=turn.consent)
        # Known from the turn's read, until a keyword answer in this same turn has texted the number.
        texted_before: bool | None = turn.texted_before
        for handled in screening.handled:
            await self._answer_keyword(phone, handled)
            texted_before = texted_before or None
        talk = screening.conversation
        if not talk:
            return None
        user_text = customer_text(talk)
        if turn.held_by_staff:
            # Staff hold this conversation: the texts wait for them in the console, the bot says nothing.
            TURNS.labels("staff").inc()
            await self._messages.close_turn([message.id for message in talk], state="staff")
            await self._transcript.add(phone, {"role": "user", "content": user_text})
            return None
        if normalise(user_text) in STAFF_WORDS:
            await self._customers.flag_for_staff(phone, f"asked for a person ({normalise(user_text)})")
        hold = await self._guard.hold_reason(phone, user_text, turn=talk[0].id)
        if hold is not None:
            await self._hold(phone, talk, hold)
            return None

        customer = turn.customer or await self._customers.ensure(phone)
        now = self._clock()
        context = self._context(phone, customer.id, now, turn_key=f"turn:{talk[0].id}")
        # A pending cancel or move waits for YES, and NO keeps the appointment; any other answer drops it and
        # is a normal turn.
        pending_change = await self._confirmations.take(phone)
        answer = normalise(user_text)
        affirmed, declined = answer in AFFIRMATIVES, answer in NEGATIVES
        if pending_change is None and (affirmed or declined):
            pending_change = await self._asked_in_last_reply(phone, now)
        if pending_change is not None and affirmed:
            # Carried out in the language the question was asked in.
            asked_in = replace(context, language=pending_change.language)
            result = await self._actions.call(booking.confirmation(pending_change), asked_in)
            return await self._reply(
                phone, talk, user_text, result.message, "confirmation", [result], "", texted_before
            )
        if pending_change is not None and declined:
            kept = await self._kept(phone, pending_change, now)
            return await self._reply(phone, talk, user_text, kept, "confirmation", [], "", texted_before)

        earlier = await self._transcript.recent(phone, first_contact=turn.first_contact)
        language = self._language(user_text, earlier)
        context = replace(context, language=language)
        facts = self._facts(customer, now, await self._upcoming(phone, now), talk, language)
        system_prompt = await self._renderer.render("system", self._prompt_values(facts))
        chat: list[ChatMessage] = [
            {"role": "system", "content": system_prompt},
            *({"role": turn["role"], "content": turn["content"]} for turn in earlier),
            {"role": "user", "content": user_text},
        ]
        answer = await self._answers.answer(chat, facts, context)
        return await self._reply(
            phone,
            talk,
            user_text,
            answer.text or await self._apology(),
            answer.engine,
            answer.results,
            system_prompt,
            texted_before,
            first_contact=turn.first_contact,
            language=language,
            use=answer.use,
        )

    async def apologise(self, turn: PendingTurn, reason: str) -> None:
        """End a turn that keeps failing: the apology instead of silence, and the conversation flagged."""
        await self._customers.flag_for_staff(turn.phone, reason)
        talk = turn.messages
        await self._reply(
            turn.phone, talk, customer_text(talk), await self._apology(), "apology", [], "", None
        )

    async def _kept(self, phone: str, change: PendingChange, now: datetime) -> str:
        """The answer to a "no" to a booking, cancel or move: nothing changes, and which appointment stays."""
        language = change.language
        if change.action == "SCHEDULE":
            return say(language, "kept_booking")
        verb = say(language, "verb_cancel" if change.action == "CANCEL" else "verb_move")
        found = next((a for a in await self._upcoming(phone, now) if str(a.id) == change.appointment), None)
        if found is None:
            return say(language, "kept_unknown", verb=verb)
        when = booking.local_moment(self._business, language, found.start)
        return say(language, "kept", verb=verb, what=f"{found.service}, {when} (#{found.id})")

    def _language(self, text: str, earlier: Sequence[Mapping[str, Any]]) -> str:
        """The language the customer writes in; a text that could be either ("ok", "7pm") keeps the last."""
        spoken = self._business.keywords.languages
        said = [turn["content"] for turn in earlier if turn.get("role") == "user"][-2:]
        before = language_of(" ".join(said), spoken) if said else "en"
        return language_of(text, spoken, otherwise=before)

    async def _asked_in_last_reply(self, phone: str, now: datetime) -> PendingChange | None:
        """The question the last reply asked, when Redis has lost it (restarted, or in-process and new).

        The reply is the record of what was asked, and any later answer would have been a newer reply.
        """
        reply = await self._messages.last_reply(phone)
        if reply is None or now - reply.created_at > timedelta(seconds=self._confirmations.ttl_seconds):
            return None
        return PendingChange.asked_in(reply.details.get("actions", []))

    async def dry_run(self, phone: str, text: str, render: SystemRender | None = None) -> DryRun:
        """The reply a turn would give `text` from `phone`, with `render` writing the system prompt."""
        customer = await self._customers.by_phone(phone) or Customer(phone=phone, tier="standard")
        now = self._clock()
        said = [Message(direction="inbound", body=text, media=[])]
        earlier = await self._transcript.recent(phone)
        language = self._language(text, earlier)
        facts = self._facts(customer, now, await self._upcoming(phone, now), said, language)
        values = self._prompt_values(facts)
        system_prompt = await (render(values) if render else self._renderer.render("system", values))
        chat: list[ChatMessage] = [
            {"role": "system", "content": system_prompt},
            *({"role": turn["role"], "content": turn["content"]} for turn in earlier),
            {"role": "user", "content": neutralise(text.strip())},
        ]
        # Only read-only handlers run: nothing is booked, cancelled or flagged.
        context = self._context(phone, customer.id, now, turn_key="dry-run", language=language)
        answer = await self._answers.answer(chat, facts, context, rehearsal=True)
        if answer.use is not None:  # a rehearsal asks the real model: it costs the same
            await self._spend.record(answer.use, at=now)
        text = answer.text or await self._apology()
        reply = await self._sender.prepare(phone=phone, text=text, kind="reply", sender="")
        return DryRun(
            system_prompt=system_prompt,
            raw=answer.raw,
            engine=answer.engine,
            actions=answer.results,
            reply=reply,
            path=answer.path,
        )

    def _context(
        self, phone: str, customer_id: int | None, now: datetime, *, turn_key: str, language: str = "en"
    ) -> ActionContext:
        """What handlers may touch: this sender's own data only."""
        return ActionContext(
            language=language,
            phone=phone,
            customer_id=customer_id,
            now=now,
            business=self._business,
            customers=self._customers,
            bookings=self._bookings,
            confirmations=self._confirmations,
            turn_key=turn_key,
        )

    async def _reply(
        self,
        phone: str,
        talk: Sequence[Message],
        user_text: str,
        text: str,
        engine: str,
        results: list[ActionResult],
        system_prompt: str,
        texted_before: bool | None,
        *,
        first_contact: bool = False,
        language: str = "en",
        use: LlmUse | None = None,
    ) -> TurnResult:
        """Record the turn's reply (closing the turn) with what asking the model used, remember it, and
        send it."""
        TURNS.labels("failed" if engine == "apology" else "answered").inc()
        customer_id = talk[0].customer_id
        reply = await self._sender.prepare(
            phone=phone,
            text=text,
            kind="reply",
            sender=talk[-1].to_number,  # answer from the number (or service) they texted
            customer_id=customer_id,
            details={"engine": engine, "actions": [_describe(result) for result in results]},
            texted_before=texted_before,
            language=language,
            media=self._media.for_reply(text, results),
        )
        # Recording the reply closes the turn: from here on no retry asks the LLM or replies again.
        await self._closings.submit(Closing([message.id for message in talk], "answered", reply, use))
        await self._transcript.add(
            phone,
            {"role": "user", "content": user_text},
            {"role": "assistant", "content": reply.body},
            first_contact=first_contact,
        )
        await self._sender.deliver(reply, claimed=True)
        log.info("answered %s with %s (%d segment(s))", mask_phone(phone), engine, reply.segments)
        return TurnResult(reply=reply, engine=engine, actions=results, system_prompt=system_prompt)

    async def _answer_keyword(self, phone: str, handled: Handled) -> None:
        """Reply to a keyword from its template (or stay silent), without the LLM."""
        TURNS.labels("keyword").inc()
        message = handled.message
        if handled.reply is None:
            await self._messages.close_turn([message.id], state="gated")
            return
        if handled.reply != "opt_out":
            hold = await self._guard.hold_reason(phone, message.body, turn=message.id)
            if hold is not None:
                await self._hold(phone, [message], hold, state="gated")
                return
        template = self._renderer.localized(handled.reply, handled.language)
        text = await self._renderer.render(template, {"business": self._business.template_values()})
        reply = await self._sender.prepare(
            phone=phone, text=text, kind=handled.reply, sender=message.to_number
        )
        await self._messages.close_turn([message.id], state="gated", reply=reply)
        delivery = await self._sender.deliver(reply, claimed=True)
        if delivery.sent and handled.change is not None:
            await self._gate.confirmation_sent(handled.change, delivery.sid)

    async def _hold(self, phone: str, inbound: Sequence[Message], reason: str, state: str = "held") -> None:
        """Stop auto-replying: close the turn without an answer and ask staff to look."""
        TURNS.labels("held").inc()
        await self._messages.close_turn([message.id for message in inbound], state=state)
        await self._customers.flag_for_staff(phone, f"auto-replies paused: {reason}")
        log.warning("not auto-replying to %s: %s", mask_phone(phone), reason)

    async def _upcoming(self, phone: str, now: datetime) -> tuple[Appointment, ...]:
        """The customer's upcoming appointments; none when the scheduler can't say."""
        try:
            bookings = await self._bookings.upcoming(phone=phone, now=now)
        except BookingRefused as exc:  # the scheduler is down: answer anyway, without the list
            log.warning("could not list appointments: %s", exc)
            return ()
        return tuple(Appointment(id=b.id, service=b.service, start=b.start) for b in bookings)

    def _facts(
        self,
        customer: Customer,
        now: datetime,
        upcoming: tuple[Appointment, ...],
        said: Sequence[Message],
        language: str = "en",
    ) -> TurnFacts:
        words = "\n".join(words for message in said if (words := words_of(message)))
        attachments = tuple(kind for message in said for kind in attachment_types(message))
        images = tuple(url for message in said for url in images_of(message))
        return TurnFacts(
            now=now,
            zone=self._business.zone,
            customer_name=customer.name,
            customer_tier=customer.tier or "standard",
            customer_zone=ZoneInfo(customer.timezone) if customer.timezone else None,
            appointments=upcoming,
            words=words,
            attachments=attachments,
            images=images,
            language=language,
        )

    def _prompt_values(self, facts: TurnFacts) -> dict[str, Any]:
        return facts.prompt_values(self._business.template_values(), self._actions.describe())

    async def _apology(self) -> str:
        return await self._renderer.render("fallback", {"business": self._business.template_values()})


def _describe(result: ActionResult) -> dict[str, Any]:
    return {"name": result.name, "ok": result.ok, "message": result.message, **result.data}
