"""Scale check by hand: many phones texting 2 web + 2 worker processes; prints figures and any rule broken.

Run from the repository root with Redis and PostgreSQL up:

    TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test python -m bench.scale_check

It is the same scenario and the same checks as tests/test_multiprocess.py's scale test, with knobs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.support import backends
from tests.support.scale import problems, run_scale_check


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenario once; exit 0 when every rule held, 1 when one broke, 2 when it cannot run."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale_check", description=__doc__.split("\n")[0])
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--texts", type=int, default=10, help="texts per phone, sent one after another")
    parser.add_argument("--min-delay", type=float, default=0.05, help="LLM delay, seconds (lower bound)")
    parser.add_argument("--max-delay", type=float, default=0.2, help="LLM delay, seconds (upper bound)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every answer")
    args = parser.parse_args(argv)

    if not backends.redis_available():
        print(f"needs Redis at {backends.TEST_REDIS_URL}", file=sys.stderr)
        return 2
    if not backends.postgres_available():
        print("needs PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://...", file=sys.stderr)
        return 2

    with (
        tempfile.TemporaryDirectory(prefix="scale-check-") as workdir,
        backends.redis_database() as redis_url,
        backends.fresh_postgres_database() as database_url,
    ):
        run = run_scale_check(
            Path(workdir),
            database_url=database_url,
            redis_url=redis_url,
            phones=args.phones,
            texts_per_phone=args.texts,
            llm_delay=(args.min_delay, args.max_delay),
            timeout=args.timeout,
        )
    for name, value in run.figures().items():
        print(f"{name:>16}: {value}")
    found = problems(run)
    for problem in found:
        print(f"PROBLEM: {problem}")
    print("all rules held" if not found else f"{len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
