"""Staff-edited prompt template versions in SQL; the newest version of a template wins over its file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prompts.renderer import TEMPLATE_DIR, TemplateSource
from storage.staff_tables import PromptVersion

MAX_TEMPLATE_CHARS = 20_000


class PromptVersions:
    """Saves and reads the version history of each template, newest last."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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
        return version

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

    async def get(self, name: str) -> str:
        # Read on every render (one indexed query), so a save takes effect on the very next turn everywhere.
        version = await self.versions.latest(name)
        if version is not None:
            return version.body
        return await super().get(name)

    async def shipped(self, name: str) -> str:
        """The file's text, ignoring saved versions (what a template looked like before any edit)."""
        return await super().get(name)

    def has(self, name: str) -> bool:
        return name in self.names()
