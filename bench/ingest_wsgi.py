"""Ingest under its production server (gunicorn, as `impact ingest`), with concurrent clients, as ratios.

a. Single events: `POST /api/v1/events`, one event per request (bearer token, receipts, append), from
   `--clients` processes x `--threads` persistent HTTP/1.1 connections (http.client), beside `POST
   /bench/noop` of the same server (bench/wsgi_noop.py: the same app, gunicorn config and workers; 204,
   nothing else) driven by the same clients. Rounds alternate (noop, events, noop, events, ...) so a
   shared machine's drift hits both. Ratio = events/s / trivial requests/s. Aim: >= 0.5.
b. Batches: `--batch-size` events per request, `--batch-threads` connections, in events/s, beside the raw
   rate of the same producer: `impact.eventlog.recording.record` (no receipts, no sealing) of already-validated
   events of the same shape, from this process, into the same log (`open_event_log` of the same settings).
   Rounds alternate (producer, API, ...). Ratio = API events/s / producer events/s. Aim: >= 0.70.
   Also printed, to say where the difference goes: the producer with receipts and sealing (`record(...,
   engine=...)`, as the API calls it) in-process, without HTTP, JSON parsing or validation.

The clients share the 2 cores with the server: the noop rate is the ceiling of server + clients together,
which is why the single-event figure is a ratio to it. Events are `activity.held` with fresh ids.
Stacks: the embedded log (SQLite, synchronous=FULL), and Kafka (a noida-db broker started and stopped here).

Run: `.venv/bin/python bench/ingest_wsgi.py [--log embedded|kafka|both] [--seconds S] [--rounds R]`
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from services import Load, activity, deployment, drive, load_average, result_line, start_ingest

from impact.db import engine_for
from impact.eventlog import open_event_log
from impact.eventlog.recording import record
from schemas.events import BATCH_ADAPTER


def _sum(loads: list[Load], size: int = 1) -> tuple[float, int]:
    return sum(x.requests for x in loads) * size / sum(x.seconds for x in loads), sum(x.failed for x in loads)


def singles(port: int, token: str, args: argparse.Namespace) -> dict[str, Any]:
    kwargs = {"procs": args.clients, "threads": args.threads, "seconds": args.seconds}
    drive(port, "/bench/noop", token, "noop", **{**kwargs, "seconds": 1.0})  # warm-up, not counted
    drive(port, "/api/v1/events", token, "single", **{**kwargs, "seconds": 1.0})
    noop: list[Load] = []
    events: list[Load] = []
    for _ in range(args.rounds):
        noop.append(drive(port, "/bench/noop", token, "noop", **kwargs))
        events.append(drive(port, "/api/v1/events", token, "single", **kwargs))
        print(f"    round: noop {noop[-1].rate:8,.0f} req/s   one event per request {events[-1].rate:8,.0f} ev/s")
    noop_rate, noop_failed = _sum(noop)
    event_rate, event_failed = _sum(events)
    return {
        "noop": noop_rate,
        "events": event_rate,
        "ratio": event_rate / noop_rate,
        "failed": noop_failed + event_failed,
    }


def batches(port: int, token: str, settings: Any, args: argparse.Namespace) -> dict[str, Any]:
    size = args.batch_size
    drive(port, "/api/v1/events", token, "batch", size=size, procs=1, threads=args.batch_threads, seconds=1.0)
    raw_events = raw_seconds = receipts_events = receipts_seconds = 0.0
    api: list[Load] = []
    engine = engine_for(settings)
    with open_event_log(settings) as log:
        for _ in range(args.rounds):
            bodies = [BATCH_ADAPTER.validate_python([activity() for _ in range(size)]) for _ in range(200)]
            done, started = 0, time.perf_counter()
            for body in bodies:  # the producer alone: stamp, encode, append, commit
                record(log, settings.topic, body, recorded_by="bench")
                done += size
                if time.perf_counter() - started >= args.seconds:
                    break
            elapsed = time.perf_counter() - started
            raw_events, raw_seconds = raw_events + done, raw_seconds + elapsed
            producer = done / elapsed
            bodies = [BATCH_ADAPTER.validate_python([activity() for _ in range(size)]) for _ in range(200)]
            done, started = 0, time.perf_counter()
            for body in bodies:  # the same with receipts and sealing, as the API calls it, without HTTP or parsing
                record(log, settings.topic, body, recorded_by="bench", engine=engine)
                done += size
                if time.perf_counter() - started >= args.seconds:
                    break
            receipts_events, receipts_seconds = receipts_events + done, receipts_seconds + time.perf_counter() - started
            api.append(
                drive(
                    port,
                    "/api/v1/events",
                    token,
                    "batch",
                    size=size,
                    procs=1,
                    threads=args.batch_threads,
                    seconds=args.seconds,
                )
            )
            print(f"    round: producer {producer:8,.0f} ev/s   API batches {api[-1].rate * size:8,.0f} ev/s")
    engine.dispose()
    raw = raw_events / raw_seconds
    receipts = receipts_events / receipts_seconds
    rate, failed = _sum(api, size)
    return {"producer": raw, "with_receipts": receipts, "api": rate, "ratio": rate / raw, "failed": failed}


def bench(log_name: str, args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        extra: dict[str, str] = {}
        if log_name == "kafka":
            from processing import kafka_broker

            folder = stack.enter_context(TemporaryDirectory(prefix="bench-broker-"))
            bootstrap = stack.enter_context(kafka_broker(Path(folder)))
            extra = {"IMPACT_EVENT_LOG": "kafka", "IMPACT_KAFKA_BOOTSTRAP": bootstrap}
        dep = stack.enter_context(deployment(workers=args.workers, extra=extra))
        _proc, port = start_ingest(dep)
        print(
            f"\n{log_name} log: gunicorn, {args.workers} workers x 4 threads (gthread);"
            f" clients {args.clients} processes x {args.threads} connections"
        )
        single = singles(port, dep.token, args)
        print(
            f"  a. trivial endpoint {single['noop']:8,.0f} req/s   one event per request {single['events']:8,.0f} ev/s"
            f"   ratio {single['ratio']:.2f} (aim >= 0.5)   failed {single['failed']}"
        )
        print(f"  b. batches of {args.batch_size}, {args.batch_threads} connections")
        batch = batches(port, dep.token, dep.settings, args)
        print(
            f"  b. producer alone {batch['producer']:8,.0f} ev/s   API {batch['api']:8,.0f} ev/s"
            f"   ratio {batch['ratio']:.2f} (aim >= 0.70)   failed {batch['failed']}"
        )
        print(
            f"     where it goes: the producer with receipts and sealing (record(..., engine)), in-process, no HTTP:"
            f" {batch['with_receipts']:,.0f} ev/s, {batch['with_receipts'] / batch['producer']:.2f} of the producer"
        )
    return {"single": single, "batch": batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--log", choices=("embedded", "kafka", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per timed round (4)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each (3)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2, the default of IMPACT_WORKERS)")
    parser.add_argument("--clients", type=int, default=2, help="client processes for single events (2)")
    parser.add_argument("--threads", type=int, default=4, help="connections per client process (4)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--batch-threads", type=int, default=2, help="connections sending batches (2)")
    args = parser.parse_args()
    print(f"load average at the start: {load_average()}")
    results: dict[str, Any] = {
        "workers": args.workers,
        "clients": f"{args.clients} processes x {args.threads} connections; batches: {args.batch_threads} connections",
    }
    for name in ("embedded", "kafka") if args.log == "both" else (args.log,):
        results[name] = bench(name, args)
    print(f"load average at the end: {load_average()}")
    result_line("ingest_wsgi", results)


if __name__ == "__main__":
    main()
