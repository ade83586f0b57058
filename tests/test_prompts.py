"""Prompt templates render from plain values in a bounded sandbox."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from prompts.renderer import PromptError, PromptRenderer, template_variables
from storage.database import session_factory
from storage.prompt_versions import DatabaseTemplateSource, PromptVersions

VALUES = {
    "business": {
        "name": "Acme Fitness",
        "timezone": "America/Los_Angeles",
        "phone": "+1 415 555 0100",
        "website": None,
        "address": None,
        "hours": ["Mon-Fri 6:00 AM-9:00 PM"],
        "services": [{"name": "Yoga", "duration_minutes": 60, "capacity": 12, "price": 20.0}],
        "faq": [{"question": "Is there parking?", "answer": "Yes, a garage under the building."}],
    },
    "customer": {"name": "Dana", "tier": "gold", "timezone": None},
    "now": {"iso": "2026-11-23T10:00-08:00", "text": "Monday, November 23, 2026 10:00 AM PST"},
    "appointments": [{"id": 42, "service": "Yoga", "start": "2026-11-24T18:00"}],
    "actions": [
        {"name": "INFO", "purpose": "Look up", "params": [], "example": '[ACTION:INFO topic="hours"]'}
    ],
}


async def test_system_prompt_renders_the_business_and_customer() -> None:
    text = await PromptRenderer().render("system", VALUES)
    assert "assistant for Acme Fitness" in text
    assert "Name: Dana; tier: gold" in text
    assert "- #42 Yoga 2026-11-24T18:00" in text  # the line format the offline engine reads
    assert "Yoga, 60 min, $20.00" in text
    assert "Is there parking? Yes, a garage under the building." in text  # the FAQ, for the model
    assert "reply CANCEL" not in text


async def test_missing_values_are_errors_not_blanks() -> None:
    with pytest.raises(PromptError, match="has no attribute 'name'"):
        await PromptRenderer().render("system", {**VALUES, "customer": {}})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ 'a' * 100000000 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "{{ 9 ** 999999 }}",
        "{{ ((2**64)**64)**64 }}",
        "{{ '%0999999999d' % 1 }}",
    ],
)
def test_dangerous_templates_fail_safely(source: str) -> None:
    with pytest.raises(PromptError):
        PromptRenderer().render_source(source, {})


def test_finding_a_drafts_variables_evaluates_none_of_it() -> None:
    """Jinja folds constants while compiling, where the sandbox's limits don't reach."""
    assert template_variables("{{ 2**100000000 }} {{ 'a'|center(900000000) }} {{ name }}") == {"name"}


def test_user_text_is_a_value_never_source() -> None:
    rendered = PromptRenderer().render_source("{{ text }}", {"text": "{{ 7 * 7 }}"})
    assert rendered == "{{ 7 * 7 }}"


async def test_saved_versions_are_read_and_saved_with_redis_away(engine) -> None:
    """The generation check is an optimisation: without Redis, renders read SQL and saves still land."""
    # Nothing listens on port 1; no retries, so each refusal is immediate.
    away = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    versions = PromptVersions(session_factory(engine), away)
    renderer = PromptRenderer(DatabaseTemplateSource(versions))
    await versions.save("fallback", "Sorry from {{ business.name }}!", author="staff")
    assert await renderer.render("fallback", {"business": {"name": "Acme"}}) == "Sorry from Acme!"
    await versions.save("fallback", "Back soon, {{ business.name }}.", author="staff")
    assert await renderer.render("fallback", {"business": {"name": "Acme"}}) == "Back soon, Acme."
    await away.aclose()
