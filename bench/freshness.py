"""End-to-end freshness under a steady load, and each service's peak memory, as ratios to baselines of the same run.

The real services run as they are deployed, on the embedded log and SQLite: ingest under gunicorn
(bench/wsgi_noop.py, served as `impact ingest` serves it, 2 workers), `impact process` (its consume loop,
feedback sender and health server; its default poll timeout of 500 ms and batches of up to 2,000) and
`impact dashboard` (gunicorn, 2 workers).

Freshness: a clock posts `activity.held` events (self-contained, so each is folded at once) to `POST
/api/v1/events` at `--rate` events/s in batches every `--tick-ms` (1,000 ev/s = 50 events every 50 ms),
from `--senders` persistent connections, for `--seconds`. For each event: the time from the API's 202
(as this client saw it) to the moment its `event_id` was first seen in the read model's `processedevent`
table (the ids the processor has folded, written in the same transaction as the rows), polled every
`--watch-ms`. p50 and p95 over every event of the phase.
Baseline: the same pipeline at a trickle, `--trickle` events/s one at a time, just before the load and
again just after it (the samples pooled, so that drift on a shared machine hits both): what
freshness is when nothing queues (the processor's poll wait, one GX validation, one write transaction,
the watcher's poll). Ratio = p95 under load / p95 at the trickle; the aim (p95 < 2 s) is absolute.
If the clock cannot keep the rate (sends fall behind), the rate actually achieved is what is reported.

Memory: peak RSS (VmHWM from /proc) of each service, summed over its processes (gunicorn's master and
workers: shared pages count once per process, so the sum is an upper bound), at the end of the load,
beside the same processes' RSS when idle just after start (before any event). While the load runs, one
connection signed in as the organisation's leadership opens the dashboard's pages one after another (the
callback each page's URL sends, `--dashboard-ms` apart: a few people reading), so the dashboard works too.

Run: `.venv/bin/python bench/freshness.py [--rate 1000] [--seconds 25] [--trickle 10]`
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ leads sys.path and bench/dashboard.py would shadow the `dashboard` package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import queue  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import requests  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.services import (  # noqa: E402
    ORG,
    Deployment,
    activity,
    deployment,
    load_average,
    memory_mb,
    result_line,
    start_dashboard,
    start_ingest,
    start_processor,
)
from dashboard import shell  # noqa: E402
from impact.auth.accounts import create_account  # noqa: E402
from impact.db import engine_for  # noqa: E402

PASSWORD = "bench passphrase, long enough for the rules"  # noqa: S105  (a bench account)
LEADER = f"leadership@{ORG}.example.org"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Watcher(threading.Thread):
    """Polls the read model for newly folded event ids; keeps when each was first seen."""

    def __init__(self, path: Path, every_s: float) -> None:
        super().__init__(daemon=True)
        self.path, self.every_s = path, every_s
        self.seen: dict[str, float] = {}
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30)
        last = 0
        while not self.stop.is_set():
            try:
                rows = conn.execute(
                    "SELECT rowid, event_id FROM processedevent WHERE rowid > ? ORDER BY rowid", (last,)
                ).fetchall()
            except sqlite3.Error as exc:  # locked for a moment: try again at the next poll
                self.errors.append(str(exc))
                rows = []
            now = time.monotonic()
            for rowid, event_id in rows:
                self.seen.setdefault(str(event_id), now)
                last = max(last, int(rowid))
            self.stop.wait(self.every_s)
        conn.close()


def post_paced(port: int, token: str, rate: float, tick_s: float, seconds: float, senders: int) -> dict[str, Any]:
    """Post `rate` events/s for `seconds`, a batch every `tick_s`, by the clock: the 202 time of each event id."""
    per_tick = max(1, round(rate * tick_s))
    work: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
    acked: dict[str, float] = {}
    late: list[float] = []
    failed = [0]
    lock = threading.Lock()

    def send() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while (batch := work.get()) is not None:
            body = json.dumps(batch if len(batch) > 1 else batch[0]).encode()
            conn.request("POST", "/api/v1/events", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            now = time.monotonic()
            with lock:
                if response.status == 202:
                    for event in batch:
                        acked[event["event_id"]] = now
                else:
                    failed[0] += 1
        conn.close()

    threads = [threading.Thread(target=send, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    ticks = int(seconds / tick_s)
    started = time.monotonic()
    for n in range(ticks):
        due = started + n * tick_s
        time.sleep(max(0.0, due - time.monotonic()))
        late.append(work.qsize())
        work.put([activity() for _ in range(per_tick)])
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"acked": acked, "sent": ticks * per_tick, "elapsed": elapsed, "failed": failed[0], "backlog": max(late)}


def freshness(acked: dict[str, float], watcher: Watcher, timeout_s: float = 60.0) -> tuple[list[float], int]:
    """Seconds from 202 to visible, per event, once all are visible (or `timeout_s` passed): (delays, missing)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(i not in watcher.seen for i in acked):
        time.sleep(0.1)
    delays = [max(0.0, watcher.seen[i] - t) for i, t in acked.items() if i in watcher.seen]
    return delays, len(acked) - len(delays)


