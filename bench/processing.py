"""Processor throughput, as ratios against a baseline of the same run: how close to the raw consume rate?

Baseline: a consumer of the same event log (its own group) reading every message and decoding it
(`StoredEvent.from_bytes` + `typed_payload`), nothing else. Measured: `Processor.run` over the same
events, until caught up, on a fresh read-model database (decode, dedupe, Great Expectations, fold,
one write transaction per batch, log commit). Stacks: the embedded log + SQLite, and Kafka (a noida-db
broker this script starts and stops) + PostgreSQL (a fresh `bench_*` schema per run, dropped at the end).
Aim: the processor at half the raw consume rate or better. One extra profiled pass per stack says
where the processor's time goes.

Events: the demo generator's year of three charities (registrations, activities, attendances,
contributions, changes with links, status changes, consent withdrawals), repeated one year earlier per
round with fresh identifiers, plus feedback to contributors of implemented changes; deterministic, all
in the past.

Run: `.venv/bin/python bench/processing.py [--events N] [--batch-size B ...] [--stack embedded|kafka|both]`
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text

from impact.db import create_tables, make_engine
from impact.demo import demo_events, renamed
from impact.eventlog import EventLog, open_event_log
from impact.eventlog.recording import record
from impact.settings import LogBackend, Settings
from processors.consumer import Processor
from processors.frame import Register, quality_frame
from processors.quality import QualityGate
from processors.store import table
from schemas.events import EVENT_ADAPTER, Envelope, StoredEvent
from schemas.readmodels import DeadLetter, ProcessedEvent

LAST_DAY = date(2026, 11, 22)  # the generated facts end the day before (or before today, if earlier)
NAMESPACE = uuid.UUID("6f1d3b0a-2c4e-4f7a-9d85-0b3e5a7c9e21")
ROUND = timedelta(weeks=53)  # each earlier round of the demo year: whole weeks, so weekdays stay weekdays
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TIMEOUT_S = 900.0  # a run that takes longer than this is stuck, not slow


# --- The events ---------------------------------------------------------------------------------


def _earlier_round(event: Envelope, n: int) -> dict[str, Any]:
    """One demo event moved `n` rounds back in time, with identifiers of its own (suffix `-r<n>`)."""
    document = event.model_dump(mode="json")
    suffix, shift = f"-r{n}", ROUND * n
    payload = document["payload"] = renamed(document["payload"], suffix)
    for name in ("date", "decided_on"):
        if payload.get(name):
            payload[name] = (date.fromisoformat(payload[name]) - shift).isoformat()
    document["occurred_at"] = (event.occurred_at - shift).isoformat()
    document["event_id"] = str(uuid.uuid5(NAMESPACE, f"{n}/{event.event_id}"))
    return document


def _feedback(documents: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """A `feedback.sent` to every contributor of each implemented change, a week after it was implemented."""
    said_by: dict[tuple[str, str], list[str]] = {}
    linked: dict[tuple[str, str], list[str]] = {}
    out = []
    for document in documents:
        org, payload = document["org_id"], document["payload"]
        if document["type"] == "contribution.made":
            said_by[(org, payload["contribution_id"])] = payload["participant_ids"]
        elif document["type"] == "change.recorded":
            linked[(org, payload["change_id"])] = [link["contribution_id"] for link in payload["links"]]
        elif document["type"] == "change.status_changed" and payload["status"] == "implemented":
            when = datetime.fromisoformat(document["occurred_at"]) + timedelta(days=7)
            if when >= now:
                continue
            people = sorted({p for cid in linked[(org, payload["change_id"])] for p in said_by[(org, cid)]})
            for person in people:
                name = f"{document['event_id']}/feedback/{person}"
                out.append(
                    {
                        "event_id": str(uuid.uuid5(NAMESPACE, name)),
                        "type": "feedback.sent",
                        "org_id": org,
                        "occurred_at": when.isoformat(),
                        "payload": {"participant_id": person, "change_ids": [payload["change_id"]], "channel": "email"},
                    }
                )
    return out


def event_mix(total: int) -> list[Envelope]:
    """`total` validated events in log order, the same on every run."""
    now = datetime.now(UTC)
    today = min(LAST_DAY, now.date())
    documents: list[dict[str, Any]] = []
    n = 0
    while len(documents) < total:
        rounds = [_earlier_round(event, n) for event in demo_events(today=today, seed=7 + n)]
        documents += rounds + _feedback(rounds, now)
        n += 1
    documents.sort(key=lambda d: datetime.fromisoformat(d["occurred_at"]))  # stable: ties keep causal order
    return [EVENT_ADAPTER.validate_python(document) for document in documents[:total]]


def append_all(event_log: EventLog, topic: str, events: list[Envelope]) -> None:
    for start in range(0, len(events), 1000):
        record(event_log, topic, events[start : start + 1000], recorded_by="bench")


# --- Services -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


@contextmanager
def kafka_broker(data_dir: Path) -> Iterator[str]:
    """A noida-db Kafka-protocol broker of our own on a free port (as tests/factories.py Broker); always stopped."""
    found = shutil.which("noida-db") or str(Path(sys.executable).with_name("noida-db"))
    if not Path(found).exists():
        raise SystemExit("noida-db is not installed (pip install -e '.[dev]')")
    port = free_port()
    up = [found, "up", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--only", "kafka", "--kafka-port", str(port)]
    try:
        started = subprocess.run(up, capture_output=True, text=True, timeout=60, check=False)
        if started.returncode != 0 or not _wait_for_port(port, 30):
            raise SystemExit(
                f"the Kafka-protocol broker did not start: {started.stdout[-500:]} {started.stderr[-500:]}"
            )
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([found, "down", "--data-dir", str(data_dir)], capture_output=True, timeout=60, check=False)


class Postgres:
    """Fresh `bench_*` schemas on one PostgreSQL database, each a read-model database; all dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url, self.schemas = url, list[str]()
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")

    def fresh_url(self) -> str:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.schemas.append(schema)
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}options=-csearch_path%3D{schema}"

    def close(self) -> None:
        with self.admin.connect() as conn:
            for schema in self.schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self.admin.dispose()


