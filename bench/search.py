"""Searching the staff lists and pickers at scale: p50 and p95 time to serve, as ratios against a small list.

Measured, for an organisation of `--participants` people (default 100,000; as the forms make them, with
random references, so the register is not stored in reference order), through the Flask test client of
`ingest.create_app`, signed in as its staff:

- a participant search of the list page (`/staff/participants?q=…`: a name found a few hundred times, and
  one found once), its first page unsearched, and a page far down (page 400);
- the picker's search (`GET /staff/search/participants?q=…`, the JSON forms.js asks for as one types);
- the attendance form, whose participant picker lists the first 100 by name.

Baseline, in the same run: the participants list page of an organisation of 20 people (one page of 20
rows), timed alternately with each measured request so drift on a shared machine hits both. The ratio
measured / baseline says how many times that page's cost the big register adds; the p95 in ms is beside it.
Another organisation of 20,000 people shares the tables, so every query must keep to its organisation.

Rows are inserted directly (no events, no processor). SQLite: a temporary file, no ANALYZE (as a service
runs). PostgreSQL: a `bench_search_*` schema, ANALYZEd after the load, dropped at the end.

Run: `.venv/bin/python bench/search.py [--database sqlite|postgresql|both] [--participants N] [--repeat R]`
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from impact.auth.accounts import Role, create_account, create_organisation
from impact.db import create_tables, make_engine
from impact.eventlog import open_event_log
from impact.settings import Environment, Settings
from ingest import create_app
from schemas.readmodels import Activity, Participant

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BIG, SMALL, NEIGHBOUR = "bench-search-big", "bench-search-small", "bench-search-neighbour"
PASSWORD = "bench passphrase, long enough for the rules"  # noqa: S105  (bench accounts)
FIRST = ("Amira", "Ben", "Chloe", "Dev", "Efe", "Fatima", "George", "Hana", "Ivan", "Jo", "Kim", "Leon")
LAST = ("Khan", "Smith", "Okafor", "Patel", "Nowak", "Jones", "Murphy", "Ali", "Evans", "Price", "Shah", "Lee")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
            yield f"sqlite:///{Path(folder) / 'readmodels.db'}"
        return
    schema = f"bench_search_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def people(org_id: str, count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(count):
        yield {
            "org_id": org_id,
            "participant_id": f"p-{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}",
            "display_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}-{rng.randrange(10_000):04d}",
            "role": "carer",
            "consent_to_contact": i % 3 == 0,
            "preferred_channel": "email" if i % 3 == 0 else None,
            "feedback_frequency": "each_change",
            "registered_at": start + timedelta(minutes=i),
            "erased": i % 200 == 0,
        }


def load(engine: Engine, participants: int) -> float:
    started = time.perf_counter()
    create_tables(engine)
    rng = random.Random(7)
    rows = [*people(BIG, participants, rng), *people(NEIGHBOUR, 20_000, rng), *people(SMALL, 20, rng)]
    rng.shuffle(rows)  # organisations interleaved, as one shared log would write them
    table = Participant.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for start in range(0, len(rows), 20_000):
            conn.execute(table.insert(), rows[start : start + 20_000])
    with Session(engine) as session:
        session.add(
            Activity(
                org_id=BIG,
                activity_id="a-bench",
                title="Carers' panel",
                area="support",
                level="consultation",
                held_on=date(2026, 1, 5),
                duration_hours=2,
            )
        )
        for org_id in (BIG, SMALL):
            create_organisation(session=session, org_id=org_id, name=org_id.replace("-", " ").title())
            create_account(
                session=session, org_id=org_id, email=staff(org_id), name="Staff", role=Role.staff, password=PASSWORD
            )
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def staff(org_id: str) -> str:
    return f"staff@{org_id}.example.org"


def signed_in(app: Any, email: str) -> FlaskClient:
    client: FlaskClient = app.test_client()
    found = _CSRF.search(client.get("/login").get_data(as_text=True))
    assert found, "no CSRF token on /login"
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": found.group(1)})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def timed(client: FlaskClient, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
    return took


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(measured: Callable[[], float], baseline: Callable[[], float], repeat: int) -> dict[str, float]:
    """Alternate the measured request and the baseline: each one's p50 and p95 in ms, and the p95 ratio."""
    for _ in range(3):
        measured(), baseline()
    ours, base = [], []
    for _ in range(repeat):
        ours.append(measured())
        base.append(baseline())
    return {
        "p50_ms": statistics.median(ours),
        "p95_ms": p95(ours),
        "baseline_p50_ms": statistics.median(base),
        "baseline_p95_ms": p95(base),
        "ratio": p95(ours) / p95(base),
    }


def common_name() -> str:
    """A first name and surname found a few hundred times in the big register (the typical search)."""
    return f"{FIRST[0]} {LAST[0]}".lower()


def one_name(engine: Engine) -> str:
    with engine.connect() as conn:
        name = conn.execute(
            text("SELECT display_name FROM participant WHERE org_id = :org AND NOT erased ORDER BY participant_id"),
            {"org": BIG},
        ).first()
    assert name is not None
    return str(name[0])


def run(kind: str, participants: int, repeat: int) -> dict[str, Any]:
    with database(kind) as url, tempfile.TemporaryDirectory(prefix="bench-search-var-") as var:
        engine = make_engine(url)
        loaded = load(engine, participants)
        print(
            f"\n{kind}: {participants:,} participants (and 20,000 of a neighbour, 20 of a small one) in {loaded:.1f} s"
        )
        settings = Settings(env=Environment.test, secret_key="s" * 40, data_dir=Path(var), database_url=url)
        log = open_event_log(settings)
        try:
            app = create_app(settings, log, engine=engine)
            big, small = signed_in(app, staff(BIG)), signed_in(app, staff(SMALL))
            baseline = lambda: timed(small, "/staff/participants")  # noqa: E731
            single = one_name(engine)
            cases = {
                "search, a common name": f"/staff/participants?q={common_name().replace(' ', '+')}",
                "search, one person": f"/staff/participants?q={single.replace(' ', '+')}",
                "list, first page": "/staff/participants",
                "list, page 400": "/staff/participants?page=400",
                "picker search (JSON)": f"/staff/search/participants?q={common_name().replace(' ', '+')}",
                "attendance form (picker)": "/staff/activities/a-bench/attendance",
            }
            results = {}
            for name, path in cases.items():
                got = measure(lambda path=path: timed(big, path), baseline, repeat)  # type: ignore[misc]
                results[name] = got
                print(
                    f"  {name:28} p50 {got['p50_ms']:7.1f} ms  p95 {got['p95_ms']:7.1f} ms   baseline (20 rows) p95"
                    f" {got['baseline_p95_ms']:6.1f} ms   ratio {got['ratio']:5.1f}"
                )
        finally:
            log.close()
            engine.dispose()
        return {"participants": participants, "load_s": loaded, "cases": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    summary = {kind: run(kind, args.participants, args.repeat) for kind in kinds}
    print(f"BENCH-RESULT search {json.dumps(summary)}")  # for bench/all.py, if it lists this benchmark


if __name__ == "__main__":
    main()
