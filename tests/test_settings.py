"""Configuration: defaults, the seed documents' aliases, and one clear line for what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assistant.business import load_business
from assistant.settings import ConfigError, load_settings

SID = "AC" + "1" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_SID",
        "TWILIO_AUTH",
        "TWILIO_FROM",
        "TWILIO_PHONE_NUMBER",
        "TWILIO_MESSAGING_SERVICE_SID",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "PUBLIC_BASE_URL",
        "API_BASE_URL",
        "DATABASE_URL",
        "REDIS_URL",
        "BUSINESS_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_are_the_embedded_mode() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./data/assistant.db"
    assert settings.redis_url == "memory://" and settings.runs_embedded_worker
    assert not settings.twilio_enabled and not settings.llm_enabled
    assert (settings.webhook_forged_limit, settings.webhook_forged_window_seconds) == (20, 60)


def test_seed_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_SID", SID)
    monkeypatch.setenv("TWILIO_AUTH", "secret")
    monkeypatch.setenv("TWILIO_FROM", "+14155550100")
    monkeypatch.setenv("API_BASE_URL", "https://sms.example.com")
    settings = load_settings()
    assert (settings.twilio_account_sid, settings.twilio_auth_token) == (SID, "secret")
    assert settings.twilio_phone_number == "+14155550100"
    assert settings.status_callback_url == "https://sms.example.com/webhooks/twilio/status"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LLM_MODEL=llama3\nEMBEDDED_WORKER=\n")
    assert load_settings().llm_model == "llama3"


def test_the_example_env_file_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    settings = load_settings()
    assert settings.redis_url == "memory://" and not settings.twilio_enabled


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"TWILIO_ACCOUNT_SID": SID, "TWILIO_PHONE_NUMBER": "+1415"}, "set TWILIO_AUTH_TOKEN"),
        ({"TWILIO_AUTH_TOKEN": "x"}, "set TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": "XX1", "TWILIO_AUTH_TOKEN": "x"}, "must start with 'AC'"),
        ({"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "x"}, "set TWILIO_PHONE_NUMBER or"),
        ({"OPENAI_BASE_URL": "http://localhost:11434/v1"}, "OPENAI_API_KEY is not"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must be"),
        ({"DATABASE_URL": "postgresql://db/x"}, "needs an async driver"),
        ({"PUBLIC_BASE_URL": "sms.example.com"}, "PUBLIC_BASE_URL must start with http"),
        ({"SEGMENT_BUDGET": "zero"}, "SEGMENT_BUDGET"),
        ({"BUSINESS_CONFIG": "missing.toml"}, "BUSINESS_CONFIG file not found"),
        ({"TRUSTED_PROXIES": "10.0.0.0/8, my-proxy"}, "'my-proxy' is not an IP address or CIDR range"),
        ({"WEBHOOK_FORGED_LIMIT": "0"}, "WEBHOOK_FORGED_LIMIT: Input should be greater than 0"),
        ({"WEBHOOK_FORGED_WINDOW_SECONDS": "a minute"}, "WEBHOOK_FORGED_WINDOW_SECONDS"),
        ({"WEBHOOK_FORGED_WINDOW_SECONDS": "90000"}, "WEBHOOK_FORGED_WINDOW_SECONDS: Input should be less"),
    ],
)
def test_contradictory_configuration_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_serve_refuses_to_start_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "serve"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "sms-assistant: invalid configuration: Twilio needs both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: "
        "set TWILIO_AUTH_TOKEN"
    ]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ('timezone = "Mars/Olympus"', "timezone"),
        ('[hours]\nmon = "9-5"', "hours"),
        ('[[services]]\nname = "Yoga"\nduration_minutes = -5', "services.0.duration_minutes"),
    ],
)
def test_invalid_business_file_names_the_field(tmp_path: Path, patch: str, field: str) -> None:
    path = tmp_path / "business.toml"
    base = 'name = "Acme"\n' + ("" if patch.startswith("timezone") else 'timezone = "UTC"\n')
    path.write_text(base + patch + "\n")
    with pytest.raises(ConfigError, match=field):
        load_business(path)
