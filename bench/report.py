"""The figures of one `make bench` run against this project's targets: prints each, and adds the verdicts.

python -m bench.report [bench-results.json]
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Target = tuple[str, list[str], Callable[[float], bool], str]

TARGETS: list[Target] = [
    (
        "webhook ack, PostgreSQL + Redis, share of bare Starlette",
        ["webhook_throughput", "production", "ratio_to_bare"],
        lambda value: value >= 0.5,
        "≥ 50 %",
    ),
    (
        "webhook ack, PostgreSQL + Redis, p99 ms at 64 connections",
        ["webhook_throughput", "production", "p99_ms"],
        lambda value: value <= 50,
        "≤ 50 ms",
    ),
    (
        "webhook ack, embedded default, share of bare Starlette",
        ["webhook_throughput", "embedded", "ratio_to_bare"],
        lambda value: value >= 0.25,
        "≥ 25 %",
    ),
    (
        "worker CPU per turn, ms (LLM and Twilio answer at once)",
        ["turns", "cpu", "worker_cpu_ms_per_turn"],
        lambda value: value <= 5,
        "≤ 5 ms",
    ),
    (
        "worker CPU per turn, ms, the same customers again",
        ["turns", "cpu", "returning_worker_cpu_ms_per_turn"],
        lambda value: value <= 5,
        "≤ 5 ms",
    ),
    (
        "1,000 phones, LLM 1 s: seconds to the last reply",
        ["turns", "slow_llm", "last_reply_seconds"],
        lambda value: value <= 10,
        "≤ 10 s",
    ),
    (
        "pacing, 2 workers at 2/s, 60 texts: most in any 1 s window",
        ["pacing", "max_in_any_second"],
        lambda value: value <= 2,
        "≤ 2",
    ),
    (
        "pacing, 2 workers at 2/s, 60 texts: seconds they take",
        ["pacing", "total_seconds"],
        lambda value: abs(value - 30) <= 1.5,
        "30 s ± 5 %",
    ),
    (
        "worker memory growth over the whole turn run",
        ["turns", "cpu", "worker_memory_growth"],
        lambda value: abs(value) <= 0.10,
        "within 10 %",
    ),
]


def lookup(figures: dict[str, Any], path: list[str]) -> float | None:
    value: Any = figures
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value)


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "bench-results.json")
    figures = json.loads(path.read_text()) if path.is_file() else {}
    verdicts = []
    for name, key, meets, target in TARGETS:
        value = lookup(figures, key)
        verdict = "not measured" if value is None else ("met" if meets(value) else "NOT MET")
        verdicts.append({"figure": name, "value": value, "target": target, "verdict": verdict})
        shown = "-" if value is None else f"{value:g}"
        print(f"{name:<58} {shown:>9}   target {target:<12} {verdict}")
    figures["targets"] = verdicts
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures and verdicts written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
