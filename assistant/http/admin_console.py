"""The staff console's shared state (opened with the app) and the helpers its pages use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from actions.registry import ActionRegistry, outcome
from assistant.business import Business
from assistant.conversation import Conversation
from assistant.http.admin_auth import LoginLimiter, SessionStore, Signer
from assistant.overview import OverviewReader
from assistant.runtime import Runtime
from assistant.sender import Sender
from assistant.settings import Settings
from assistant.sms.media import MediaInspector
from assistant.transcript import Transcript
from prompts.isolated import IsolatedRenderer
from storage.activity import Activity
from storage.appointments import AppointmentList
from storage.clock import Clock
from storage.consent import ConsentBook
from storage.consent_report import ConsentReport
from storage.customer_list import CustomerList
from storage.customers import CustomerDirectory
from storage.inbox import Inbox
from storage.messages import MessageLog
from storage.notices import NoticeLog
from storage.prompt_versions import DatabaseTemplateSource, PromptVersions
from storage.staff import StaffAccounts
from storage.takeovers import TakeoverBook

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "admin"
SIGNING_KEY_NAME = "session-signing"


def content_security_policy(images: str = "'self' data:") -> str:
    """The console's policy: no script at all, forms only to ourselves, never framed; images from `images`."""
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src {images}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


@dataclass
class Console:
    """Everything the /admin pages work with (and nothing more), built once per app from the runtime."""

    settings: Settings
    business: Business
    clock: Clock
    actions: ActionRegistry
    conversation: Conversation  # the playground's dry run
    customers: CustomerDirectory
    messages: MessageLog
    sender: Sender
    media: MediaInspector  # checks what a staff reply attaches
    transcript: Transcript
    accounts: StaffAccounts
    versions: PromptVersions
    source: DatabaseTemplateSource
    takeovers: TakeoverBook
    inbox: Inbox
    consent: ConsentBook
    appointments: AppointmentList
    customer_list: CustomerList
    notices: NoticeLog
    consent_report: ConsentReport
    sessions: SessionStore
    limiter: LoginLimiter
    drafts: IsolatedRenderer
    templates: Jinja2Templates
    overview: OverviewReader
    _signer: Signer | None = None
    _signer_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS when the service is reached over HTTPS."""
        return (self.settings.public_base_url or "").startswith("https://")

    async def signer(self) -> Signer:
        """The cookie signer: ADMIN_SECRET_KEY, else a key generated once and kept in the database."""
        async with self._signer_lock:
            if self._signer is None:
                key = self.settings.admin_secret_key
                if not key:
                    key = await self.accounts.console_key(SIGNING_KEY_NAME)
                self._signer = Signer(key)
            return self._signer


@contextlib.asynccontextmanager
async def open_console(runtime: Runtime) -> AsyncIterator[Console]:
    """The console for one app; its draft renderer (a child process) is stopped on the way out."""
    sessions = runtime.clients.sessions
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    # Staff read every time in the business's zone, and every action's outcome in the CLI's words.
    environment.filters["local"] = readable_time(runtime.clients.business.zone, runtime.clients.clock)
    environment.filters["outcome"] = outcome
    environment.filters["web_url"] = web_url
    console = Console(
        settings=runtime.clients.settings,
        business=runtime.clients.business,
        clock=runtime.clients.clock,
        actions=runtime.actions,
        conversation=runtime.conversation,
        customers=runtime.customers,
        messages=runtime.messages,
        sender=runtime.sender,
        media=runtime.clients.media,
        transcript=runtime.transcript,
        accounts=StaffAccounts(sessions),
        versions=runtime.templates.versions,
        source=runtime.templates,
        takeovers=runtime.takeovers,
        inbox=Inbox(sessions, scope=runtime.clients.settings.consent_scope),
        consent=runtime.consent,
        appointments=AppointmentList(sessions),
        customer_list=CustomerList(sessions, scope=runtime.clients.settings.consent_scope),
        notices=NoticeLog(sessions),
        consent_report=ConsentReport(sessions),
        sessions=SessionStore(runtime.clients.redis),
        limiter=LoginLimiter(runtime.clients.redis),
        drafts=IsolatedRenderer(),
        templates=Jinja2Templates(env=environment),
        overview=OverviewReader(
            activity=Activity(runtime.clients.engine),
            deliveries=runtime.deliveries,
            spend=runtime.spend,
            budget=runtime.budget,
            outbox=runtime.outbox,
            zone=runtime.clients.business.zone,
            clock=runtime.clients.clock,
        ),
    )
    try:
        yield console
    finally:
        await console.drafts.aclose()


def readable_time(zone: ZoneInfo, clock: Clock) -> Callable[..., str]:
    """The console's way to write a moment: in the business's zone, 'Tue Nov 24, 11:00 AM PST'."""

    def local(moment: datetime | None, *, seconds: bool = False) -> str:
        if moment is None:
            return ""
        at = moment.astimezone(zone)
        year = f", {at.year}" if at.year != clock().astimezone(zone).year else ""
        exact = f":{at:%S}" if seconds else ""
        meridiem = "AM" if at.hour < 12 else "PM"
        return f"{at:%a %b} {at.day}{year}, {at.hour % 12 or 12}:{at:%M}{exact} {meridiem} {at:%Z}"

    return local


def web_url(url: object) -> str | None:
    """The URL if it is http(s), for a link or image in a page (never javascript: or data:)."""
    text = str(url or "")
    return text if text.startswith(("https://", "http://")) else None


def console_of(request: Request) -> Console:
    return request.app.state.admin


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """Render a console page with the signed-in user and the form token every form must carry."""
    state = request.scope.get("state", {})
    values = {"staff": state.get("staff"), "csrf_token": state.get("csrf", ""), "path": request.url.path}
    return console_of(request).templates.TemplateResponse(
        request, template, {**values, **context}, status_code=status_code
    )
