"""The command line as an operator uses it: help, db upgrade, simulate, messages list."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from alembic.script import ScriptDirectory

from assistant.cli import build_parser
from storage.migrate import alembic_config
from tests.support import backends

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
    fields = {
        "sid",
        "direction",
        "kind",
        "from",
        "to",
        "body",
        "status",
        "error_code",
        "segments",
        "created_at",
    }
    assert set(rows[0]) == fields | {"price_usd", "price_source", "sent_at"}
    assert rows[0]["kind"] == "reply" and rows[0]["error_code"] is None and rows[0]["sent_at"]
    assert rows[0]["price_usd"] == 0.0083 and rows[0]["price_source"] == "estimate"  # the reply, newest first


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


def test_db_upgrade_is_idempotent_and_says_where_the_schema_stands(tmp_path: Path) -> None:
    first = run(["db", "upgrade"], tmp_path)
    second = run(["db", "upgrade"], tmp_path)
    assert first.returncode == second.returncode == 0
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert first.stdout == f"database at revision {head} (upgraded from an empty database)\n"
    assert second.stdout == f"database at revision {head}, already up to date\n"
    assert first.stderr == second.stderr == ""  # no migration chatter from Alembic
    assert (tmp_path / "data" / "assistant.db").is_file()


# Open every day with no closures, so "tomorrow at 10am" is bookable whatever day the suite runs.
ALWAYS_OPEN = """
name = "Acme Fitness"
timezone = "America/Los_Angeles"
[hours]
mon = "08:00-20:00"
tue = "08:00-20:00"
wed = "08:00-20:00"
thu = "08:00-20:00"
fri = "08:00-20:00"
sat = "08:00-20:00"
sun = "08:00-20:00"
[[services]]
name = "Yoga"
duration_minutes = 60
capacity = 12
price = 20.0
"""


def test_one_shot_simulate_calls_hold_one_conversation(tmp_path: Path) -> None:
    (tmp_path / "business.toml").write_text(ALWAYS_OPEN)
    env = {"BUSINESS_CONFIG": "business.toml"}
    booked = run(
        ["simulate", "--from", "(415) 555-0177", "can I book yoga tomorrow at 10am?"], tmp_path, **env
    )
    asked = run(["simulate", "--from", "415-555-0177", "cancel my appointment"], tmp_path, **env)
    confirmed = run(["simulate", "--from", "+1 415 555 0177", "yes"], tmp_path, **env)
    listed = run(["appointments", "list", "--json", "--phone", "4155550177"], tmp_path, **env)

    assert "[actions: SCHEDULE done]" in booked.stdout, booked.stderr
    assert (
        asked.stdout.startswith("Reply YES to cancel Yoga")
        and "[actions: CANCEL awaiting YES]" in asked.stdout
    )
    assert confirmed.stdout.startswith("Cancelled: Yoga") and "[actions: CANCEL done]" in confirmed.stdout
    assert [row["status"] for row in json.loads(listed.stdout)] == ["cancelled"]


@pytest.mark.skipif(not backends.redis_available(), reason="needs a Redis server shared with the command")
def test_simulate_answers_on_a_queue_of_its_own_and_leaves_nothing_queued(
    tmp_path: Path, redis_url: str
) -> None:
    """A worker sharing this Redis must never take a simulated text (it would answer through Twilio)."""
    simulated = run(
        ["simulate", "--from", "+14155550166", "how much is yoga?"], tmp_path, REDIS_URL=redis_url
    )
    assert simulated.returncode == 0 and "$20" in simulated.stdout, simulated.stderr
    with redis.Redis.from_url(redis_url) as client:
        assert client.keys("turns*") == []


def test_a_phone_option_takes_any_format_and_refuses_nonsense(tmp_path: Path) -> None:
    run(["simulate", "--from", "(415) 555-0188", "hi"], tmp_path)
    listed = run(["messages", "list", "--phone", "415.555.0188"], tmp_path)
    refused = run(["messages", "list", "--phone", "not a number"], tmp_path)

    lines = listed.stdout.splitlines()
    assert len(lines) == 2 and all("+14155550188" in line for line in lines)
    # Times in the business's zone, naming it.
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d P[SD]T (->|<-) ", lines[0]), lines[0]
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("sms-assistant: --phone: 'not a number' is not a phone number")


def test_an_empty_opt_out_export_still_has_its_header(tmp_path: Path) -> None:
    current = run(["optouts", "export"], tmp_path)
    history = run(["optouts", "export", "--history"], tmp_path)
    as_json = run(["optouts", "export", "--format", "json"], tmp_path)
    assert current.stdout == "phone,scope,state,source,keyword,at\n"
    assert history.stdout.startswith("id,phone,scope,event,")
    assert json.loads(as_json.stdout) == []


def _parsers(parser: argparse.ArgumentParser, path: str = "sms-assistant") -> list[tuple[str, Any]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _parsers(child, f"{path} {name}")
    return found


def test_every_option_explains_itself_and_shows_its_default() -> None:
    for path, parser in _parsers(build_parser()):
        text = parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            assert action.help, f"{path}: {'/'.join(action.option_strings) or action.dest} has no help"
            if action.default not in (None, False, [], argparse.SUPPRESS):
                assert f"(default: {action.default})" in " ".join(text.split()), f"{path}: {action.dest}"


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
