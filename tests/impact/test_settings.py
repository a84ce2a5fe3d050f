"""The one settings object: defaults, IMPACT_* variables, production fails fast, the signing key file."""

from __future__ import annotations

import multiprocessing
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from impact.settings import Environment, LogBackend, PasswordHashing, Settings, settings_variables

GOOD_SECRET = "k" * 32
PG = "postgresql+psycopg://impact@db:5432/impact"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No IMPACT_* variable from the caller's shell, and a scratch working directory for the relative data_dir."""
    for name in os.environ:
        if name.upper().startswith("IMPACT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = Settings()
    assert settings.env == Environment.development
    assert settings.event_log == LogBackend.embedded
    assert settings.data_dir == Path("var")
    assert settings.sqlalchemy_url == "sqlite:///var/impact.db"
    assert settings.log_path == Path("var/events.db")
    assert (settings.topic, settings.dead_letter_topic) == ("involvement.events", "involvement.events.dead-letters")
    assert (settings.ingest_port, settings.dashboard_port, settings.processor_health_port) == (8001, 8050, 8002)
    assert (settings.batch_size, settings.max_body_bytes, settings.workers) == (2000, 2 * 1024 * 1024, 2)
    assert settings.reference_wait_seconds == 600
    assert settings.password_hashing == PasswordHashing.scrypt


@pytest.mark.parametrize(
    ("env", "attribute", "expected"),
    [
        ({"IMPACT_EVENT_LOG": "kafka"}, "event_log", LogBackend.kafka),
        ({"IMPACT_ENV": "test"}, "env", Environment.test),
        ({"IMPACT_DATA_DIR": "/srv/impact"}, "sqlalchemy_url", "sqlite:////srv/impact/impact.db"),
        ({"IMPACT_DATA_DIR": "/srv/impact"}, "log_path", Path("/srv/impact/events.db")),
        ({"IMPACT_DATA_DIR": "/srv/x", "IMPACT_EVENT_LOG_PATH": "/logs/e.db"}, "log_path", Path("/logs/e.db")),
        ({"IMPACT_DATABASE_URL": PG, "IMPACT_DATA_DIR": "/srv/x"}, "sqlalchemy_url", PG),
        ({"IMPACT_KAFKA_BOOTSTRAP": "broker-1:9092,broker-2:9092"}, "kafka_bootstrap", "broker-1:9092,broker-2:9092"),
        ({"IMPACT_KAFKA_PARTITIONS": "6"}, "kafka_partitions", 6),
        ({"IMPACT_TOPIC": "events-x"}, "topic", "events-x"),
        ({"IMPACT_BATCH_SIZE": "10000"}, "batch_size", 10_000),
        ({"IMPACT_MAX_BODY_BYTES": "1024"}, "max_body_bytes", 1024),
        ({"IMPACT_POLL_TIMEOUT_MS": "50"}, "poll_timeout_ms", 50),
        ({"IMPACT_WORKERS": "4"}, "workers", 4),
        ({"IMPACT_HOST": "10.1.2.3"}, "host", "10.1.2.3"),
        ({"IMPACT_INGEST_PORT": "9001"}, "ingest_port", 9001),
        ({"IMPACT_CONSUMER_GROUP": "g2"}, "consumer_group", "g2"),
        ({"IMPACT_SECRET_KEY": "s3cret"}, "signing_key", "s3cret"),
        ({"IMPACT_PASSWORD_HASHING": "fast"}, "password_hashing", PasswordHashing.fast),
        ({"UNRELATED": "1", "IMPACT_UNKNOWN": "1"}, "event_log", LogBackend.embedded),
    ],
)
def test_environment_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], attribute: str, expected: Any
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert getattr(Settings(), attribute) == expected


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("IMPACT_EVENT_LOG", "rabbitmq", "event_log"),
        ("IMPACT_ENV", "staging", "env"),
        ("IMPACT_BATCH_SIZE", "0", "batch_size"),
        ("IMPACT_BATCH_SIZE", "10001", "batch_size"),
        ("IMPACT_KAFKA_PARTITIONS", "0", "kafka_partitions"),
        ("IMPACT_MAX_BODY_BYTES", "1023", "max_body_bytes"),
        ("IMPACT_WORKERS", "0", "workers"),
        ("IMPACT_POLL_TIMEOUT_MS", "0", "poll_timeout_ms"),
        ("IMPACT_INGEST_PORT", "eighty", "ingest_port"),
        ("IMPACT_PASSWORD_HASHING", "md5", "password_hashing"),
    ],
)
def test_invalid_environment_variables(monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IMPACT_DATABASE_URL": PG}, "IMPACT_SECRET_KEY must be set"),
        ({"IMPACT_DATABASE_URL": PG, "IMPACT_SECRET_KEY": "changeme"}, "IMPACT_SECRET_KEY must be set"),
        ({"IMPACT_DATABASE_URL": PG, "IMPACT_SECRET_KEY": "  ChangeMe  "}, "IMPACT_SECRET_KEY must be set"),
        ({"IMPACT_DATABASE_URL": PG, "IMPACT_SECRET_KEY": " " * 40}, "IMPACT_SECRET_KEY must be set"),
        ({"IMPACT_DATABASE_URL": PG, "IMPACT_SECRET_KEY": "k" * 31}, "32+ characters"),
        ({"IMPACT_SECRET_KEY": GOOD_SECRET}, "IMPACT_DATABASE_URL must be set in production"),
        (
            {"IMPACT_DATABASE_URL": PG, "IMPACT_SECRET_KEY": GOOD_SECRET, "IMPACT_PASSWORD_HASHING": "fast"},
            "IMPACT_PASSWORD_HASHING must be scrypt in production",
        ),
    ],
    ids=["no-secret", "placeholder", "placeholder-padded", "blank", "short", "no-database", "cheap-hashing"],
)
def test_production_fails_fast(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    monkeypatch.setenv("IMPACT_ENV", "production")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings()


def test_production_with_a_secret_and_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "IMPACT_ENV": "production",
        "IMPACT_SECRET_KEY": GOOD_SECRET,
        "IMPACT_DATABASE_URL": PG,
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.signing_key, settings.sqlalchemy_url) == (GOOD_SECRET, PG)
    assert not Path("var").exists()


