"""`make eval`: play every scripted dialogue with the offline engine and print the share that pass."""

from __future__ import annotations

import asyncio
import logging
import sys

from tests.dialogues.script import load, play


async def main() -> int:
    logging.disable(logging.WARNING)  # the turns' own log lines would bury the results
    dialogues = load()
    failed = 0
    for dialogue in dialogues:
        played = await play(dialogue)
        if played.passed:
            continue
        failed += 1
        print(f"FAIL {dialogue.id}")
        for said, reply in played.transcript:
            print(f"    customer> {said}\n    assistant> {reply}")
        for problem in played.problems:
            print(f"  - {problem}")
    passed = len(dialogues) - failed
    print(f"{passed}/{len(dialogues)} dialogues pass ({100 * passed / len(dialogues):.0f} %)")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
