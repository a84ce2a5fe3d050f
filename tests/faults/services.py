"""Real faults on the other real services, and the load they carry (no mocks).

- `demo_rounds`: many events fast, the demo year repeated with fresh identifiers (no validation per copy).
- `IngestService` and `Client`: `impact ingest` under gunicorn, SIGKILLed master and workers at once,
  and API clients posting steadily that retry a 503 with the same event ids after its Retry-After.
- `broker_pid` and `frozen`: the broker's process, stopped (SIGSTOP) for a while.
- `restart_postgres` and `postgres_back_up`: a real restart of the PostgreSQL server (the local cluster on the
  port of IMPACT_TEST_POSTGRES_URL, found with `pg_lsclusters`), and the promise
  that it is running again afterwards, whatever happened.
- `wait_until`: poll a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


# --- Many events, quickly ----------------------------------------------------------------------------

DEMO_SEEDS = 4  # demo years generated; every round repeats one of them with identifiers of its own
ROUNDS_NAMESPACE = uuid.UUID("0b7a2f4e-8c1d-4e6a-b3f9-5d2c7e1a9f08")


def demo_rounds(total: int, *, stored: bool = False) -> list[dict[str, Any]]:
    """`total` events as JSON documents: the demo year repeated with fresh identifiers, round after round
    (each round in causal order). `stored`: as the log keeps them (server fields stamped), else as a
    client sends them. No schema validation per copy: 100,000 take about a second, after the demo years."""
    from impact.demo import demo_events, renamed
    from schemas.events import StoredEvent

    def round_of(document: dict[str, Any], n: int) -> dict[str, Any]:
        """A demo event with identifiers of round `n`: the same facts about other people."""
        event_id = str(uuid.uuid5(ROUNDS_NAMESPACE, f"{n}/{document['event_id']}"))
        return {**document, "event_id": event_id, "payload": renamed(document["payload"], f"-r{n}")}

    now = datetime.now(UTC)
    years = []
    for seed in range(DEMO_SEEDS):
        events = demo_events(today=now.date(), seed=7 + seed)
        if stored:
            documents = [
                StoredEvent.accept(e, recorded_by="faults", recorded_at=now).model_dump(mode="json") for e in events
            ]
            for document in documents:
                if document.get("corrects") is None:
                    document.pop("corrects", None)
        else:
            documents = [e.model_dump(mode="json") for e in events]
        years.append(documents)
    out: list[dict[str, Any]] = []
    for n in itertools.count():
        out += (round_of(document, n) for document in years[n % DEMO_SEEDS])
        if len(out) >= total:
            return out[:total]
    raise AssertionError("unreachable")


def as_records(documents: list[dict[str, Any]]) -> list[Any]:
    """Stored documents as log records, keyed by organisation."""
    from impact.eventlog import Record

    return [Record(document["org_id"], json.dumps(document).encode()) for document in documents]


# --- Services stopped and killed ------------------------------------------------------------------------


class IngestService:
    """`impact ingest` (gunicorn, its master and workers in a process group of their own) on the given
    environment; `kill()` SIGKILLs the master and every worker at once, with no chance to clean up."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int, workers: int = 2) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._env = env | {"IMPACT_INGEST_PORT": str(port), "IMPACT_WORKERS": str(workers)}
        self._proc: subprocess.Popen[bytes] | None = None
        self.workers: list[int] = []

    def start(self, timeout_s: float = 90) -> float:
        """Start it and wait until it answers; seconds it took."""
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "impact.cli", "ingest"],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: the kill reaches every worker
            )
        if not wait_until(self.answers, timeout_s, interval_s=0.2):
            raise RuntimeError(f"ingest did not start; its log ends:\n{self.log_tail()}")
        self.workers = _children(self._proc.pid)
        return time.monotonic() - started

    def answers(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"ingest exited with {self._proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310 (a local URL)
                return True
        except urllib.error.HTTPError:
            return True  # it answers (the log may be down)
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> list[int]:
        """SIGKILL the master and its workers; the pids killed."""
        assert self._proc is not None
        pids = [self._proc.pid, *_children(self._proc.pid)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(30)
        assert wait_until(lambda: not any(_alive(pid) for pid in pids), 30), f"still alive after SIGKILL: {pids}"
        self._proc = None
        return pids

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie (a killed worker stays a zombie until init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@dataclass
class Posted:
    """What one API client saw."""

    accepted: list[str] = field(default_factory=list)  # event ids answered 202, in order
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer (connection refused or reset)
    retry_after: list[str] = field(default_factory=list)  # the header of every 503
    unanswered: list[list[str]] = field(default_factory=list)  # batches sent that got no answer
    first_503: float | None = None
    last_503: float | None = None
    accepted_at: list[float] = field(default_factory=list)  # when each 202 came
    batches: list[list[str]] = field(default_factory=list)  # the event ids of each 202, in order
    error: BaseException | None = None


class Client(threading.Thread):
    """An API client posting `batches` of events steadily, one request at a time, with its bearer token.

    A 503 is retried with the same body (the same event ids) after its Retry-After (at most `max_wait_s`);
    with `retry_unanswered` a request that got no answer at all is retried too, else the client stops.
    """

    def __init__(
        self,
        url: str,
        token: str,
        batches: list[list[dict[str, Any]]],
        *,
        pause_s: float = 0.05,
        max_wait_s: float = 5.0,
        retry_unanswered: bool = False,
    ) -> None:
        super().__init__(daemon=True, name=f"client-{token[-4:]}")
        self.url, self.token, self.batches = f"{url}/api/v1/events", token, batches
        self.pause_s, self.max_wait_s, self.retry_unanswered = pause_s, max_wait_s, retry_unanswered
        self.stop = threading.Event()
        self.posted = Posted()

    def run(self) -> None:
        try:
            for batch in self.batches:
                if self.stop.is_set() or not self._send(batch):
                    return
                self.stop.wait(self.pause_s)
        except BaseException as exc:
            self.posted.error = exc

    def _send(self, batch: list[dict[str, Any]]) -> bool:
        """Post until 202 (True), or until an unanswered request ends this client (False)."""
        body = json.dumps(batch).encode()
        ids = [document["event_id"] for document in batch]
        while True:
            request = urllib.request.Request(  # noqa: S310 (a local URL)
                self.url,
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    status, answer = response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                status, answer = exc.code, None
                if status == 503:
                    now = time.monotonic()
                    self.posted.first_503 = self.posted.first_503 or now
                    self.posted.last_503 = now
                    self.posted.retry_after.append(exc.headers.get("Retry-After", ""))
                    wait = float(exc.headers.get("Retry-After") or self.max_wait_s)
                exc.close()
            except (urllib.error.URLError, OSError, http.client.HTTPException):
                # no whole answer: refused, reset, or cut off mid-body by the kill (IncompleteRead), so unanswered
                status = 0
            self.posted.statuses[status] += 1
            if status == 202:
                assert answer is not None and answer["event_ids"] == ids, answer
                self.posted.accepted += ids
                self.posted.batches.append(ids)
                self.posted.accepted_at.append(time.monotonic())
                return True
            if status == 503:
                self.stop.wait(min(wait, self.max_wait_s))
                continue  # the same request again: the same event ids
            if status == 0:
                self.posted.unanswered.append(ids)
                if self.retry_unanswered and not self.stop.is_set():
                    self.stop.wait(0.5)
                    continue
                return False
            raise AssertionError(f"unexpected answer {status} to a valid batch")


def broker_pid(data_dir: Path) -> int:
    """The pid of the noida-db server we started on `data_dir` (from its control file), checked."""
    pid = int(json.loads((data_dir / "noida.control.json").read_text())["pid"])
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    if b"noida" not in command:
        raise RuntimeError(f"pid {pid} is not the broker: {command[:200]!r}")
    return pid


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process stopped (SIGSTOP) for the block: its connections stay open but nothing is answered;
    continued (SIGCONT) afterwards, whatever happens inside."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def postgres_address() -> tuple[str, int]:
    """The host and port of the PostgreSQL server the tests use (IMPACT_TEST_POSTGRES_URL, tests/factories.py)."""
    from sqlalchemy.engine import make_url

    from tests.factories import POSTGRES_URL

    url = make_url(POSTGRES_URL)
    host = url.host or str(url.query.get("host") or "") or "127.0.0.1"  # ?host=/run/postgresql: a socket directory
    return host, int(url.port or 5432)


def _pg_cluster(port: int) -> tuple[str, str]:
    """The (version, name) of the local cluster listening on `port`, from `pg_lsclusters`."""
    if not shutil.which("pg_lsclusters") or not shutil.which("pg_ctlcluster"):
        raise FileNotFoundError("pg_lsclusters and pg_ctlcluster (postgresql-common) are needed to restart PostgreSQL")
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30, check=True)
    # Ver Cluster Port Status Owner Data-directory Log-file
    clusters = [line.split() for line in listed.stdout.splitlines() if len(line.split()) >= 4]
    matching = [(version, name, status) for version, name, on_port, status, *_ in clusters if on_port == str(port)]
    if len(matching) > 1:  # several configured on one port: only one can be running on it
        matching = [cluster for cluster in matching if cluster[2] == "online"]
    if len(matching) != 1:
        raise RuntimeError(f"not exactly one local PostgreSQL cluster for port {port}:\n{listed.stdout}")
    version, name, _status = matching[0]
    return version, name


def postgres_ready(host: str | None = None, port: int | None = None) -> bool:
    """Whether the server (by default the tests' one, from IMPACT_TEST_POSTGRES_URL) accepts connections."""
    default_host, default_port = postgres_address()
    command = ["pg_isready", "-q", "-h", host or default_host, "-p", str(port or default_port)]
    ready = subprocess.run(command, check=False, timeout=15)
    return ready.returncode == 0


def pg_ctl(action: str) -> None:
    """`pg_ctlcluster <action>` on the cluster serving the tests' PostgreSQL URL (matched by its port)."""
    version, name = _pg_cluster(postgres_address()[1])
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 and action != "stop":
        raise RuntimeError(f"{' '.join(command)}: {done.stdout} {done.stderr}")


@contextlib.contextmanager
def postgres_back_up(timeout_s: float = 60) -> Iterator[None]:
    """Whatever happens inside (a test failing mid-restart), PostgreSQL is running and ready afterwards."""
    try:
        yield
    finally:
        if not postgres_ready():
            with contextlib.suppress(Exception):
                pg_ctl("start")
            wait_until(postgres_ready, timeout_s, interval_s=0.2)


def restart_postgres(timeout_s: float = 60) -> float:
    """A real restart of the PostgreSQL server (every connection dropped); seconds until it accepts again."""
    started = time.monotonic()
    pg_ctl("restart")
    if not wait_until(postgres_ready, timeout_s, interval_s=0.1):
        raise RuntimeError("PostgreSQL did not come back after the restart")
    return time.monotonic() - started


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.01) -> bool:
    """Poll `condition` until it holds (True) or `timeout_s` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True
