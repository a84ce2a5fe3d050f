"""Exactly-once effects under faults: a processor SIGKILLed at many points of a run and restarted each
time, a PostgreSQL outage and a broker restart in the middle of a run all end with read models identical
to an uninterrupted run (positions are stored in the same transaction as the rows they produced).

The workload is the demo year (~2,200 events) plus what a real log also holds: poison messages (dead
letters), registrations arriving after the facts that reference them (parked, then accepted) and a
producer's retry (the same event ids again).
"""

from __future__ import annotations

import math
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from impact.db import make_engine
from impact.demo import demo_events
from impact.eventlog import Record, open_event_log
from impact.eventlog.recording import record
from impact.settings import LogBackend, Settings
from processors.quality import QualityGate
from tests.factories import Broker, free_port, process_all
from tests.faults.harness import PHASES, TcpProxy, Trap, Zygote
from tests.faults.runs import Running, differences, environment, on, past, progress, snapshot
from tests.faults.services import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]
BATCH = 50  # small batches: many transactions, so kills land in many different ones
POISON_EVERY = 250  # a message no schema can read, every so many events: dead letters all along the run
LATE_REGISTRATIONS = 6  # registrations appended last: the facts about these people wait (parked) until then
RETRIED = 40  # events a producer sends twice


@dataclass(frozen=True)
class Workload:
    records: int  # in the topic, all partitions
    poison: int  # of them unreadable: each must end as one dead letter


def workload_settings(settings: Settings) -> Settings:
    """Facts may wait for their references (the late registrations): they are parked, not dead-lettered."""
    return settings.model_copy(update={"reference_wait_seconds": 600})


def write_workload(settings: Settings) -> Workload:
    """Append the workload to the settings' log."""
    events = demo_events(today=datetime.now(UTC).date())
    # People who only attend (whose facts create nothing others refer to): their facts park, nothing cascades.
    contributors = {
        pid for event in events if event.type == "contribution.made" for pid in event.payload.participant_ids
    }  # type: ignore[attr-defined]
    late = [
        event
        for event in events
        if event.type == "participant.registered" and event.payload.participant_id not in contributors  # type: ignore[attr-defined]
    ][:LATE_REGISTRATIONS]
    held_back = {event.event_id for event in late}
    early = [event for event in events if event.event_id not in held_back]
    with open_event_log(settings) as event_log:
        for start in range(0, len(early), POISON_EVERY):
            record(event_log, settings.topic, early[start : start + POISON_EVERY], recorded_by="test")
            poison = Record(f"poison-{start}", b'{"not": "an event %d"}' % start)  # keys spread over partitions
            event_log.append(settings.topic, [poison])
        record(event_log, settings.topic, late, recorded_by="test")
        record(event_log, settings.topic, early[:RETRIED], recorded_by="test")
        total = sum(event_log.end_positions(settings.topic).values())
    assert total == len(events) + RETRIED + math.ceil(len(early) / POISON_EVERY)
    return Workload(total, math.ceil(len(early) / POISON_EVERY))


def reference_run(settings: Settings, engine: Engine, gate: QualityGate, workload: Workload) -> dict[str, list[Any]]:
    """An uninterrupted run, in large batches (the outcome must not depend on where batches end)."""
    reference = settings.model_copy(update={"consumer_group": settings.consumer_group + "-reference"})
    process_all(reference, engine, gate, batch_size=500)
    expected = snapshot(engine)
    assert progress(engine) == workload.records
    assert len(expected["deadletter"]) == workload.poison
    assert not expected["parkedevent"], "every late registration arrived: nothing should still wait"
    return expected


# --- SIGKILL at many points ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    how: str  # a phase of a batch (the child killed itself there), or "timed" (killed from outside)
    stored: int  # the stored position the restart resumed from


@pytest.mark.parametrize(
    "kinds", [("embedded", "sqlite"), ("kafka", "postgres")], ids=["embedded+sqlite", "kafka+postgres"]
)
def test_sigkill_at_many_points_then_restart_matches_an_uninterrupted_run(
    kinds: tuple[str, str],
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    gate: QualityGate,
    tmp_path: Path,
) -> None:
    log_kind, db_kind = kinds
    base = workload_settings(log_settings(log_kind))
    workload = write_workload(base)
    total = workload.records
    expected = reference_run(base, engine_factory(db_kind), gate, workload)

    crashed = engine_factory(db_kind)
    settings = on(base, crashed, batch_size=BATCH)
    chooser = random.Random(f"crash-{log_kind}")
    # Every phase of a batch, and kills from outside at random moments, interleaved; each run is aimed
    # at the next share of the log, so the kills spread over the whole run.
    plan: list[str] = []
    for phase in PHASES:
        plan += [phase, "timed"] if len(plan) % 3 == 2 else [phase]
    kills: list[Kill] = []
    with Zygote(tmp_path / "processors.log") as zygote:
        for number, how in enumerate(plan, start=1):
            start = progress(crashed)
            aim = max(start + BATCH, int(total * 0.9 * number / len(plan)))
            batches = max(2, round((aim - start) / BATCH))
            if how == "timed":
                zygote.start(settings)
                reached = wait_until(past(crashed, start + (batches - 1) * BATCH), 120)
                assert reached, zygote.log_tail()
                time.sleep(chooser.uniform(0, 0.4))  # somewhere inside a later batch
                status = zygote.kill()
            else:
                # A dead letter is due once every POISON_EVERY events; the other phases come with every batch.
                zygote.start(settings, Trap(how, 1 if how == "dead-letter" else batches))
                status = zygote.wait(120)
            assert status == -signal.SIGKILL, f"run {number} ({how}) ended with {status}:\n{zygote.log_tail()}"
            kills.append(Kill(how, progress(crashed)))

    stored = [kill.stored for kill in kills]
    assert all(0 < position < total for position in stored), kills
    assert len(set(stored)) >= 10, kills
    assert {kill.how for kill in kills} == {*PHASES, "timed"}
    print(f"\n{log_kind}+{db_kind}: {len(kills)} kills, stored positions {stored} of {total}")

    command = [sys.executable, "-m", "impact.cli", "process", "--until-caught-up"]
    finished = subprocess.run(command, env=environment(settings), capture_output=True, timeout=240, check=False)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert progress(crashed) == total
    actual = snapshot(crashed)
    assert actual == expected, differences(actual, expected)