# --- Measurements -------------------------------------------------------------------------------


@dataclass
class Run:
    stack: str
    batch_size: int
    raw: float  # events/s, consume + decode
    processed: float  # events/s, the processor until caught up
    accepted: int
    rejected: int


def raw_rate(event_log: EventLog, topic: str, total: int, batch_size: int, poll_timeout_ms: int) -> float:
    """Consume and decode every event (own group, from the beginning), nothing else: events/s."""
    seen, deadline = 0, time.monotonic() + TIMEOUT_S
    started = time.perf_counter()
    with event_log.consumer(topic, f"bench-raw-{uuid.uuid4().hex[:8]}") as consumer:
        while seen < total:
            for message in consumer.poll(batch_size, poll_timeout_ms):
                StoredEvent.from_bytes(message.value).typed_payload()
                seen += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"the raw consumer read only {seen} of {total} events")
    return total / (time.perf_counter() - started)


def process(
    settings: Settings,
    event_log: EventLog,
    url: str,
    gate: QualityGate,
    batch_size: int,
    poll_timeout_ms: int,
    profile: cProfile.Profile | None = None,
) -> tuple[float, int, int, Counter[str]]:
    """Run the processor over the whole log on a fresh read-model database: (seconds, accepted, rejected, reasons)."""
    engine = make_engine(url)
    try:
        create_tables(engine)
        group = f"bench-{uuid.uuid4().hex[:8]}"
        mine = settings.model_copy(update={"consumer_group": group})
        processor = Processor.for_settings(mine, engine=engine, event_log=event_log, gate=gate)
        stop = threading.Event()
        timer = threading.Timer(TIMEOUT_S, stop.set)
        timer.start()
        started = time.perf_counter()
        try:
            if profile is not None:
                profile.enable()
            processor.run(stop, batch_size=batch_size, poll_timeout_ms=poll_timeout_ms, until_caught_up=True)
        finally:
            if profile is not None:
                profile.disable()
            elapsed = time.perf_counter() - started
            timer.cancel()
        if stop.is_set():
            raise RuntimeError(f"the processor did not catch up within {TIMEOUT_S:.0f} s")
        return (elapsed, *_outcome(engine))
    finally:
        engine.dispose()


def _outcome(engine: Engine) -> tuple[int, int, Counter[str]]:
    processed, dead = table(ProcessedEvent), table(DeadLetter)
    with engine.connect() as conn:
        accepted = int(conn.execute(select(func.count()).select_from(processed)).scalar_one())
        reasons = Counter(
            {
                str(r): int(n)
                for r, n in conn.execute(select(dead.c.expectation, func.count()).group_by(dead.c.expectation))
            }
        )
    return accepted, sum(reasons.values()), reasons


def warm_gate() -> QualityGate:
    """Great Expectations' one-off set-up (seconds), and a first validation, before any timing."""
    gate = QualityGate()
    when = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    warm = {
        "type": "participant.registered",
        "org_id": "warm-up",
        "occurred_at": when,
        "payload": {"participant_id": "p1", "display_name": "Warm Up", "role": "carer"},
    }
    stored = StoredEvent.accept(EVENT_ADAPTER.validate_python(warm), recorded_by="bench")
    gate.check(quality_frame([(stored, stored.typed_payload())], Register()))
    return gate


