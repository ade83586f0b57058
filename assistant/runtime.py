"""The opened clients and services one process works with, opened in order and closed in reverse."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from actions.booking_backend import BookingStore
from actions.catalog import default_registry
from actions.confirmations import PendingConfirmations
from actions.registry import ActionRegistry
from assistant.bookings import booking_store
from assistant.budget import Budget, BudgetLimits
from assistant.business import Business, load_business
from assistant.conversation import Conversation
from assistant.database import ready_revision
from assistant.digests import Digests
from assistant.gate import KeywordGate
from assistant.inbound import Inbound
from assistant.llm.offline import OfflineEngine
from assistant.llm.openai_adapter import OpenAIChat
from assistant.llm.port import ChatModel
from assistant.notification_texts import NotificationTexts
from assistant.notifications import Limits, NotificationPolicy
from assistant.notifier import Notifier
from assistant.pacing import SendPacing
from assistant.pricing import SmsPrices
from assistant.reminders import Reminders
from assistant.reply_media import ReplyMedia, checked_reply_media
from assistant.send_rules import SendRules
from assistant.sender import RetryPolicy, Sender
from assistant.senders import Senders
from assistant.settings import Settings
from assistant.sms.media import MediaInspector
from assistant.sms.port import SmsGateway
from assistant.sms.sandbox import SandboxOutbox
from assistant.sms.twilio_adapter import TwilioGateway
from assistant.staff_alerts import StaffAlerts
from assistant.transcript import Transcript
from assistant.verification import PhoneVerifier
from assistant.watch import ServiceWatch
from assistant.worker import Worker
from prompts.renderer import PromptRenderer
from storage.chat import ChatLog
from storage.chat_users import ChatUsers
from storage.clock import Clock, system_clock
from storage.consent import ConsentBook
from storage.customers import CustomerDirectory
from storage.database import create_engine, session_factory
from storage.deliveries import Deliveries
from storage.heartbeats import Heartbeats
from storage.history import ConversationHistory
from storage.messages import MessageLog
from storage.outbox import Outbox
from storage.pacing import Pacer
from storage.parked import ParkedTexts
from storage.presence import Presence
from storage.prompt_versions import DatabaseTemplateSource, PromptVersions
from storage.redis import connect_redis
from storage.reply_guard import ReplyGuard
from storage.spend import SpendBook
from storage.staff_alerts import StaffAlertBook
from storage.takeovers import TakeoverBook
from storage.turn_queue import STREAM, MemoryTurnQueue, RedisTurnQueue, TurnQueue

RATE_HEADROOM = 0.03  # the share of the sender's rate left unused (see _pacing)


@dataclass(frozen=True, slots=True)
class Clients:
    """The infrastructure one process opens and closes: database, Redis, the LLM, SMS and bookings."""

    settings: Settings
    business: Business
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    llm: ChatModel
    offline: OfflineEngine
    gateway: SmsGateway
    bookings: BookingStore
    http: httpx.AsyncClient | None = None  # outgoing webhooks (staff alerts), when one is configured
    # Asks media URLs their type and size (console attachments, the business file's at start-up).
    media: MediaInspector = field(default_factory=MediaInspector)
    reply_media: ReplyMedia = field(default_factory=ReplyMedia)  # the business file's, checked at start


@dataclass(frozen=True, slots=True)
class ChatSide:
    """The chat app's side: its users, their messages and notification decisions, presence, and the flow."""

    users: ChatUsers
    log: ChatLog
    presence: Presence
    notifier: Notifier
    verifier: PhoneVerifier
    digests: Digests


@dataclass(frozen=True, slots=True)
class Runtime:
    """The clients one process opened, and every flow's services built once on them."""

    clients: Clients
    # The records every flow shares.
    messages: MessageLog
    customers: CustomerDirectory
    consent: ConsentBook
    takeovers: TakeoverBook
    # In: a text recorded and its turn queued.
    inbound: Inbound
    queue: TurnQueue
    # The conversation and what it speaks with.
    transcript: Transcript
    templates: DatabaseTemplateSource  # the renderer's source: staff versions over the shipped files
    renderer: PromptRenderer
    actions: ActionRegistry
    conversation: Conversation
    reminders: Reminders
    alerts: StaffAlerts
    # Out: every text leaves through the sender and its outbox.
    outbox: Outbox
    sender: Sender
    spend: SpendBook
    budget: Budget
    deliveries: Deliveries
    chat: ChatSide

    def worker(self) -> Worker:
        settings, redis, clock = self.clients.settings, self.clients.redis, self.clients.clock
        return Worker(
            queue=self.queue,
            messages=self.messages,
            inbound=self.inbound,
            conversation=self.conversation,
            sender=self.sender,
            redis=redis,
            burst_window_seconds=settings.burst_window_seconds,
            lease_seconds=settings.turn_lease_seconds,
            concurrency=settings.worker_concurrency,
            reminders=self.reminders,
            digests=self.chat.digests,
            alerts=self.alerts,
            watch=ServiceWatch(
                self.budget, self.deliveries, self.alerts.book, zone=self.clients.business.zone, clock=clock
            ),
            heartbeats=Heartbeats(redis, clock=clock),
            clock=clock,
        )


