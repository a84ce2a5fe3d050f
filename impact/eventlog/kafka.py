"""The Kafka event log (kafka-python): for deployments where one machine is not enough.

Producer: acks="all", retries with one request in flight (so retries keep order), records keyed by
org_id so each organisation's facts stay ordered within their partition. Topics are created with
`partitions` partitions, `replication_factor` replicas and, when set, `min.insync.replicas`. The
connection's security (TLS, SASL) comes from the settings through `client_config`, the same for the
producer, the consumers and the admin client. A producer that hits a non-retriable error is closed
and rebuilt on the next append. Consumers never auto-commit: the processors keep their positions in
the read-model database and seek to them when partitions are assigned; a stored position the log no
longer has (past its end, or before its start) is reported as `LogGap`, never silently reset.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import InvalidReplicationFactorError, KafkaError, OffsetOutOfRangeError, TopicAlreadyExistsError
from kafka.serializer import DefaultSerializer
from kafka.structs import OffsetAndMetadata

from impact.eventlog.base import EventLog, LogConsumer, LogUnavailable, Message, Record, StartPositions

if TYPE_CHECKING:
    from impact.settings import Settings

log = logging.getLogger(__name__)


class LogGap(LogUnavailable):
    """A stored position the log does not have: it lost records (or was replaced); nothing was skipped."""


def client_config(settings: Settings) -> dict[str, Any]:
    """Where Kafka is and how to connect to it, in kafka-python's names: what every client of ours gets."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol.value,
    }
    if settings.kafka_security_protocol.value in ("SSL", "SASL_SSL"):
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(settings, f"kafka_{name}")
            if path is not None:
                config[name] = str(path)
    if settings.kafka_security_protocol.value in ("SASL_PLAINTEXT", "SASL_SSL"):
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism.value
        config["sasl_plain_username"] = settings.kafka_sasl_username
        config["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return config


class KafkaLog(EventLog):
    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        partitions: int = 3,
        timeout_s: float = 10.0,
        *,
        replication_factor: int = 1,
        min_insync_replicas: int | None = None,
        connection: Mapping[str, Any] | None = None,
    ) -> None:
        """`connection` is `client_config(settings)` (security included); without it, PLAINTEXT to `bootstrap`."""
        self.connection = dict(connection or {"bootstrap_servers": bootstrap})
        self.bootstrap = str(self.connection["bootstrap_servers"])
        self.topics = tuple(topics)
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.min_insync_replicas = min_insync_replicas
        self.timeout_s = timeout_s
        self._producer: KafkaProducer | None = None
        self._topics_ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, timeout_s: float = 10.0) -> KafkaLog:
        return cls(
            settings.kafka_bootstrap,
            topics=(settings.topic, settings.dead_letter_topic),
            partitions=settings.kafka_partitions,
            timeout_s=timeout_s,
            replication_factor=settings.kafka_replication_factor,
            min_insync_replicas=settings.kafka_min_insync_replicas,
            connection=client_config(settings),
        )

    def _client_options(self) -> dict[str, Any]:
        ms = int(self.timeout_s * 1000)
        return {
            **self.connection,
            "request_timeout_ms": ms,
            "bootstrap_timeout_ms": ms,
            # kafka-python's reconnect backoff grows to 30 s by default: a restarted broker would then sit
            # unused for up to half a minute. Retrying every 2 s at most keeps the reconnection prompt.
            "reconnect_backoff_max_ms": 2000,
        }

    def _admin(self) -> KafkaAdminClient:
        try:
            return KafkaAdminClient(**self._client_options())
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc

    def ensure_topics(self) -> None:
        """Create the topics (idempotent): `partitions` partitions of `replication_factor` replicas each."""
        if self._topics_ready:
            return
        admin = self._admin()
        try:
            existing = set(admin.list_topics())
            spec: dict[str, Any] = {"num_partitions": self.partitions, "replication_factor": self.replication_factor}
            if self.min_insync_replicas is not None:
                spec["configs"] = {"min.insync.replicas": str(self.min_insync_replicas)}
            wanted = {topic: spec for topic in self.topics if topic not in existing}
            if wanted:
                with contextlib.suppress(TopicAlreadyExistsError):  # another process created it first
                    admin.create_topics(wanted, timeout_ms=int(self.timeout_s * 1000), wait_for_metadata=True)
        except InvalidReplicationFactorError as exc:
            detail = getattr(exc, "message", None) or str(exc)
            found = re.search(r"error_message='([^']*)'", str(exc))
            raise LogUnavailable(
                f"Kafka at {self.bootstrap} cannot create {', '.join(sorted(wanted))} with "
                f"IMPACT_KAFKA_REPLICATION_FACTOR={self.replication_factor}: "
                f"{found.group(1) if found else detail}"
            ) from exc
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc
        finally:
            admin.close()
        self._topics_ready = True

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is not None and not _usable(self._producer):
                log.warning("Kafka producer for %s closed or its sender stopped: building another", self.bootstrap)
                self._discard(self._producer)
            if self._producer is None:
                self.ensure_topics()
                try:
                    self._producer = KafkaProducer(
                        **self._client_options(),
                        acks="all",
                        retries=5,
                        max_in_flight_requests_per_connection=1,
                        linger_ms=2,
                        max_block_ms=int(self.timeout_s * 1000),
                        # kafka-python 3 takes Serializer objects: keys (str) are UTF-8, values pass as bytes.
                        key_serializer=DefaultSerializer(),
                        value_serializer=DefaultSerializer(),
                    )
                except KafkaError as exc:
                    raise LogUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc
            return self._producer

    def append(self, topic: str, records: Sequence[Record]) -> None:
        if not records:
            return
        producer = self._get_producer()
        try:
            futures = [producer.send(topic, key=record.key, value=record.value) for record in records]
            producer.flush(timeout=self.timeout_s)
            for future in futures:
                future.get(timeout=self.timeout_s)
        except KafkaError as exc:
            if not exc.retriable:
                # A fatal error (closed producer, fenced or broken idempotent sequence, authentication, a
                # record the broker refuses): this producer would fail every later request, so the next
                # append gets a new one.
                log.error("Kafka producer for %s failed (%s): building a new one", self.bootstrap, type(exc).__name__)
                with self._lock:
                    if self._producer is producer:
                        self._discard(producer)
            # Unconfirmed is not the same as lost: the producer may still deliver these records later,
            # which is why callers are told to retry with the same event ids (a repeat is a no-op).
            raise LogUnavailable(f"Kafka at {self.bootstrap} did not acknowledge the write: {exc}") from exc

    def _discard(self, producer: KafkaProducer) -> None:
        """Close a producer that can no longer be used (lock held); the next append builds another."""
        self._producer = None
        try:
            producer.close(timeout=0)
        except Exception as exc:  # a broken producer may fail to close as well: it is dropped all the same
            log.warning("closing a failed Kafka producer: %s", exc)

    def consumer(self, topic: str, group: str, start_positions: StartPositions | None = None) -> LogConsumer:
        self.ensure_topics()
        return KafkaLogConsumer(self, topic, group, start_positions)

    def end_positions(self, topic: str) -> dict[int, int]:
        self.ensure_topics()
        try:
            consumer = KafkaConsumer(**self._client_options(), enable_auto_commit=False)
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc
        finally:
            consumer.close()

    def ping(self) -> None:
        producer = self._get_producer()
        try:
            if not producer.partitions_for(self.topics[0]):
                raise LogUnavailable(f"Kafka at {self.bootstrap} knows no partitions of {self.topics[0]}")
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self.timeout_s)
                self._producer = None