# --- The profile ----------------------------------------------------------------------------------

# (label, where the function is defined, its name); indented labels are part of the line above them.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("log poll (read the log)", "impact/eventlog/", "poll"),
    ("decode: StoredEvent.from_bytes", "schemas/events.py", "from_bytes"),
    ("decode: typed_payload (pydantic)", "schemas/events.py", "typed_payload"),
    ("dedupe: ReadModelStore.settled", "processors/store.py", "settled"),
    ("parked events: ReadModelStore.parked", "processors/store.py", "parked"),
    ("sealed keys: ReadModelStore.keys", "processors/store.py", "keys"),
    ("references: ReadModelStore.known", "processors/store.py", "known"),
    ("quality frame: frame.quality_frame", "processors/frame.py", "quality_frame"),
    ("GX validation: QualityGate.check", "processors/quality.py", "check"),
    ("triage: triage.judge", "processors/triage.py", "judge"),
    ("fold: projection.project", "processors/projection.py", "project"),
    ("write: ReadModelStore.write_batch", "processors/store.py", "write_batch"),
    ("  positions: _advance", "processors/store.py", "_advance"),
    ("  rows: _upsert", "processors/store.py", "_upsert"),
    ("  processed ids, dead letters: _ignore_existing", "processors/store.py", "_ignore_existing"),
    ("  parking, erasure, corrections: _apply", "processors/store.py", "_apply"),
    ("log commit (positions to the log)", "impact/eventlog/", "commit"),
    ("idle: retry parked events", "processors/consumer.py", "_idle"),
    ("caught_up (end positions)", "processors/consumer.py", "caught_up"),
    ("open_consumer", "processors/consumer.py", "open_consumer"),
)
StatKey = tuple[str, int, str]
StatValue = tuple[int, int, float, float, Any]


def _stats(profile: cProfile.Profile) -> dict[StatKey, StatValue]:
    return pstats.Stats(profile).stats  # type: ignore[attr-defined]


