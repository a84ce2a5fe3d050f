"""Production Kafka: replication and security settings reach every client; failures heal or are reported.

Against the real Kafka-protocol broker (noida-db, one broker, which accepts SASL PLAIN logins)."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from kafka.admin import ConfigResource, ConfigResourceType
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, insert

from impact.eventlog import LogUnavailable, Record, open_event_log
from impact.eventlog.kafka import KafkaLog, LogGap, client_config
from impact.settings import KafkaSaslMechanism, KafkaSecurityProtocol, LogBackend, Settings
from processors.consumer import Processor
from processors.health import serve_health
from processors.quality import QualityGate
from processors.store import OFFSETS
from tests.factories import Broker, free_port

pytestmark = pytest.mark.timeout(60)

GOOD_SECRET = "k" * 32


def kafka_settings(bootstrap: str, **values: object) -> Settings:
    suffix = uuid.uuid4().hex[:10]
    base: dict[str, object] = {
        "event_log": LogBackend.kafka,
        "kafka_bootstrap": bootstrap,
        "topic": f"events-{suffix}",
        "dead_letter_topic": f"dead-{suffix}",
        "consumer_group": f"group-{suffix}",
        "reference_wait_seconds": 0,
    }
    return Settings(**{**base, **values})  # type: ignore[arg-type]


def records(n: int) -> list[Record]:
    return [Record(f"org-{i % 5}", f"v{i}".encode()) for i in range(n)]


# --- Settings and the client configuration -----------------------------------------------------------


def test_plaintext_by_default_sends_no_credentials() -> None:
    settings = Settings(kafka_bootstrap="b1:9092,b2:9092")
    assert client_config(settings) == {"bootstrap_servers": "b1:9092,b2:9092", "security_protocol": "PLAINTEXT"}
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (1, None)


def test_sasl_ssl_with_mutual_tls(tmp_path: Path) -> None:
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "client.pem", "client.key"))
    for path in (ca, cert, key):
        path.write_text("-----BEGIN-----\n")
    settings = Settings(
        kafka_bootstrap="kafka.example:9093",
        kafka_security_protocol=KafkaSecurityProtocol.sasl_ssl,
        kafka_ssl_cafile=ca,
        kafka_ssl_certfile=cert,
        kafka_ssl_keyfile=key,
        kafka_sasl_mechanism=KafkaSaslMechanism.scram_sha_512,
        kafka_sasl_username="impact",
        kafka_sasl_password=SecretStr("s3cret-of-the-service"),
    )
    assert client_config(settings) == {
        "bootstrap_servers": "kafka.example:9093",
        "security_protocol": "SASL_SSL",
        "ssl_cafile": str(ca),
        "ssl_certfile": str(cert),
        "ssl_keyfile": str(key),
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "impact",
        "sasl_plain_password": "s3cret-of-the-service",
    }
    assert "s3cret-of-the-service" not in repr(settings) and "s3cret-of-the-service" not in str(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "IMPACT_KAFKA_SASL_USERNAME and IMPACT_KAFKA_SASL_PASSWORD"),
        ({"kafka_sasl_username": "u", "kafka_sasl_password": "p"}, "use SASL_SSL"),
        ({"kafka_ssl_cafile": "/etc/hosts"}, "need IMPACT_KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/no/such/ca.pem"}, "no such file"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "/etc/hosts"}, "needs IMPACT_KAFKA_SSL_CERTFILE"),
        ({"kafka_replication_factor": 2, "kafka_min_insync_replicas": 3}, "cannot exceed"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_half_configured_security_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "u", "kafka_sasl_password": "pw-1"},
            "sends the password unencrypted",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u", "kafka_sasl_password": "changeme"},
            "not a placeholder",
        ),
    ],
)
def test_production_refuses_weak_kafka_security(values: dict[str, object], message: str) -> None:
    production = {"env": "production", "secret_key": GOOD_SECRET, "database_url": "sqlite://", "event_log": "kafka"}
    with pytest.raises(ValidationError, match=message):
        Settings(**production, **values)  # type: ignore[arg-type]
    scram = {**values, "kafka_security_protocol": "SASL_SSL", "kafka_sasl_password": "a-real-password"}
    assert Settings(**production, **scram).kafka_sasl_password.get_secret_value() == "a-real-password"  # type: ignore[arg-type]


# --- On the broker ------------------------------------------------------------------------------


def test_sasl_settings_reach_producer_consumer_and_admin(kafka_bootstrap: str) -> None:
    settings = kafka_settings(
        kafka_bootstrap,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="impact",
        kafka_sasl_password="pw-of-impact",
    )
    expected = client_config(settings)
    assert expected["security_protocol"] == "SASL_PLAINTEXT" and expected["sasl_plain_password"] == "pw-of-impact"
    log = KafkaLog.from_settings(settings, timeout_s=5)
    try:
        log.append(settings.topic, records(6))  # over SASL: the broker took the login
        admin = log._admin()
        try:
            assert {k: admin.config[k] for k in expected} == expected
        finally:
            admin.close()
        producer = log._get_producer()
        assert {k: producer.config[k] for k in expected} == expected
        assert producer.config["acks"] in ("all", -1) and producer.config["max_in_flight_requests_per_connection"] == 1
        with log.consumer(settings.topic, "g") as consumer:
            assert {k: consumer._consumer.config[k] for k in expected} == expected  # type: ignore[attr-defined]
            got: list[object] = []
            deadline = time.monotonic() + 10
            while len(got) < 6 and time.monotonic() < deadline:
                got.extend(consumer.poll(100, 200))
        assert len(got) == 6
    finally:
        log.close()


def test_topics_get_the_configured_partitions_and_replication(kafka_bootstrap: str) -> None:
    settings = kafka_settings(kafka_bootstrap, kafka_partitions=4, kafka_min_insync_replicas=1)
    log = KafkaLog.from_settings(settings, timeout_s=5)
    try:
        log.ensure_topics()
        assert len(log.end_positions(settings.topic)) == 4
        admin = log._admin()
        try:
            (described,) = admin.describe_topics([settings.topic])
            assert len(described["partitions"]) == 4
            assert all(p["replica_nodes"] == [1] for p in described["partitions"])
            configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, settings.topic)])
            assert configs["topic"][settings.topic]["min.insync.replicas"]["value"] == "1"
        finally:
            admin.close()
    finally:
        log.close()


def test_more_replicas_than_brokers_fails_at_once_with_the_reason(kafka_bootstrap: str) -> None:
    settings = kafka_settings(kafka_bootstrap, kafka_replication_factor=3, kafka_min_insync_replicas=2)
    log = KafkaLog.from_settings(settings, timeout_s=5)
    started = time.monotonic()
    try:
        with pytest.raises(LogUnavailable, match=r"IMPACT_KAFKA_REPLICATION_FACTOR=3: .*replication factor of 3"):
            log.append(settings.topic, records(1))
    finally:
        log.close()
    assert time.monotonic() - started < 5, "refused, not waited out"


def test_a_closed_producer_is_rebuilt_on_the_next_append(kafka_bootstrap: str) -> None:
    settings = kafka_settings(kafka_bootstrap)
    log = KafkaLog.from_settings(settings, timeout_s=5)
    try:
        log.append(settings.topic, records(2))
        first = log._get_producer()
        first.close(timeout=1)  # what a fatal error leaves behind: every later send would fail
        log.append(settings.topic, records(2))
        assert log._get_producer() is not first
        assert sum(log.end_positions(settings.topic).values()) == 4
    finally:
        log.close()


def test_a_non_retriable_error_gives_the_next_append_a_new_producer(kafka_bootstrap: str) -> None:
    settings = kafka_settings(kafka_bootstrap)
    log = KafkaLog.from_settings(settings, timeout_s=5)
    try:
        log.append(settings.topic, records(1))
        first = log._get_producer()
        with pytest.raises(LogUnavailable, match="did not acknowledge"):
            log.append(settings.topic, [Record("org-0", b"x" * (2 * 1024 * 1024))])  # MessageSizeTooLarge
        log.append(settings.topic, records(3))
        assert log._get_producer() is not first
        assert sum(log.end_positions(settings.topic).values()) == 4
    finally:
        log.close()


def test_a_stored_position_past_the_end_is_reported_not_skipped(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = kafka_settings(kafka_bootstrap)
    log = KafkaLog.from_settings(settings, timeout_s=5)
    try:
        log.append(settings.topic, records(9))
        end = log.end_positions(settings.topic)
        stored = {p: offset + 5 if p == 0 else offset for p, offset in end.items()}
        with pytest.raises(LogGap, match=rf"partition 0: stored position {end[0] + 5} is past the end {end[0]}"):
            log.consumer(settings.topic, "g", start_positions=lambda partitions: stored)
        assert any(r.levelname == "ERROR" and settings.topic in r.getMessage() for r in caplog.records)
    finally:
        log.close()


def test_the_processor_reports_the_gap_as_unhealthy(kafka_bootstrap: str, engine: Engine, gate: QualityGate) -> None:
    settings = kafka_settings(kafka_bootstrap, database_url=engine.url.render_as_string(False))
    log = KafkaLog.from_settings(settings, timeout_s=5)
    try:
        log.ensure_topics()
        end = log.end_positions(settings.topic)  # an empty log: every end is 0
        with engine.begin() as conn:
            row = {"group_id": settings.consumer_group, "topic": settings.topic, "partition": 1, "next_offset": 7}
            conn.execute(insert(OFFSETS).values(row))
        processor = Processor.for_settings(settings, engine=engine, event_log=log, gate=gate)
        stop = threading.Event()
        runner = threading.Thread(target=processor.run, args=(stop,), kwargs={"batch_size": 10, "poll_timeout_ms": 100})
        runner.start()
        deadline = time.monotonic() + 15
        while processor.health.last_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        runner.join(10)
        assert end[1] == 0
        assert processor.health.last_error is not None
        assert "partition 1: stored position 7 is past the end 0" in processor.health.last_error
        server = serve_health(processor.health, "127.0.0.1", free_port())
        try:
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/healthz", timeout=5)
            assert answer.value.code == 503
            body = json.loads(answer.value.read())
            assert body["status"] == "unavailable" and "stored position 7 is past the end 0" in body["last_error"]
        finally:
            server.shutdown()
            server.server_close()
    finally:
        log.close()


def test_a_log_that_loses_records_under_a_running_consumer_is_reported(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker", free_port())
    broker.start()
    settings = kafka_settings(broker.bootstrap)
    log = KafkaLog.from_settings(settings, timeout_s=5)
    try:
        log.append(settings.topic, records(20))
        end = log.end_positions(settings.topic)
        consumer = log.consumer(settings.topic, "g", start_positions=lambda partitions: dict(end))
        try:
            assert consumer.poll(100, 200) == []  # at the end: nothing new
            broker.stop()
            (tmp_path / "broker" / "kafka.json").unlink()  # the broker's disk is lost
            broker.start()
            KafkaLog.from_settings(settings, timeout_s=5).ensure_topics()  # an empty topic takes its place
            gap: LogGap | None = None
            deadline = time.monotonic() + 20
            while gap is None and time.monotonic() < deadline:
                try:
                    consumer.poll(100, 200)
                except LogGap as exc:
                    gap = exc
                except LogUnavailable:  # the broker is still coming back
                    time.sleep(0.1)
            assert gap is not None, "a consumer past the end of its partition kept polling as if healthy"
            assert re.search(r"stored position \d+ is past the end 0", str(gap)), gap
        finally:
            consumer.close()
    finally:
        log.close()
        broker.stop()


def test_open_event_log_passes_the_security_settings(kafka_bootstrap: str) -> None:
    settings = kafka_settings(
        kafka_bootstrap, kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="pw-2"
    )
    log = open_event_log(settings)
    try:
        assert isinstance(log, KafkaLog) and log.connection == client_config(settings)
    finally:
        log.close()