def _usable(producer: KafkaProducer) -> bool:
    sender = getattr(producer, "_sender", None)
    return not getattr(producer, "_closed", False) and (sender is None or sender.is_alive())


class KafkaLogConsumer(LogConsumer):
    """Assigns itself every partition of the topic and seeks to the stored positions.

    Self-assignment rather than group subscription: a processor killed with SIGKILL would otherwise
    hold its partitions until the broker evicts it, and the positions that matter live in the
    read-model database anyway. The group id is kept for committing positions that tools can read.
    """

    def __init__(self, log: KafkaLog, topic: str, group: str, start_positions: StartPositions | None) -> None:
        self._topic = topic
        self._bootstrap = log.bootstrap
        try:
            self._consumer = KafkaConsumer(
                **log._client_options(),
                group_id=group,
                enable_auto_commit=False,
                # Every partition's start is set explicitly below; a position the log does not have raises
                # (OffsetOutOfRangeError) instead of silently jumping to the beginning or the end.
                auto_offset_reset="none",
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
            partitions = self._partitions(log.timeout_s)
            assigned = [TopicPartition(topic, p) for p in partitions]
            self._consumer.assign(assigned)
            stored = start_positions(partitions) if start_positions else {}
            for tp in assigned:
                if tp.partition in stored:
                    self._consumer.seek(tp, stored[tp.partition])
                else:
                    committed = self._consumer.committed(tp)
                    if committed is not None:
                        self._consumer.seek(tp, committed)
                    else:
                        self._consumer.seek_to_beginning(tp)
            self._check_gaps({tp.partition: stored[tp.partition] for tp in assigned if tp.partition in stored})
        except KafkaError as exc:
            self._consumer_close_quietly()
            raise LogUnavailable(f"Kafka at {log.bootstrap}: {exc}") from exc
        except LogGap:
            self._consumer_close_quietly()
            raise

    def _consumer_close_quietly(self) -> None:
        consumer = getattr(self, "_consumer", None)
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close(autocommit=False)

    def _check_gaps(self, positions: dict[int, int]) -> None:
        """Raise LogGap when a position lies outside what the log holds for its partition."""
        if not positions:
            return
        partitions = [TopicPartition(self._topic, p) for p in positions]
        ends = self._consumer.end_offsets(partitions)
        starts = self._consumer.beginning_offsets(partitions)
        gaps = []
        for tp in partitions:
            position, end, start = positions[tp.partition], ends.get(tp), starts.get(tp)
            if end is not None and position > end:
                gaps.append(f"partition {tp.partition}: stored position {position} is past the end {end}")
            elif start is not None and position < start:
                gaps.append(f"partition {tp.partition}: stored position {position} is before the start {start}")
        if gaps:
            for gap in gaps:
                log.error("event log gap in topic %s at %s, %s", self._topic, self._bootstrap, gap)
            raise LogGap(
                f"Kafka topic {self._topic} lost records: {'; '.join(gaps)} "
                "(not skipped: restore the log, or replay the read models; see Managed Kafka in docs/deployment.md)"
            )

    def _partitions(self, timeout_s: float) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while True:
            partitions = self._consumer.partitions_for_topic(self._topic)
            if partitions:
                return sorted(partitions)
            if time.monotonic() > deadline:
                raise LogUnavailable(f"Kafka knows no partitions of {self._topic}")
            time.sleep(0.1)

    def poll(self, max_records: int, timeout_ms: int) -> list[Message]:
        try:
            batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        except OffsetOutOfRangeError as exc:
            # The log lost records under a running consumer: say where, rather than skip or re-read.
            out = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
            positions = {tp.partition: offset for tp, offset in out.items() if tp.topic == self._topic}
            try:
                self._check_gaps(positions)
            except KafkaError as inner:
                raise LogUnavailable(f"Kafka poll failed: {exc}") from inner
            raise LogGap(f"Kafka topic {self._topic}: position out of range: {exc}") from exc
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka poll failed: {exc}") from exc
        return [
            Message(tp.topic, tp.partition, m.offset, (m.key or b"").decode(), m.value)
            for tp, messages in batches.items()
            for m in messages
        ]

    def commit(self, positions: dict[int, int]) -> None:
        offsets = {TopicPartition(self._topic, p): OffsetAndMetadata(pos, "", -1) for p, pos in positions.items()}
        try:
            self._consumer.commit(offsets)
        except KafkaError as exc:
            # The read-model database holds the authoritative positions; this copy is for tooling.
            log.warning("could not commit positions to Kafka (kept in the database): %s", exc)

    def close(self) -> None:
        self._consumer.close(autocommit=False)
