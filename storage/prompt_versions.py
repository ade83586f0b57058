"""Staff-edited prompt template versions in SQL; the newest version of a template wins over its file."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prompts.renderer import TEMPLATE_DIR, TemplateSource
from storage.batching import Coalescer
from storage.staff_tables import PromptVersion

log = logging.getLogger(__name__)

MAX_TEMPLATE_CHARS = 20_000
# Bumped after every save: processes compare it with the one their cached templates were read at.
GENERATION_KEY = "prompt-versions:generation"
# However the generation reads, cached templates are read again after this long.
MAX_CACHE_SECONDS = 60.0
GENERATION_BATCH = 1000  # renders one GET of the generation answers


class PromptVersions:
    """Saves and reads the version history of each template, newest last."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
        self._sessions = sessions
        self.redis = redis

    async def latest(self, name: str) -> PromptVersion | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(PromptVersion)
                .where(PromptVersion.name == name)
                .order_by(PromptVersion.id.desc())
                .limit(1)
            )

    async def history(self, name: str) -> list[PromptVersion]:
        """Every saved version of one template, newest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(PromptVersion).where(PromptVersion.name == name).order_by(PromptVersion.id.desc())
            )
            return list(rows)

    async def get(self, name: str, version_id: int) -> PromptVersion | None:
        async with self._sessions() as session:
            found = await session.get(PromptVersion, version_id)
        return found if found is not None and found.name == name else None

    async def save(self, name: str, body: str, *, author: str, note: str = "") -> PromptVersion:
        """Store a new current version; from the next render on, every process uses it."""
        if len(body) > MAX_TEMPLATE_CHARS:
            raise ValueError(f"a template can be at most {MAX_TEMPLATE_CHARS} characters")
        version = PromptVersion(name=name, body=body, author=author, note=note.strip()[:200])
        async with self._sessions() as session, session.begin():
            session.add(version)
        try:
            await self.redis.incr(GENERATION_KEY)
        except RedisError as exc:  # saved all the same; other processes read it within MAX_CACHE_SECONDS
            log.warning("template saved, but other processes were not told (%s)", exc)
        return version

    async def newest_bodies(self) -> dict[str, str]:
        """The current text of every edited template."""
        return {name: version.body for name, (_, version) in (await self.counts()).items()}

    async def counts(self) -> dict[str, tuple[int, PromptVersion]]:
        """For each edited template: how many versions it has, and the newest one."""
        async with self._sessions() as session:
            newest = (
                select(
                    PromptVersion.name, func.max(PromptVersion.id).label("newest"), func.count().label("n")
                )
                .group_by(PromptVersion.name)
                .subquery()
            )
            rows = await session.execute(
                select(PromptVersion, newest.c.n).join(newest, PromptVersion.id == newest.c.newest)
            )
            return {version.name: (count, version) for version, count in rows}


class DatabaseTemplateSource(TemplateSource):
    """Template source for every process: the newest saved version, else the shipped file."""

    def __init__(self, versions: PromptVersions, directory: Path = TEMPLATE_DIR) -> None:
        super().__init__(directory)
        self.versions = versions
        self._edited: dict[str, str] = {}
        self._generation: str | None = None
        self._read_at = float("-inf")
        # Renders under way together share one GET, issued after each of them asked (so none is stale).
        self._generations = Coalescer(self._read_generation, max_batch=GENERATION_BATCH)

    async def get(self, name: str) -> str:
        # One Redis GET per render instead of a query: a save anywhere bumps the generation, so it still
        # takes effect on the very next render in every process.
        try:
            generation = await self._generations.submit(name)
        except RedisError:  # Redis is away: read SQL every time, as if every render followed a save
            generation = None
            self._read_at = float("-inf")
        stale = time.monotonic() - self._read_at > MAX_CACHE_SECONDS
        if generation != self._generation or stale:
            self._read_at = time.monotonic()
            self._edited = await self.versions.newest_bodies()
            self._generation = generation
        if name in self._edited:
            return self._edited[name]
        return await super().get(name)

    async def _read_generation(self, names: Sequence[str]) -> list[str | None]:
        generation = await self.versions.redis.get(GENERATION_KEY)
        return [generation] * len(names)

    def has(self, name: str) -> bool:
        return name in self.names()