def pct(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


class DashboardLoad(threading.Thread):
    """One signed-in connection opening every page of the dashboard in turn, until stopped."""

    def __init__(self, port: int, every_s: float) -> None:
        super().__init__(daemon=True)
        self.port, self.every_s, self.stop, self.requests, self.failed = port, every_s, threading.Event(), 0, 0

    def run(self) -> None:
        base = f"http://127.0.0.1:{self.port}"
        client = requests.Session()
        found = _CSRF.search(client.get(f"{base}/login", timeout=30).text)
        if not found:
            self.failed += 1
            return
        client.post(
            f"{base}/login",
            data={"email": LEADER, "password": PASSWORD, "csrf_token": found.group(1)},
            timeout=30,
        )
        while not self.stop.is_set():
            for page in shell.PAGES:
                response = client.post(f"{base}/_dash-update-component", json=shell.callback_body(page.path, ""))
                self.requests += 1
                self.failed += response.status_code != 200
                if self.stop.wait(self.every_s):
                    break


def add_leader(dep: Deployment) -> None:
    engine = engine_for(dep.settings)
    with Session(engine) as session:
        create_account(session=session, org_id=ORG, email=LEADER, name="Leader", role="leadership", password=PASSWORD)
        session.commit()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s under load (1,000)")
    parser.add_argument("--tick-ms", type=float, default=50.0, help="one batch every this many ms (50)")
    parser.add_argument("--seconds", type=float, default=25.0, help="length of the load (25)")
    parser.add_argument("--trickle", type=float, default=10.0, help="events/s of the baseline, one at a time (10)")
    parser.add_argument("--trickle-seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=4, help="client connections posting batches (4)")
    parser.add_argument("--dashboard-ms", type=float, default=250.0, help="pause between dashboard requests (250)")
    parser.add_argument("--watch-ms", type=float, default=20.0, help="how often the read model is polled (20)")
    args = parser.parse_args()
    print(f"load average at the start: {load_average()}")
    with deployment(workers=2) as dep:
        add_leader(dep)
        ingest_proc, port = start_ingest(dep)
        processor_proc = start_processor(dep)
        dashboard_proc, dashboard_port = start_dashboard(dep)
        time.sleep(2.0)  # settle: every worker booted, the processor polling an empty log
        procs = {"ingest": ingest_proc.pid, "processor": processor_proc.pid, "dashboard": dashboard_proc.pid}
        idle = {name: memory_mb(pid)[0] for name, pid in procs.items()}
        watcher = Watcher(dep.folder / "impact.db", args.watch_ms / 1000)
        watcher.start()

        print(f"baseline: {args.trickle:.0f} events/s, one per request, for {args.trickle_seconds:.0f} s")
        trickle = post_paced(port, dep.token, args.trickle, 1 / args.trickle, args.trickle_seconds, 1)
        base, base_missing = freshness(trickle["acked"], watcher)

        dashboard_load = DashboardLoad(dashboard_port, args.dashboard_ms / 1000)
        dashboard_load.start()
        print(f"load: {args.rate:,.0f} events/s, a batch every {args.tick_ms:.0f} ms, for {args.seconds:.0f} s")
        loaded = post_paced(port, dep.token, args.rate, args.tick_ms / 1000, args.seconds, args.senders)
        delays, missing = freshness(loaded["acked"], watcher)
        dashboard_load.stop.set()
        dashboard_load.join(60)
        peak = {name: memory_mb(pid)[1] for name, pid in procs.items()}
        print(f"baseline again, after the load: {args.trickle:.0f} events/s for {args.trickle_seconds:.0f} s")
        again = post_paced(port, dep.token, args.trickle, 1 / args.trickle, args.trickle_seconds, 1)
        after, after_missing = freshness(again["acked"], watcher)
        watcher.stop.set()
    base, base_missing = base + after, base_missing + after_missing

    achieved = len(loaded["acked"]) / loaded["elapsed"]
    result: dict[str, Any] = {
        "rate_asked": args.rate,
        "rate_achieved": achieved,
        "events": len(loaded["acked"]),
        "failed_requests": loaded["failed"],
        "max_send_backlog_batches": loaded["backlog"],
        "p50_s": pct(delays, 50),
        "p95_s": pct(delays, 95),
        "max_s": max(delays, default=float("nan")),
        "missing": missing,
        "trickle_rate": args.trickle,
        "trickle_p50_s": pct(base, 50),
        "trickle_p95_s": pct(base, 95),
        "trickle_missing": base_missing,
        "dashboard_requests": dashboard_load.requests,
        "dashboard_failed": dashboard_load.failed,
        "memory_idle_mb": idle,
        "memory_peak_mb": peak,
    }
    result["ratio_p95"] = result["p95_s"] / result["trickle_p95_s"]
    print(
        f"  trickle ({args.trickle:.0f} ev/s): p50 {result['trickle_p50_s'] * 1000:6.0f} ms"
        f"  p95 {result['trickle_p95_s'] * 1000:6.0f} ms  ({len(base)} events, {base_missing} never seen)"
    )
    print(
        f"  load (asked {args.rate:,.0f} ev/s, achieved {achieved:,.0f}): p50 {result['p50_s'] * 1000:6.0f} ms"
        f"  p95 {result['p95_s'] * 1000:6.0f} ms  max {result['max_s'] * 1000:6.0f} ms"
        f"  ({len(delays):,} events, {missing} never seen, {loaded['failed']} failed requests,"
        f" send backlog up to {loaded['backlog']} batches)"
    )
    print(
        f"  p95 ratio to the trickle {result['ratio_p95']:.1f}; aim p95 < 2 s:"
        f" {'met' if result['p95_s'] < 2 else 'missed'}"
    )
    if watcher.errors:
        print(f"  the read-model watcher's polls that failed: {len(watcher.errors)} (first: {watcher.errors[0]})")
    print(f"  dashboard during the load: {dashboard_load.requests} page callbacks, {dashboard_load.failed} failed")
    for name in procs:
        print(
            f"  memory {name:9}: idle {idle[name]:7.0f} MB   peak {peak[name]:7.0f} MB"
            f"   ratio {peak[name] / idle[name]:.2f}"
        )
    print(f"load average at the end: {load_average()}")
    result_line("freshness", result)


if __name__ == "__main__":
    main()
