"""The Kafka event log (kafka-python): for deployments where one machine is not enough.

Producer: acks="all", retries with one request in flight (so retries keep order), records keyed by
org_id so each organisation's facts stay ordered within their partition. Topics are created with
`partitions` partitions. Consumers never auto-commit: the processors keep their positions in the
read-model database and seek to them when partitions are assigned.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.serializer import DefaultSerializer
from kafka.structs import OffsetAndMetadata

from impact.eventlog.base import EventLog, LogConsumer, LogUnavailable, Message, Record, StartPositions

log = logging.getLogger(__name__)


class KafkaLog(EventLog):
    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        partitions: int = 3,
        timeout_s: float = 10.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = tuple(topics)
        self.partitions = partitions
        self.timeout_s = timeout_s
        self._producer: KafkaProducer | None = None
        self._topics_ready = False
        self._lock = threading.Lock()

    def _client_options(self) -> dict[str, Any]:
        ms = int(self.timeout_s * 1000)
        return {
            "bootstrap_servers": self.bootstrap,
            "request_timeout_ms": ms,
            "bootstrap_timeout_ms": ms,
            # kafka-python's reconnect backoff grows to 30 s by default: a restarted broker would then sit
            # unused for up to half a minute. Retrying every 2 s at most keeps the reconnection prompt.
            "reconnect_backoff_max_ms": 2000,
        }

    def ensure_topics(self) -> None:
        """Create the topics (idempotent): `partitions` partitions each."""
        if self._topics_ready:
            return
        try:
            admin = KafkaAdminClient(**self._client_options())
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc
        try:
            existing = set(admin.list_topics())
            wanted = {
                topic: {"num_partitions": self.partitions, "replication_factor": 1}
                for topic in self.topics
                if topic not in existing
            }
            if wanted:
                with contextlib.suppress(TopicAlreadyExistsError):  # another process created it first
                    admin.create_topics(wanted, timeout_ms=int(self.timeout_s * 1000), wait_for_metadata=True)
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc
        finally:
            admin.close()
        self._topics_ready = True

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
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
            # Unconfirmed is not the same as lost: the producer may still deliver these records later,
            # which is why callers are told to retry with the same event ids (a repeat is a no-op).
            raise LogUnavailable(f"Kafka at {self.bootstrap} did not acknowledge the write: {exc}") from exc

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


class KafkaLogConsumer(LogConsumer):
    """Assigns itself every partition of the topic and seeks to the stored positions.

    Self-assignment rather than group subscription: a processor killed with SIGKILL would otherwise
    hold its partitions until the broker evicts it, and the positions that matter live in the
    read-model database anyway. The group id is kept for committing positions that tools can read.
    """

    def __init__(self, log: KafkaLog, topic: str, group: str, start_positions: StartPositions | None) -> None:
        self._topic = topic
        try:
            self._consumer = KafkaConsumer(
                **log._client_options(),
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
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
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka at {log.bootstrap}: {exc}") from exc

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
