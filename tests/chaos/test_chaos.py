"""The chaos suite, bounded to run in CI; `make chaos` runs the full scenario (300 texts from 30 phones)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.chaos.scenario import problems, run_chaos
from tests.support import servers

pytestmark = pytest.mark.skipif(
    not (servers.postgres_available() and servers.redis_available()),
    reason="the chaos suite starts PostgreSQL and Redis servers of its own: their binaries are not here",
)

FULL = os.environ.get("CHAOS") == "full"


def test_every_text_is_answered_once_in_order_through_crashes_and_outages(tmp_path: Path) -> None:
    if FULL:
        run = run_chaos(tmp_path, phones=30, texts_per_phone=10, seconds=60.0, timeout=300.0)
    else:
        run = run_chaos(tmp_path, phones=10, texts_per_phone=6, seconds=24.0, timeout=90.0)
    print(json.dumps(run.figures()))
    assert problems(run) == []
    assert len(run.faults) >= 4  # the chaos really happened: kills, and both restarts
    assert {"redis restart", "postgres restart"} <= {fault.name for fault in run.faults}