@pytest.mark.parametrize("env", ["development", "test"])
def test_outside_production_nothing_is_required(env: str) -> None:
    assert Settings(env=env).secret_key == ""


def test_signing_key_is_made_once_and_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Settings(data_dir=data_dir).signing_key
    path = data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and path.read_text() == first
    assert Settings(data_dir=data_dir).signing_key == first
    assert Settings(data_dir=tmp_path / "other").signing_key != first


def test_an_explicit_secret_writes_no_file(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path / "data", secret_key="given").signing_key == "given"
    assert not (tmp_path / "data").exists()


def test_two_processes_creating_the_key_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other process finishes between this one's check and its write: both end with one key."""
    first, second = Settings(data_dir=tmp_path), Settings(data_dir=tmp_path)
    link = os.link
    raced: list[str] = []

    def interleaved(source: Any, target: Any) -> None:
        if not raced:
            raced.append("the other process starts")
            raced.append(second.signing_key)
        link(source, target)

    monkeypatch.setattr(os, "link", interleaved)
    assert first.signing_key == second.signing_key == raced[1]
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"], "no temporary files left behind"


def _signing_key(data_dir: str) -> str:
    return Settings(data_dir=Path(data_dir)).signing_key


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        keys = pool.map(_signing_key, [str(tmp_path)] * 12)
    assert len(set(keys)) == 1
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


EXPECTED_VARIABLES = {
    "IMPACT_ENV",
    "IMPACT_DATA_DIR",
    "IMPACT_DATABASE_URL",
    "IMPACT_SECRET_KEY",
    "IMPACT_EVENT_LOG",
    "IMPACT_EVENT_LOG_PATH",
    "IMPACT_KAFKA_BOOTSTRAP",
    "IMPACT_KAFKA_PARTITIONS",
    "IMPACT_KAFKA_REPLICATION_FACTOR",
    "IMPACT_KAFKA_MIN_INSYNC_REPLICAS",
    "IMPACT_KAFKA_SECURITY_PROTOCOL",
    "IMPACT_KAFKA_SSL_CAFILE",
    "IMPACT_KAFKA_SSL_CERTFILE",
    "IMPACT_KAFKA_SSL_KEYFILE",
    "IMPACT_KAFKA_SASL_MECHANISM",
    "IMPACT_KAFKA_SASL_USERNAME",
    "IMPACT_KAFKA_SASL_PASSWORD",
    "IMPACT_TOPIC",
    "IMPACT_DEAD_LETTER_TOPIC",
    "IMPACT_HOST",
    "IMPACT_INGEST_PORT",
    "IMPACT_DASHBOARD_PORT",
    "IMPACT_PROCESSOR_HEALTH_PORT",
    "IMPACT_PROCESSOR_HEALTH_HOST",
    "IMPACT_WORKERS",
    "IMPACT_PASSWORD_HASHING",
    "IMPACT_MAX_BODY_BYTES",
    "IMPACT_BATCH_SIZE",
    "IMPACT_POLL_TIMEOUT_MS",
    "IMPACT_CONSUMER_GROUP",
    "IMPACT_REFERENCE_WAIT_SECONDS",
    "IMPACT_SMTP_HOST",
    "IMPACT_SMTP_PORT",
    "IMPACT_SMTP_USERNAME",
    "IMPACT_SMTP_PASSWORD",
    "IMPACT_SMTP_SECURITY",
    "IMPACT_SMTP_TIMEOUT_SECONDS",
    "IMPACT_MAIL_FROM",
    "IMPACT_PUBLIC_URL",
    "IMPACT_FEEDBACK_INTERVAL_SECONDS",
    "IMPACT_FEEDBACK_MAX_ATTEMPTS",
    "IMPACT_FEEDBACK_RETRY_SECONDS",
    "IMPACT_PARTICIPANT_LINK_DAYS",
    "IMPACT_SAVE_WAIT_SECONDS",
}


def test_settings_variables() -> None:
    assert settings_variables() == EXPECTED_VARIABLES
    assert settings_variables() == {f"IMPACT_{name.upper()}" for name in Settings.model_fields}


# That every variable is documented (in docs/configuration.md) is tests/test_docs.py's.
