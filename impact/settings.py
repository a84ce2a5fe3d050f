"""The one typed settings object. Nothing else in the project reads os.environ."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class LogBackend(StrEnum):
    embedded = "embedded"
    kafka = "kafka"


class KafkaSecurityProtocol(StrEnum):
    plaintext = "PLAINTEXT"
    ssl = "SSL"
    sasl_plaintext = "SASL_PLAINTEXT"
    sasl_ssl = "SASL_SSL"


class KafkaSaslMechanism(StrEnum):
    plain = "PLAIN"
    scram_sha_256 = "SCRAM-SHA-256"
    scram_sha_512 = "SCRAM-SHA-512"


class PasswordHashing(StrEnum):
    scrypt = "scrypt"  # Werkzeug's default, at production cost
    fast = "fast"  # one round of PBKDF2: for tests only, refused in production


class Settings(BaseSettings):
    """Configuration, read from `IMPACT_*` environment variables (every one is documented in docs/configuration.md)."""

    model_config = SettingsConfigDict(env_prefix="IMPACT_", extra="ignore")

    env: Environment = Environment.development
    data_dir: Path = Field(default=Path("var"), description="Where the embedded database and log live.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    secret_key: str = Field(default="", description="Signs sessions and CSRF tokens; required in production.")

    event_log: LogBackend = LogBackend.embedded
    event_log_path: Path | None = Field(default=None, description="Embedded log file; default in data_dir.")
    kafka_bootstrap: str = "localhost:9092"
    kafka_partitions: int = Field(default=3, ge=3, description="Partitions per topic; 3 or more.")
    # A managed Kafka service: replication, TLS and SASL (docs/deployment.md, "Managed Kafka").
    kafka_replication_factor: int = Field(default=1, ge=1, description="Replicas of each partition of created topics.")
    kafka_min_insync_replicas: int | None = Field(
        default=None, ge=1, description="min.insync.replicas of created topics; unset: the broker's default."
    )
    kafka_security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.plaintext
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA certificates (PEM) that sign the brokers'.")
    kafka_ssl_certfile: Path | None = Field(default=None, description="Client certificate (PEM), for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="The client certificate's private key (PEM).")
    kafka_sasl_mechanism: KafkaSaslMechanism = KafkaSaslMechanism.plain
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = Field(default=SecretStr(""), description="Never logged or shown.")
    topic: str = "involvement.events"
    dead_letter_topic: str = "involvement.events.dead-letters"

    host: str = "127.0.0.1"
    ingest_port: int = 8001
    dashboard_port: int = 8050
    processor_health_port: int = 8002
    processor_health_host: str = Field(
        default="127.0.0.1",
        description="The address the processor's health endpoint binds; loopback unless a probe elsewhere needs it.",
    )
    workers: int = Field(default=2, ge=1, description="WSGI worker processes per web service.")
    password_hashing: PasswordHashing = Field(
        default=PasswordHashing.scrypt,
        description="scrypt (production cost), or fast for tests (refused in production).",
    )

    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    batch_size: int = Field(default=2000, ge=1, le=10_000, description="Events per processor micro-batch.")
    poll_timeout_ms: int = Field(default=500, ge=1)
    consumer_group: str = "impact-processors"
    reference_wait_seconds: float = Field(
        default=600.0,
        ge=0,
        description="How long an event whose reference is not known yet waits before it is dead-lettered.",
    )

    save_wait_seconds: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="How long a staff form waits for the processor before saying a record is being saved.",
    )

    # Feedback to participants ("you made a difference"): see docs/feedback.md and docs/configuration.md.
    smtp_host: str = Field(default="", description="SMTP server for feedback e-mail; empty: e-mail is not sent.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_security: str = Field(
        default="starttls", pattern="^(starttls|ssl|none)$", description="starttls, ssl or none (none: tests only)."
    )
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_from: str = Field(default="", description="The From address of feedback e-mail, e.g. 'Mind Leeds <hello@…>'.")
    public_url: str = Field(
        default="http://localhost:8050",
        description="Where participants open their own page: the dashboard's public address, no trailing slash.",
    )
    feedback_interval_seconds: float = Field(default=5.0, gt=0, description="How often the feedback sender looks.")
    feedback_max_attempts: int = Field(default=6, ge=1, description="E-mail tries before staff are asked to look.")
    feedback_retry_seconds: float = Field(default=60.0, gt=0, description="The first retry's wait; doubles each time.")
    participant_link_days: int = Field(default=90, ge=1, le=730, description="How long a participant's link works.")

    @model_validator(mode="after")
    def _kafka_security_is_whole(self) -> Self:
        """A half-configured connection to Kafka fails here, not at the first write."""
        protocol = self.kafka_security_protocol
        sasl = protocol in (KafkaSecurityProtocol.sasl_plaintext, KafkaSecurityProtocol.sasl_ssl)
        tls = protocol in (KafkaSecurityProtocol.ssl, KafkaSecurityProtocol.sasl_ssl)
        if (self.kafka_min_insync_replicas or 0) > self.kafka_replication_factor:
            raise ValueError("IMPACT_KAFKA_MIN_INSYNC_REPLICAS cannot exceed IMPACT_KAFKA_REPLICATION_FACTOR")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()):
            raise ValueError(
                f"IMPACT_KAFKA_SASL_USERNAME and IMPACT_KAFKA_SASL_PASSWORD must be set with {protocol.value}"
            )
        if not sasl and (self.kafka_sasl_username or self.kafka_sasl_password.get_secret_value()):
            raise ValueError(
                "IMPACT_KAFKA_SASL_USERNAME/PASSWORD are set but IMPACT_KAFKA_SECURITY_PROTOCOL is "
                f"{protocol.value}: use SASL_SSL (or SASL_PLAINTEXT) to send them"
            )
        files = {
            "IMPACT_KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "IMPACT_KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "IMPACT_KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
        }
        given = [name for name, path in files.items() if path is not None]
        if given and not tls:
            raise ValueError(f"{', '.join(given)} need IMPACT_KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL")
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise ValueError("IMPACT_KAFKA_SSL_KEYFILE needs IMPACT_KAFKA_SSL_CERTFILE (the certificate it belongs to)")
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Self:
        if self.env == Environment.production:
            if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < 32:
                raise ValueError("IMPACT_SECRET_KEY must be set to a random value of 32+ characters in production")
            if not self.database_url:
                raise ValueError("IMPACT_DATABASE_URL must be set in production")
            if self.password_hashing != PasswordHashing.scrypt:
                raise ValueError("IMPACT_PASSWORD_HASHING must be scrypt in production")
            if self.event_log == LogBackend.kafka:
                self._production_kafka()
        return self

    def _production_kafka(self) -> None:
        protocol, mechanism = self.kafka_security_protocol, self.kafka_sasl_mechanism
        if protocol == KafkaSecurityProtocol.sasl_plaintext and mechanism == KafkaSaslMechanism.plain:
            raise ValueError(
                "IMPACT_KAFKA_SASL_MECHANISM PLAIN over SASL_PLAINTEXT sends the password unencrypted: "
                "use SASL_SSL in production"
            )
        password = self.kafka_sasl_password.get_secret_value()
        if protocol in (KafkaSecurityProtocol.sasl_plaintext, KafkaSecurityProtocol.sasl_ssl) and (
            password.strip().lower() in PLACEHOLDER_SECRETS
        ):
            raise ValueError("IMPACT_KAFKA_SASL_PASSWORD must be the real password in production, not a placeholder")

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'impact.db'}"

    @property
    def log_path(self) -> Path:
        return self.event_log_path or self.data_dir / "events.db"

    @cached_property
    def signing_key(self) -> str:
        """The secret key; outside production a missing one is made once and kept in data_dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Several processes start at once: write privately, then link into place; the first link wins.
            handle, temporary = tempfile.mkstemp(dir=self.data_dir, prefix=".secret_key.")
            try:
                os.write(handle, secrets.token_urlsafe(48).encode())
                os.fsync(handle)
                os.close(handle)
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, path)
            finally:
                os.unlink(temporary)
        return path.read_text().strip()


def settings_variables() -> set[str]:
    """Every environment variable the settings object reads."""
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}