@asynccontextmanager
async def open_clients(
    settings: Settings, *, clock: Clock = system_clock, sandbox: bool = False
) -> AsyncIterator[Clients]:
    """Open the database (checked current), Redis, the LLM and SMS; closed in reverse order."""
    business = load_business(settings.business_config)
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        stack.push_async_callback(engine.dispose)
        await ready_revision(engine, settings)
        redis = connect_redis(settings.redis_url, pool_size=settings.redis_pool_size)
        stack.push_async_callback(redis.aclose)

        offline = OfflineEngine(business, clock=clock)
        llm: ChatModel = OpenAIChat.from_settings(settings) if settings.llm_enabled else offline
        stack.push_async_callback(llm.aclose)
        gateway: SmsGateway = (
            TwilioGateway.from_settings(settings)
            if settings.twilio_enabled and not sandbox
            else SandboxOutbox(clock=clock)
        )
        stack.push_async_callback(gateway.aclose)

        sessions = session_factory(engine)
        bookings = booking_store(settings, sessions, business, clock)
        stack.push_async_callback(bookings.aclose)
        http = httpx.AsyncClient(timeout=10.0) if settings.staff_alert_webhook_url else None
        if http is not None:
            stack.push_async_callback(http.aclose)
        media = MediaInspector(timeout=settings.media_check_timeout_seconds)
        stack.push_async_callback(media.aclose)
        reply_media = await checked_reply_media(business, media, default_registry().names())
        yield Clients(
            settings,
            business,
            clock,
            engine,
            sessions,
            redis,
            llm,
            offline,
            gateway,
            bookings,
            http,
            media,
            reply_media,
        )


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, clock: Clock = system_clock, sandbox: bool = False
) -> AsyncIterator[Runtime]:
    """The clients opened, and every service built on them.

    `sandbox` forces the sandbox outbox and gives the process a turn queue of its own, dropped at the end:
    a worker elsewhere must never answer a sandboxed text through the real gateway.
    """
    async with open_clients(settings, clock=clock, sandbox=sandbox) as clients:
        if not sandbox:
            yield build_services(clients)
            return
        runtime = build_services(clients, turn_stream=f"{STREAM}:sandbox:{uuid.uuid4().hex}")
        try:
            yield runtime
        finally:
            await runtime.queue.discard()


def build_services(clients: Clients, *, turn_stream: str = STREAM) -> Runtime:
    """Every flow's services, wired once from the clients (no I/O happens here)."""
    settings, clock, sessions, redis = clients.settings, clients.clock, clients.sessions, clients.redis
    messages = MessageLog(sessions, clock=clock, consent_scope=settings.consent_scope)
    consent = ConsentBook(sessions, redis, scope=settings.consent_scope, clock=clock)
    consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    queue: TurnQueue
    if settings.redis_in_process:  # a Redis only this process sees: the queue can live in its memory as well
        queue = MemoryTurnQueue(consumer=consumer, lease_seconds=settings.turn_lease_seconds)
    else:
        queue = RedisTurnQueue(
            redis, consumer=consumer, lease_seconds=settings.turn_lease_seconds, stream=turn_stream
        )
    keywords = clients.business.keywords.keyword_set()
    inbound = Inbound(
        messages=messages, consent=consent, keywords=keywords, queue=queue, parked=ParkedTexts(redis)
    )

    # Staff-saved template versions (SQL) win over the files, in every process.
    templates = DatabaseTemplateSource(PromptVersions(sessions, redis))
    renderer = PromptRenderer(templates)
    window = ConversationHistory(redis, size=settings.history_size, ttl_seconds=settings.history_ttl_seconds)
    transcript = Transcript(window, messages)
    # A hand-over takes at most the gateway's timeout per attempt plus its quick retries; one quiet for
    # longer than that was cut off (a crash) and is checked with the gateway.
    outbox = Outbox(
        clients.engine,
        clock=clock,
        consent_scope=settings.consent_scope,
        stale_seconds=4 * settings.twilio_timeout_seconds + 10,
    )
    spend = SpendBook(clients.engine)
    budget = Budget(
        spend,
        BudgetLimits(settings.daily_budget, settings.monthly_budget, settings.budget_hard_stop),
        zone=clients.business.zone,
        clock=clock,
    )
    senders = Senders.from_settings(settings, clients.business.senders)
    sender = Sender(
        messages,
        outbox,
        clients.gateway,
        consent,
        renderer,
        segment_budget=settings.segment_budget,
        retries=RetryPolicy(window_seconds=settings.send_retry_window_seconds),
        prices=SmsPrices(
            settings.sms_segment_price, clients.business.sms_prices, clients.business.mms_prices
        ),
        rules=SendRules(budget, quiet_hours=settings.quiet_window, zone=clients.business.zone, clock=clock),
        clock=clock,
        senders=senders,
        pacing=_pacing(clients, outbox, senders),
    )

    customers = CustomerDirectory(sessions, clock=clock)
    actions = default_registry()
    conversation = Conversation(
        business=clients.business,
        messages=messages,
        customers=customers,
        transcript=transcript,
        renderer=renderer,
        gate=KeywordGate(keywords, consent),
        guard=ReplyGuard(
            redis,
            max_replies=settings.auto_reply_limit,
            window_seconds=settings.auto_reply_window_seconds,
            repeat_limit=settings.repeat_text_limit,
        ),
        llm=clients.llm,
        fallback=clients.offline,
        actions=actions,
        bookings=clients.bookings,
        confirmations=PendingConfirmations(redis, ttl_seconds=settings.confirmation_ttl_seconds),
        sender=sender,
        spend=spend,
        clock=clock,
        media=clients.reply_media,
    )
    reminders = Reminders(
        bookings=clients.bookings,
        sessions=sessions,
        sender=sender,
        renderer=renderer,
        transcript=transcript,
        business=clients.business,
        clock=clock,
        quiet_hours=settings.quiet_window,
        leads=settings.reminder_lead_times,
    )
    alerts = StaffAlerts(
        book=StaffAlertBook(clients.engine, clock=clock),
        messages=messages,
        sender=sender,
        business_name=clients.business.name,
        numbers=settings.staff_alert_recipients,
        webhook_url=settings.staff_alert_webhook_url,
        webhook_secret=settings.staff_alert_webhook_secret,
        http=clients.http,
        cooldown=timedelta(seconds=settings.staff_alert_cooldown_seconds),
        clock=clock,
    )
    return Runtime(
        clients=clients,
        messages=messages,
        customers=customers,
        consent=consent,
        takeovers=TakeoverBook(sessions, clock=clock, minutes=settings.takeover_minutes),
        inbound=inbound,
        queue=queue,
        transcript=transcript,
        templates=templates,
        renderer=renderer,
        actions=actions,
        conversation=conversation,
        reminders=reminders,
        alerts=alerts,
        outbox=outbox,
        sender=sender,
        spend=spend,
        budget=budget,
        deliveries=Deliveries(clients.engine),
        chat=_chat_side(clients, consent=consent, messages=messages, renderer=renderer, sender=sender),
    )


