"""The command line as an operator uses it: help, db upgrade, simulate, messages list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from storage.migrate import alembic_config

COMMANDS = [
    [],
    ["serve"],
    ["worker"],
    ["db"],
    ["db", "upgrade"],
    ["simulate"],
    ["messages"],
    ["messages", "list"],
    ["optouts", "export"],
    ["optouts", "verify"],
    ["customers", "add"],
    ["customers", "import"],
    ["appointments", "list"],
]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("TWILIO_", "OPENAI_"))
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    result = run([*command, "--help"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: sms-assistant")


def test_simulate_prints_a_reply_and_messages_list_shows_it(tmp_path: Path) -> None:
    simulated = run(["simulate", "--from", "+14155550199", "how much is yoga?"], tmp_path)
    assert simulated.returncode == 0, simulated.stderr
    assert "Yoga" in simulated.stdout and "$20" in simulated.stdout
    assert "+14155550199" not in simulated.stderr  # numbers are masked in logs

    listed = run(["messages", "list", "--json", "--phone", "+14155550199"], tmp_path)
    rows = json.loads(listed.stdout)
    assert [row["direction"] for row in rows] == ["outbound", "inbound"]
    assert rows[1]["body"] == "how much is yoga?" and rows[1]["from"] == "+14155550199"
    assert rows[0]["status"] == "delivered" and rows[0]["segments"] == 1
    assert set(rows[0]) == {"sid", "direction", "from", "to", "body", "status", "segments", "created_at"}


def test_simulate_interactive_session_remembers_the_conversation(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "simulate"],
        cwd=tmp_path,
        input="hello\nwhat are your hours?\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    replies = [line for line in result.stdout.splitlines() if line.startswith("you> assistant> ")]
    assert len(replies) == 2
    assert "Mon-Thu 6:00 AM-9:00 PM" in replies[1]


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    first = run(["db", "upgrade"], tmp_path)
    second = run(["db", "upgrade"], tmp_path)
    assert first.returncode == second.returncode == 0
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"database at revision {head}" in second.stdout
    assert (tmp_path / "data" / "assistant.db").is_file()


def test_worker_needs_a_shared_redis(tmp_path: Path) -> None:
    result = run(["worker"], tmp_path, REDIS_URL="memory://")
    assert result.returncode == 2
    assert "needs a shared REDIS_URL" in result.stderr


def test_customers_add_and_import_normalise_phones(tmp_path: Path) -> None:
    added = run(["customers", "add", "(415) 555-0150", "--name", "Dana", "--tier", "gold"], tmp_path)
    assert added.returncode == 0 and added.stdout.strip() == "added +14155550150"
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text(
        "phone,name,tier,timezone\n+1 415 555 0150,Dana R,,\n415-555-0151,Sam,,America/Chicago\n"
    )
    imported = run(["customers", "import", str(csv_file)], tmp_path)
    assert imported.stdout.strip() == "imported 2 customers (1 new, 1 updated)"
    simulated = run(["simulate", "--from", "+14155550151", "hi"], tmp_path)
    assert simulated.returncode == 0


def test_a_bad_import_row_writes_nothing(tmp_path: Path) -> None:
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text(
        "phone,name,tier,timezone\n+14155550160,Ok,,\nnot-a-phone,Bad,,\n+14155550161,,,Mars/Base\n"
    )
    result = run(["customers", "import", str(csv_file)], tmp_path)
    assert result.returncode == 1
    assert f"{csv_file}:3: 'not-a-phone' is not a phone number" in result.stderr
    assert f"{csv_file}:4: unknown time zone 'Mars/Base'" in result.stderr
    assert "nothing was imported" in result.stderr
    again = run(["customers", "add", "+14155550160"], tmp_path)
    assert again.stdout.strip() == "added +14155550160"  # the good row was not written either


def test_appointments_list_is_empty_json_on_a_fresh_database(tmp_path: Path) -> None:
    result = run(["appointments", "list", "--json"], tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout) == []
