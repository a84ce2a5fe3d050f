"""The fault-injection suite (`make faults`, alone and serially): real services killed and stopped mid-run.

1. The processor SIGKILLed at twenty random moments of a 100,000-event run, restarted each time: the read
   models end identical to an uninterrupted run's, table by table.
2. The broker stopped for 30 s while API clients post steadily: ingest answers 503 with Retry-After, the
   clients send the same events again, and once the broker is back every accepted event is folded once.
3. PostgreSQL restarted (the real server) in the middle of processing: nothing lost or doubled.
4. The ingest service (gunicorn master and workers) SIGKILLed while clients post: every event answered
   202 is in the log.

Random choices come from one seed, printed; set FAULTS_SEED to repeat a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from impact.eventlog import Record, open_event_log
from impact.settings import Settings
from tests.faults import Zygote, as_records, demo_rounds, wait_until
from tests.test_crash_safety import differences, environment, on, past, progress, snapshot

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

SEED = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(1_000_000))
EVENTS = 100_000
KILLS = 20
BATCH = 1000  # a hundred transactions over the run: the kills land in many different ones
POISON_EVERY = 10_000  # a record no schema can read, every so many: dead letters all along the run
JITTER_S = 2.0  # after the stored position passes the kill's target: up to about a batch's work


def chooser(name: str) -> random.Random:
    print(f"\n{name}: FAULTS_SEED={SEED}")
    return random.Random(f"{SEED}/{name}")


@pytest.fixture(scope="module")
def many_stored() -> list[dict[str, Any]]:
    started = time.monotonic()
    documents = demo_rounds(EVENTS, stored=True)
    print(f"\n{len(documents):,} stored events generated in {time.monotonic() - started:.1f} s")
    return documents


def append_with_poison(settings: Settings, documents: list[dict[str, Any]]) -> int:
    """Append the documents (a poison record every POISON_EVERY); the log's record count."""
    records = as_records(documents)
    with open_event_log(settings) as event_log:
        for start in range(0, len(records), POISON_EVERY):
            event_log.append(settings.topic, records[start : start + POISON_EVERY])
            event_log.append(settings.topic, [Record(f"poison-{start}", b'{"not": "an event %d"}' % start)])
        return sum(event_log.end_positions(settings.topic).values())


# --- 1. The processor SIGKILLed at random moments ----------------------------------------------------------


def test_processor_sigkilled_at_twenty_random_moments_of_100k_events_matches_an_uninterrupted_run(
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    many_stored: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    rng = chooser("sigkill")
    base = log_settings("embedded").model_copy(update={"reference_wait_seconds": 600, "batch_size": BATCH})
    started = time.monotonic()
    total = append_with_poison(base, many_stored)
    print(f"appended {total:,} records in {time.monotonic() - started:.1f} s")

    # The uninterrupted reference runs alongside (the machine's other core), as `impact process` does.
    reference = engine_factory("sqlite")
    reference_settings = on(base, reference, consumer_group=base.consumer_group + "-reference")
    reference_log = (tmp_path / "reference.log").open("wb")
    uninterrupted = subprocess.Popen(
        [sys.executable, "-m", "impact.cli", "process", "--until-caught-up"],
        env=environment(reference_settings),
        stdout=reference_log,
        stderr=reference_log,
    )
    try:
        crashed = engine_factory("sqlite")
        settings = on(base, crashed)
        moments = sorted(int(rng.uniform(0.02, 0.9) * total) for _ in range(KILLS))
        kills: list[int] = []
        started = time.monotonic()
        with Zygote(tmp_path / "processors.log") as zygote:
            for target in moments:
                zygote.start(settings)
                assert wait_until(past(crashed, target), 300), f"stuck before {target}:\n{zygote.log_tail()}"
                time.sleep(rng.uniform(0, JITTER_S))
                status = zygote.kill()
                assert status == -signal.SIGKILL, f"the run ended by itself ({status}):\n{zygote.log_tail()}"
                kills.append(progress(crashed))
            killed_s = time.monotonic() - started
            zygote.start(settings)
            assert zygote.wait(300) == 0, zygote.log_tail()
        finished_s = time.monotonic() - started
        assert uninterrupted.wait(300) == 0, (tmp_path / "reference.log").read_text()[-3000:]
    finally:
        if uninterrupted.poll() is None:
            uninterrupted.kill()
            uninterrupted.wait(30)
        reference_log.close()

    print(
        f"{len(kills)} SIGKILLs in {killed_s:.0f} s, stored positions at each kill: {kills} of {total:,};"
        f" caught up after the last in {finished_s - killed_s:.0f} s ({finished_s:.0f} s in all)"
    )
    assert all(0 < position < total for position in kills), kills
    assert len(set(kills)) >= KILLS // 2, f"the kills bunched up: {kills}"
    assert progress(crashed) == progress(reference) == total
    expected = snapshot(reference)
    assert len(expected["deadletter"]) == total - EVENTS, "each poison record is one dead letter"
    assert not expected["parkedevent"], "nothing should still wait for a reference"
    actual = snapshot(crashed)
    assert actual == expected, differences(actual, expected)