def _chat_side(
    clients: Clients, *, consent: ConsentBook, messages: MessageLog, renderer: PromptRenderer, sender: Sender
) -> ChatSide:
    """The chat app's services: notifications decided by policy and sent through the customers' sender."""
    settings, business, clock, redis = clients.settings, clients.business, clients.clock, clients.redis
    users, log = ChatUsers(clients.sessions), ChatLog(clients.sessions)
    presence = Presence(redis, grace_seconds=settings.presence_grace_seconds)
    notifier = Notifier(
        chat=log,
        users=users,
        policy=NotificationPolicy(
            limits=Limits.from_settings(settings),
            consent=consent,
            presence=presence,
            sent_times=log.sent_times,
            default_zone=business.zone,
        ),
        presence=presence,
        texts=NotificationTexts(
            renderer, app_base_url=settings.app_base_url, segment_budget=settings.segment_budget
        ),
        sender=sender,
        messages=messages,
        renderer=renderer,
        redis=redis,
        clock=clock,
    )
    verifier = PhoneVerifier(
        users=users,
        sender=sender,
        redis=redis,
        renderer=renderer,
        business=business.template_values(),
        ttl_seconds=settings.verify_code_ttl_seconds,
        max_attempts=settings.verify_max_attempts,
        clock=clock,
    )
    digests = Digests(chat=log, notifier=notifier, clock=clock)
    return ChatSide(users, log, presence, notifier, verifier, digests)


def _pacing(clients: Clients, outbox: Outbox, senders: Senders) -> SendPacing | None:
    """Each sender's rate, shared through Redis by every process; the sandbox outbox is not a carrier."""
    if isinstance(clients.gateway, SandboxOutbox):
        return None

    def pacer(key: str, rate: float) -> Pacer:
        # A little under the sender's rate: texts leave within a few ms of their slots, with the odd 20 ms
        # hiccup (a GC pause, a busy event loop), and that must not put one text more into any second than
        # the carrier allows. 3 % leaves 30 ms per second whatever the rate.
        return Pacer(clients.redis, sender=key, rate=rate * (1 - RATE_HEADROOM), clock=clients.clock)

    # One key per sender, as Twilio limits each: the default one (the Messaging Service when one is set, as
    # it wins, else the number), and each country's own number or sender ID.
    default = pacer(senders.pacing_key, senders.default_rate) if senders.default_rate else None
    own = {key: pacer(key, rate) if rate else None for key, rate in senders.own_rates().items()}
    if default is None and not any(own.values()):
        return None
    return SendPacing(default, outbox, clock=clients.clock, senders=own)
