"""One contract, two adapters: the embedded SQLite log and Kafka (a real broker) behave alike."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from impact.eventlog import EventLog, LogUnavailable, Message, Record, open_event_log
from impact.eventlog.embedded import EmbeddedLog
from impact.eventlog.kafka import KafkaLog
from impact.settings import Settings

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["embedded", "kafka"])
def settings(request: pytest.FixtureRequest, log_settings: Callable[[str], Settings]) -> Settings:
    return log_settings(request.param)


def consume_all(
    log: EventLog, topic: str, group: str, expected: int, *, commit: bool = False, **kwargs: object
) -> list[Message]:
    """Poll until `expected` messages arrived (or 30 s passed), then once more; optionally commit."""
    got: list[Message] = []
    deadline = time.monotonic() + 30
    with log.consumer(topic, group, **kwargs) as consumer:  # type: ignore[arg-type]
        while len(got) < expected and time.monotonic() < deadline:
            got.extend(consumer.poll(500, 200))
        got.extend(consumer.poll(500, 200))  # nothing more than expected arrives
        if commit:
            consumer.commit(next_positions(got))
    return got


def next_positions(messages: list[Message]) -> dict[int, int]:
    positions: dict[int, int] = {}
    for message in messages:
        positions[message.partition] = max(positions.get(message.partition, 0), message.offset + 1)
    return positions


def records(n: int, keys: int = 5, tag: str = "v") -> list[Record]:
    return [Record(f"org-{i % keys}", f"{tag}{i}".encode()) for i in range(n)]


def test_append_then_consume_everything_once(event_log: EventLog, settings: Settings) -> None:
    event_log.append(settings.topic, records(60))
    got = consume_all(event_log, settings.topic, "g1", 60)
    assert sorted(m.value for m in got) == sorted(f"v{i}".encode() for i in range(60))
    assert sum(event_log.end_positions(settings.topic).values()) == 60


def test_each_key_keeps_its_order(event_log: EventLog, settings: Settings) -> None:
    for batch in range(4):  # several appends, interleaving keys
        event_log.append(settings.topic, records(25, keys=7, tag=f"b{batch}-"))
    got = consume_all(event_log, settings.topic, "g1", 100)
    by_key: dict[str, list[bytes]] = defaultdict(list)
    for message in got:
        by_key[message.key].append(message.value)
    for key, values in by_key.items():
        expected = [f"b{b}-{i}".encode() for b in range(4) for i in range(25) if f"org-{i % 7}" == key]
        assert values == expected, key
    # offsets are dense and increasing within each partition
    by_partition: dict[int, list[int]] = defaultdict(list)
    for message in got:
        by_partition[message.partition].append(message.offset)
    for offsets in by_partition.values():
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))


def test_group_resumes_from_committed_positions(event_log: EventLog, settings: Settings) -> None:
    event_log.append(settings.topic, records(30))
    consume_all(event_log, settings.topic, "g1", 30, commit=True)
    event_log.append(settings.topic, records(10, tag="late"))
    resumed = consume_all(event_log, settings.topic, "g1", 10)
    assert sorted(m.value for m in resumed) == sorted(f"late{i}".encode() for i in range(10))


def test_start_positions_override_the_group(event_log: EventLog, settings: Settings) -> None:
    """The processors keep positions in their own database and seek to them on assignment."""
    event_log.append(settings.topic, records(40))
    end = event_log.end_positions(settings.topic)
    asked: list[list[int]] = []

    def stored(partitions: list[int]) -> dict[int, int]:
        asked.append(partitions)
        return {p: end[p] for p in partitions}  # "everything already processed"

    event_log.append(settings.topic, records(5, tag="new"))
    got = consume_all(event_log, settings.topic, "g-stored", 5, start_positions=stored)
    assert asked, "the consumer asked for stored positions"
    assert sorted(m.value for m in got) == sorted(f"new{i}".encode() for i in range(5))


def test_records_survive_a_restart(settings: Settings) -> None:
    log = open_event_log(settings)
    log.append(settings.topic, records(20))
    log.close()  # a new process, in effect
    reopened = open_event_log(settings)
    try:
        got = consume_all(reopened, settings.topic, "after-restart", 20)
        assert len(got) == 20
    finally:
        reopened.close()


def _append_from_process(settings_json: str, topic: str, tag: str, count: int) -> None:
    log = open_event_log(Settings.model_validate_json(settings_json))
    for i in range(count):
        log.append(topic, [Record(f"org-{i % 3}", f"{tag}-{i}".encode())])
    log.close()


def test_several_processes_append_safely(event_log: EventLog, settings: Settings) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_from_process, args=(settings.model_dump_json(), settings.topic, tag, 40))
        for tag in ("a", "b", "c")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    got = consume_all(event_log, settings.topic, "g1", 120)
    assert len(got) == 120
    assert len({(m.partition, m.offset) for m in got}) == 120
    for tag in "abc":  # each producer's records of one key arrive in the order it appended them
        for key in ("org-0", "org-1", "org-2"):
            mine = [m.value for m in got if m.key == key and m.value.startswith(f"{tag}-".encode())]
            assert mine == sorted(mine, key=lambda v: int(v.split(b"-")[1]))


def test_threads_appending_at_once_each_land_whole_and_in_order(event_log: EventLog, settings: Settings) -> None:
    """Many threads of one process appending together (a web worker's threads): every record once, each
    thread's in its order; on the embedded log each call stays whole."""
    threads, calls, size = 8, 25, 4
    start = threading.Barrier(threads)
    failures: list[BaseException] = []

    def appender(tag: str) -> None:
        try:
            start.wait(10)
            for call in range(calls):
                event_log.append(settings.topic, [Record("org-0", f"{tag}-{call}-{i}".encode()) for i in range(size)])
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=appender, args=(f"t{n}",)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert failures == []
    got = consume_all(event_log, settings.topic, "g1", threads * calls * size)
    values = [m.value.decode() for m in sorted(got, key=lambda m: (m.partition, m.offset))]
    assert sorted(values) == sorted(f"t{n}-{c}-{i}" for n in range(threads) for c in range(calls) for i in range(size))
    for n in range(threads):
        mine = [v for v in values if v.startswith(f"t{n}-")]
        assert mine == [f"t{n}-{c}-{i}" for c in range(calls) for i in range(size)]  # this thread's order
    if settings.event_log == "kafka":
        return  # Kafka interleaves one producer's records with another's; the embedded log keeps a call whole
    for at in range(0, len(values), size):  # a call's records are never split by another call's
        assert len({v.rsplit("-", 1)[0] for v in values[at : at + size]}) == 1, values[at : at + size]


def test_unreachable_log_raises_log_unavailable(settings: Settings, tmp_path: object) -> None:
    if settings.event_log == "kafka":
        from tests.factories import free_port

        broken: EventLog = KafkaLog(f"127.0.0.1:{free_port()}", topics=("t",), timeout_s=2)
    else:
        blocker = settings.data_dir / "not-a-dir"
        blocker.parent.mkdir(parents=True, exist_ok=True)
        blocker.write_text("a file where the log's folder should be")
        broken = EmbeddedLog(blocker / "events.db")
    with pytest.raises(LogUnavailable):
        broken.append("t", records(1))
    with pytest.raises(LogUnavailable):
        broken.ping()
    broken.close()


def test_kafka_topics_have_three_partitions_and_keys_stick(
    log_settings: Callable[[str], Settings],
) -> None:
    settings = log_settings("kafka")
    log = open_event_log(settings)
    assert isinstance(log, KafkaLog)
    try:
        log.append(settings.topic, records(90, keys=9))
        assert len(log.end_positions(settings.topic)) >= 3
        assert len(log.end_positions(settings.dead_letter_topic)) >= 3
        got = consume_all(log, settings.topic, "g1", 90)
        partitions_of_key: dict[str, set[int]] = defaultdict(set)
        for message in got:
            partitions_of_key[message.key].add(message.partition)
        assert all(len(parts) == 1 for parts in partitions_of_key.values())
        assert len({m.partition for m in got}) > 1, "keys spread over partitions"
    finally:
        log.close()


def test_kafka_producer_waits_for_every_replica_and_retries_in_order(log_settings: Callable[[str], Settings]) -> None:
    settings = log_settings("kafka")
    log = open_event_log(settings)
    assert isinstance(log, KafkaLog)
    try:
        config = log._get_producer().config
        assert config["acks"] in ("all", -1)
        assert config["retries"] >= 3
        assert config["max_in_flight_requests_per_connection"] == 1  # a retry never overtakes its successor
    finally:
        log.close()