def _where(key: StatKey) -> str:
    path, line, name = key
    for marker in ("site-packages/", f"{Path(__file__).resolve().parents[1]}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{line}({name})"


def _phase(stats: dict[StatKey, StatValue], where: str, name: str) -> tuple[float, int]:
    """Cumulative seconds and calls of the outermost matching function (a wrapper and its inner namesake count once)."""
    found = [(v[3], v[1]) for (path, _line, fn), v in stats.items() if fn == name and where in path.replace("\\", "/")]
    return max(found, default=(0.0, 0))


def print_profile(profile: cProfile.Profile, elapsed: float, events: int, batch_size: int) -> None:
    stats = _stats(profile)
    print(f"\n  where the processor's time goes (profiled pass, batch {batch_size}: {events / elapsed:,.0f} ev/s under")
    print(f"  cProfile, which inflates Python-heavy steps; {elapsed:.2f} s wall)")
    print(f"  {'step':50} {'seconds':>8} {'share':>6} {'calls':>7} {'µs/event':>9}")
    accounted = 0.0
    for label, where, name in PHASES:
        seconds, calls = _phase(stats, where, name)
        if not calls:  # a step this version of the processor does not have
            continue
        if not label.startswith(" "):
            accounted += seconds
        print(f"  {label:50} {seconds:8.2f} {seconds / elapsed:6.1%} {calls:7d} {seconds / events * 1e6:9.1f}")
    rest = elapsed - accounted
    print(f"  {'other (loop, dead letters, logging, profiler)':50} {rest:8.2f} {rest / elapsed:6.1%}")

    def top(title: str, keep: Callable[[StatKey], bool], column: int) -> None:
        print(f"\n  top 15 by {title}")
        print(f"  {'calls':>8} {'own s':>7} {'cum s':>7}  function")
        chosen = sorted((item for item in stats.items() if keep(item[0])), key=lambda kv: -kv[1][column])[:15]
        for key, (_cc, calls, own, cumulative, _callers) in chosen:
            print(f"  {calls:8d} {own:7.2f} {cumulative:7.2f}  {_where(key)}")

    top(
        "cumulative time, processors.* and sqlalchemy",
        lambda key: "/processors/" in key[0] or "/sqlalchemy/" in key[0],
        3,
    )
    top("own time, all code (the hot leaves)", lambda key: True, 2)


# --- The stacks -----------------------------------------------------------------------------------


def bench_stack(
    stack: str,
    settings: Settings,
    database_url: Callable[[], str],
    events: list[Envelope],
    gate: QualityGate,
    args: argparse.Namespace,
) -> list[Run]:
    runs = []
    with open_event_log(settings) as event_log:
        started = time.perf_counter()
        append_all(event_log, settings.topic, events)
        print(f"\n{stack}: appended {len(events):,} events in {time.perf_counter() - started:.1f} s")
        for batch_size in args.batch_size:
            # The baseline brackets the processor run (before and after, averaged): the load of a shared
            # machine drifts, and a baseline taken at one moment only would tilt the ratio.
            before = raw_rate(event_log, settings.topic, len(events), batch_size, args.poll_timeout_ms)
            elapsed, accepted, rejected, reasons = process(
                settings, event_log, database_url(), gate, batch_size, args.poll_timeout_ms
            )
            after = raw_rate(event_log, settings.topic, len(events), batch_size, args.poll_timeout_ms)
            raw = (before + after) / 2
            run = Run(stack, batch_size, raw, len(events) / elapsed, accepted, rejected)
            runs.append(run)
            print(
                f"  batch {batch_size:5d}: raw consume + decode {raw:9,.0f} ev/s (before {before:,.0f}, after"
                f" {after:,.0f})   processor {run.processed:9,.0f} ev/s   ratio {run.processed / raw:.2f}"
                f"   (accepted {accepted:,}, dead-lettered {rejected:,}" + (f": {dict(reasons)})" if reasons else ")")
            )
        if args.profile:
            batch_size = args.batch_size[0]
            profile = cProfile.Profile()
            elapsed, *_ = process(settings, event_log, database_url(), gate, batch_size, args.poll_timeout_ms, profile)
            print_profile(profile, elapsed, len(events), batch_size)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="events in the log (default 20,000)")
    parser.add_argument(
        "--batch-size", type=int, nargs="+", default=[500, 2000], help="micro-batch sizes (default: 500 2000)"
    )
    parser.add_argument("--stack", choices=("embedded", "kafka", "both"), default="both")
    parser.add_argument("--poll-timeout-ms", type=int, default=100, help="consumer poll timeout (default 100)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help=f"for the kafka stack (default {POSTGRES_URL})")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="skip the profiled pass")
    args = parser.parse_args()

    started = time.perf_counter()
    events = event_mix(args.events)
    mix = Counter(str(getattr(event, "type", "?")) for event in events)
    print(f"{len(events):,} events generated in {time.perf_counter() - started:.1f} s: {dict(mix)}")
    started = time.perf_counter()
    gate = warm_gate()
    print(f"QualityGate built (not timed): {time.perf_counter() - started:.1f} s")
    print(
        f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (others' work skews both rates)"
    )

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-processing-") as folder:
        base = Path(folder)
        suffix = uuid.uuid4().hex[:10]
        common: dict[str, Any] = {
            "env": "test",
            "secret_key": "b" * 40,
            "topic": f"bench-events-{suffix}",
            "dead_letter_topic": f"bench-dead-{suffix}",
        }
        if args.stack in ("embedded", "both"):
            settings = Settings.model_validate({**common, "data_dir": base / "embedded"})

            def sqlite_url() -> str:
                return f"sqlite:///{base / f'readmodels-{uuid.uuid4().hex[:8]}.db'}"

            runs += bench_stack("embedded log + SQLite", settings, sqlite_url, events, gate, args)
        if args.stack in ("kafka", "both"):
            postgres = Postgres(args.postgres_url)
            try:
                with kafka_broker(base / "broker") as bootstrap:
                    settings = Settings.model_validate(
                        {
                            **common,
                            "data_dir": base / "kafka",
                            "event_log": LogBackend.kafka,
                            "kafka_bootstrap": bootstrap,
                        }
                    )
                    runs += bench_stack("Kafka + PostgreSQL", settings, postgres.fresh_url, events, gate, args)
            finally:
                postgres.close()

    print(f"\nsummary (aim: processor at half the raw consume rate or better; load average {os.getloadavg()[0]:.1f})")
    for run in runs:
        verdict = "meets the aim" if run.processed / run.raw >= 0.5 else "below the aim"
        print(
            f"  {run.stack:22} batch {run.batch_size:5d}: raw {run.raw:9,.0f} ev/s"
            f"  processor {run.processed:9,.0f} ev/s  ratio {run.processed / run.raw:.2f}  {verdict}"
        )
    summary = [{"stack": r.stack, "batch_size": r.batch_size, "raw": r.raw, "processed": r.processed} for r in runs]
    print(f"BENCH-RESULT processing {json.dumps(summary)}")  # for bench/all.py


if __name__ == "__main__":
    main()