# --- Outages: the database, the broker -------------------------------------------------------------------


@pytest.fixture
def running() -> Iterator[list[Running]]:
    runs: list[Running] = []
    yield runs
    for run in runs:
        run.stop.set()
        run.thread.join(10)
        run.event_log.close()


def test_a_postgres_outage_mid_run_is_survived_with_nothing_lost_or_doubled(
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    gate: QualityGate,
    running: list[Running],
) -> None:
    base = workload_settings(log_settings("embedded"))
    workload = write_workload(base)
    total = workload.records
    expected = reference_run(base, engine_factory("postgres"), gate, workload)

    direct = engine_factory("postgres")  # the test's own view, not through the proxy
    url = direct.url
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        try:
            run = Running(on(base, through, batch_size=BATCH), through, gate)
            running.append(run)
            for share, outage_s in ((0.25, 2.5), (0.6, 1.0)):
                assert wait_until(past(direct, int(share * total)), 120), run.error
                proxy.cut()
                time.sleep(0.3)  # a COMMIT already on its way may land; after that, nothing can
                frozen = progress(direct)
                run.watch(outage_s)
                assert progress(direct) == frozen, "the processor wrote while the database was unreachable"
                assert run.errors_seen, "the outage was not felt: Health.last_error was never set"
                proxy.restore()
                assert wait_until(past(direct, frozen + 1), 60), "no progress after the database came back"
                run.errors_seen.clear()
            run.finish(180)
        finally:
            through.dispose()
        assert proxy.connections > 2  # the processor reconnected through the proxy

    assert run.processor.health.last_error is None, "the error was not cleared once the database was back"
    assert progress(direct) == total
    actual = snapshot(direct)
    assert actual == expected, differences(actual, expected)


def test_a_broker_restart_mid_run_is_survived_with_nothing_lost_or_doubled(
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    gate: QualityGate,
    running: list[Running],
    tmp_path: Path,
) -> None:
    broker = Broker(tmp_path / "own-broker", free_port())  # our own: the session's broker is not restarted
    broker.start()
    try:
        base = workload_settings(log_settings("embedded")).model_copy(
            update={"event_log": LogBackend.kafka, "kafka_bootstrap": broker.bootstrap}
        )
        workload = write_workload(base)
        total = workload.records
        reference = engine_factory("postgres")
        reference_run(base, reference, gate, workload)

        target = engine_factory("postgres")
        settings = on(base, target, batch_size=BATCH)
        run = Running(settings, target, gate, until_caught_up=False)
        running.append(run)
        assert wait_until(past(target, int(0.3 * total)), 120), run.error
        broker.stop()
        stopped_at = progress(target)
        run.watch(4.0)  # the processor waits for the broker (backing off when a call fails) and keeps running
        assert progress(target) < total, "the whole log was processed without the broker"
        assert progress(target) - stopped_at <= BATCH, "more than the batch in hand was processed without the broker"
        broker.start()  # same port, same data directory
        restarted = time.monotonic()

        with open_event_log(base) as event_log:
            assert sum(event_log.end_positions(base.topic).values()) == total, "the broker lost records"
            # A producer retrying after the restart: the same events again (recorded, consumed, no effect).
            events = demo_events(today=datetime.now(UTC).date())[:RETRIED]
            record(event_log, base.topic, events, recorded_by="test")
            total = sum(event_log.end_positions(base.topic).values())
        process_all(base.model_copy(update={"consumer_group": base.consumer_group + "-reference"}), reference, gate)
        expected = snapshot(reference)  # the reference, caught up with the retried events too
        assert wait_until(past(target, total), 180), f"stuck at {progress(target)} of {total}: {run.error!r}"
        recovered_s = time.monotonic() - restarted
        run.stop.set()
        run.finish(30)
        print(
            f"\nbroker restart: errors seen {sorted(run.errors_seen)}; caught up {recovered_s:.1f}s after the restart"
        )

        assert run.processor.health.last_error is None, "the error was not cleared once the broker was back"
        assert progress(target) == total  # ConsumerOffset: every record once, the retried ones included
        actual = snapshot(target)
        assert actual == expected, differences(actual, expected)
    finally:
        broker.stop()
