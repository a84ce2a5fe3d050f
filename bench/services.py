"""Shared by the service benchmarks: start the real services (gunicorn, `impact process`), load them, read their memory.

Not a benchmark itself. The ingest server is `bench/wsgi_noop.py`: `ingest.create_app()` plus one trivial route,
served by `impact.serve.serve` (the same gunicorn configuration as `impact ingest`: gthread, 4 threads a worker,
`IMPACT_WORKERS` workers, access log on).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from impact.auth.accounts import create_organisation
from impact.auth.tokens import issue_token
from impact.db import engine_for, upgrade
from impact.settings import Settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORG = "bench-org"
DAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
WHEN = (datetime.now(UTC) - timedelta(days=1)).isoformat()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def activity(event_id: str | None = None) -> dict[str, Any]:
    """One self-contained event (no references, no personal data): the processor folds it at once."""
    event_id = event_id or str(uuid.uuid4())
    return {
        "event_id": event_id,
        "type": "activity.held",
        "org_id": ORG,
        "occurred_at": WHEN,
        "payload": {
            "activity_id": f"a-{event_id}",
            "title": "Panel",
            "area": "research",
            "level": "consultation",
            "date": DAY,
            "duration_hours": 2,
        },
    }


# --- The deployment -------------------------------------------------------------------------------


@dataclass
class Deployment:
    """A data directory with migrated tables, one organisation and an API token; env for the services."""

    folder: Path
    env: dict[str, str]
    settings: Settings
    token: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)


@contextmanager
def deployment(workers: int = 2, extra: dict[str, str] | None = None) -> Iterator[Deployment]:
    with tempfile.TemporaryDirectory(prefix="bench-services-") as folder:
        env = {
            **os.environ,
            "IMPACT_ENV": "test",
            "IMPACT_DATA_DIR": folder,
            "IMPACT_SECRET_KEY": "b" * 40,
            "IMPACT_WORKERS": str(workers),
            "IMPACT_HOST": "127.0.0.1",
            **(extra or {}),
        }
        settings = Settings.model_validate(
            {k.removeprefix("IMPACT_").lower(): v for k, v in env.items() if k.startswith("IMPACT_")}
        )
        engine = engine_for(settings)
        upgrade(engine)
        with Session(engine) as session:
            create_organisation(session=session, org_id=ORG, name="Bench")
            _token, secret = issue_token(session=session, org_id=ORG, name="bench")
            session.commit()
        engine.dispose()
        found = Deployment(Path(folder), env, settings, secret)
        try:
            yield found
        finally:
            for proc in found.procs:
                stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_http(port: int, path: str = "/healthz", timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered 200 on 127.0.0.1:{port}{path} within {timeout_s:.0f} s")


def start_ingest(dep: Deployment) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn serving the ingest app (plus /bench/noop) through impact.serve, as `impact ingest` does."""
    port = free_port()
    env = {**dep.env, "IMPACT_INGEST_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "wsgi_noop.py")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dep.procs.append(proc)
    wait_http(port)
    return proc, port


def start_processor(dep: Deployment) -> subprocess.Popen[bytes]:
    """`impact process` (consume loop, feedback sender, health server) on the deployment's log and database."""
    env = {**dep.env, "IMPACT_PROCESSOR_HEALTH_PORT": str(free_port())}
    impact = Path(sys.executable).with_name("impact")
    proc = subprocess.Popen(
        [str(impact), "process"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    dep.procs.append(proc)
    wait_http(int(env["IMPACT_PROCESSOR_HEALTH_PORT"]), "/healthz", 120)
    return proc


def start_dashboard(dep: Deployment) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**dep.env, "IMPACT_DASHBOARD_PORT": str(port)}
    impact = Path(sys.executable).with_name("impact")
    proc = subprocess.Popen(
        [str(impact), "dashboard"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    dep.procs.append(proc)
    wait_http(port, "/healthz", 120)
    return proc, port


# --- Memory -----------------------------------------------------------------------------------------


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of one process, in kB (empty if it is gone)."""
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    except OSError:
        pass
    return found


def family(pid: int) -> list[int]:
    """The process and its descendants (gunicorn's master and workers)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB, summed over the process and its descendants (shared pages counted per process)."""
    rss = hwm = 0
    for member in family(pid):
        status = _status(member)
        rss += status.get("VmRSS", 0)
        hwm += status.get("VmHWM", 0)
    return rss / 1024, hwm / 1024


# --- HTTP load --------------------------------------------------------------------------------------

BodyMaker = Callable[[], bytes]


def _client(
    port: int,
    path: str,
    token: str,
    make: str,
    size: int,
    threads: int,
    start_at: float,
    seconds: float,
    out: Any,
) -> None:
    """One client process: `threads` persistent HTTP/1.1 connections, each sending requests back to back."""
    counts: list[tuple[int, int, float]] = []
    lock = threading.Lock()

    def body() -> bytes:
        if make == "noop":
            return b""
        if make == "single":
            return json.dumps(activity()).encode()
        return json.dumps([activity() for _ in range(size)]).encode()

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Connection": "keep-alive"}
        ok = bad = 0
        last = start_at
        prepared = body()
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < start_at + seconds:
            conn.request("POST", path, body=prepared, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status in (202, 204):
                ok += 1
            else:
                bad += 1
            last = time.time()
            prepared = body()
        conn.close()
        with lock:
            counts.append((ok, bad, last))

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(counts)


@dataclass
class Load:
    requests: int
    failed: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def drive(
    port: int, path: str, token: str, make: str, *, size: int = 1, procs: int, threads: int, seconds: float
) -> Load:
    """`procs` client processes x `threads` connections for `seconds`: requests completed, and the time they took."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 0.5 + 0.002 * size
    clients = [
        context.Process(target=_client, args=(port, path, token, make, size, threads, start_at, seconds, queue))
        for _ in range(procs)
    ]
    for client in clients:
        client.start()
    counts = [item for _ in clients for item in queue.get(timeout=seconds + 300)]
    for client in clients:
        client.join()
    ok = sum(c[0] for c in counts)
    bad = sum(c[1] for c in counts)
    return Load(ok, bad, max(c[2] for c in counts) - start_at)


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def result_line(name: str, payload: dict[str, Any]) -> None:
    """The machine-readable summary bench/all.py collects: one line, `BENCH-RESULT <name> <json>`."""
    print(f"BENCH-RESULT {name} {json.dumps(payload)}", flush=True)
