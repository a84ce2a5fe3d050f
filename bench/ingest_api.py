"""What authentication and idempotency cost at the door, as ratios against a baseline of the same run.

Baseline: appending validated events straight to the embedded log (no HTTP, no token, no receipts).
Measured: `POST /api/v1/events` through the Flask app (token check, validation, receipts, append),
a retry of the same batches (answered from receipts, nothing appended), and one event per request.
Run: `.venv/bin/python bench/ingest_api.py`
"""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from impact.auth.accounts import create_organisation
from impact.auth.tokens import issue_token
from impact.db import create_tables, engine_for
from impact.eventlog import open_event_log
from impact.eventlog.recording import record
from impact.settings import Settings
from ingest import create_app
from schemas.events import BATCH_ADAPTER

ORG, BATCHES, SIZE, SINGLES = "bench-org", 20, 500, 300
WHEN = (datetime.now(UTC) - timedelta(days=1)).isoformat()


def batch(n: int, size: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": str(uuid.uuid4()),
            "type": "contribution.made",
            "org_id": ORG,
            "occurred_at": WHEN,
            "payload": {"contribution_id": f"c{n}-{i}", "participant_ids": ["p1"], "area": "support", "text": "Idea"},
        }
        for i in range(size)
    ]


def rate(events: int, seconds: float) -> float:
    return events / seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(env="test", data_dir=Path(folder), secret_key="b" * 40)
        engine = engine_for(settings)
        create_tables(engine)
        with Session(engine) as session:
            create_organisation(session=session, org_id=ORG, name="Bench")
            _token, secret = issue_token(session=session, org_id=ORG, name="bench")
            session.commit()
        batches = [batch(n, SIZE) for n in range(BATCHES)]
        with open_event_log(settings) as log:
            started = time.perf_counter()
            for body in batches:
                record(log, "baseline", BATCH_ADAPTER.validate_python(body), recorded_by="bench")
            baseline = rate(BATCHES * SIZE, time.perf_counter() - started)

            started = time.perf_counter()
            for body in [batch(20_000 + n, 1) for n in range(SINGLES)]:
                record(log, "baseline", BATCH_ADAPTER.validate_python(body), recorded_by="bench")
            baseline_single = rate(SINGLES, time.perf_counter() - started)

            client = create_app(settings, log, test_config={"TESTING": True}, engine=engine).test_client()
            headers = {"Authorization": f"Bearer {secret}"}
            started = time.perf_counter()
            for body in batches:
                assert client.post("/api/v1/events", json=body, headers=headers).status_code == 202
            api = rate(BATCHES * SIZE, time.perf_counter() - started)

            started = time.perf_counter()
            for body in batches:
                assert client.post("/api/v1/events", json=body, headers=headers).status_code == 202
            retry = rate(BATCHES * SIZE, time.perf_counter() - started)

            singles = [batch(10_000 + n, 1)[0] for n in range(SINGLES)]
            started = time.perf_counter()
            for body in singles:
                assert client.post("/api/v1/events", json=body, headers=headers).status_code == 202
            single = rate(SINGLES, time.perf_counter() - started)
        engine.dispose()
    print(f"baseline: validate + append to the embedded log  {baseline:10,.0f} events/s")
    print(f"API, batches of {SIZE} (token, receipts, append)  {api:10,.0f} events/s  ratio {api / baseline:.2f}")
    print(f"API, the same batches again (a retry)         {retry:10,.0f} events/s  ratio {retry / baseline:.2f}")
    print(f"baseline: one event per append (a commit each)  {baseline_single:10,.0f} events/s")
    print(
        f"API, one event per request                    {single:10,.0f} events/s  "
        f"ratio {single / baseline_single:.2f} (to one event per append)"
    )


if __name__ == "__main__":
    main()
