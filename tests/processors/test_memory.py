"""Bounded memory: what the processor holds does not grow with the number of events it has processed."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from impact.eventlog import open_event_log
from impact.eventlog.recording import record
from impact.settings import Settings
from processors.consumer import Processor
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER

pytestmark = pytest.mark.timeout(300)
START = datetime.now(UTC) - timedelta(days=60)


def involvement(first: int, count: int) -> Iterator[Any]:
    """`count` people, each registered, at an activity of their own, and saying something there."""
    for n in range(first, first + count):
        when = (START + timedelta(minutes=n)).isoformat()
        for type_, payload in (
            ("participant.registered", {"participant_id": f"p{n}", "display_name": f"Person {n}", "role": "patient"}),
            (
                "activity.held",
                {
                    "activity_id": f"a{n}",
                    "title": "Panel",
                    "area": "research",
                    "level": "consultation",
                    "date": START.date().isoformat(),
                    "duration_hours": 2,
                },
            ),
            ("session.attended", {"activity_id": f"a{n}", "participant_id": f"p{n}", "hours": 1.5}),
            (
                "contribution.made",
                {"contribution_id": f"c{n}", "participant_ids": [f"p{n}"], "area": "research", "text": "x" * 400},
            ),
        ):
            yield EVENT_ADAPTER.validate_python(
                {"type": type_, "org_id": "org-a", "occurred_at": when, "payload": payload}
            )


def held_after(processor: Processor) -> int:
    """Bytes the Python heap holds once the processor has caught up (garbage collected first)."""
    processor.run(threading.Event(), batch_size=200, poll_timeout_ms=100, until_caught_up=True)
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_does_not_grow_with_the_events_processed(
    log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    settings, engine = log_settings("embedded"), engine_factory("sqlite")
    counts = (300, 100, 400, 400, 400)  # people: a warm-up, a baseline, then three rounds of 1,600 events
    rounds = [list(involvement(sum(counts[:n]), count)) for n, count in enumerate(counts)]  # made before measuring

    def more(_count: int) -> None:
        record(event_log, settings.topic, rounds.pop(0), recorded_by="test", engine=engine)

    with open_event_log(settings) as event_log:
        processor = Processor.for_settings(settings, engine=engine, event_log=event_log, gate=gate)
        more(300)
        held_after(processor)  # warm: the first batches fill caches of SQLAlchemy, pandas and GX once
        tracemalloc.start()
        try:
            more(100)
            baseline = held_after(processor)
            sizes = []
            for _ in range(3):
                more(400)  # 1,600 events each time
                sizes.append(held_after(processor) - baseline)
        finally:
            tracemalloc.stop()
    print(f"heap held beyond the baseline after each 1,600 more events: {sizes} bytes")
    # 4,800 more events processed: had the processor kept even 100 bytes an event, it would hold 480 kB more.
    assert max(sizes) < 300_000, sizes
    assert sizes[-1] < sizes[0] + 150_000, f"growth per 1,600 events: {sizes}"
