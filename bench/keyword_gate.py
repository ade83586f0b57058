"""How the keyword gate copes with long hostile texts, against ordinary texts of the same length.

    python -m bench.keyword_gate [--rounds 20]

Each hostile text (built to make a careless regex backtrack) is classified beside an ordinary sentence
repeated to the same length, in the same run; the ratio shows whether any input costs far more than prose.
"""

from __future__ import annotations

import argparse
import statistics
import time

from assistant.keywords import KeywordSet, classify_phrase

HOSTILE = {
    "please×800": "please " * 800 + "x",
    "stop×800": "stop " * 800 + "x",
    "why a×800": "why " + "a " * 800,
    "stop the×400": "stop the " * 400 + "x",
    "!×1600": "!" * 1600,
}
PROSE = "could you tell me when the next yoga class is on saturday morning? "


def seconds_to_classify(gate: KeywordSet, text: str, rounds: int) -> float:
    """The median time, in seconds, of the gate's two checks on `text`."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        classify_phrase(text)
        gate.classify(text)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20, help="timed runs per text (default: %(default)s)")
    rounds = parser.parse_args().rounds
    gate = KeywordSet.build()
    print(f"{'text':<14} {'hostile ms':>10} {'prose ms':>9} {'ratio':>6}")
    for name, text in HOSTILE.items():
        prose = (PROSE * (len(text) // len(PROSE) + 1))[: len(text)]
        hostile_s = seconds_to_classify(gate, text, rounds)
        prose_s = seconds_to_classify(gate, prose, rounds)
        print(f"{name:<14} {hostile_s * 1000:>10.2f} {prose_s * 1000:>9.2f} {hostile_s / prose_s:>6.1f}")


if __name__ == "__main__":
    main()
