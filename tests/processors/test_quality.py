"""The data-quality frame on small batches, then the real Great Expectations gate on it."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from processors.frame import Register, creates, quality_frame, referenced
from processors.quality import Failure, QualityGate
from schemas import events as ev
from schemas.quality import EXPECTATIONS, FRAME_COLUMNS

ORG = "org-a"
WHEN = datetime(2026, 3, 14, 10, tzinfo=UTC)
E = [str(uuid.UUID(int=n)) for n in range(20)]  # E[n]: the event id of event n in a table


def stored(type_: str, payload: dict[str, Any], eid: int | None = None, *, org: str = ORG, **when: Any) -> Any:
    """An accepted event, recorded one minute after it happened unless told otherwise."""
    at = when.get("at", WHEN)
    raw = {"type": type_, "org_id": org, "occurred_at": at.isoformat(), "payload": payload}
    raw["event_id"] = E[eid] if eid is not None else str(uuid.uuid4())
    recorded_at = when.get("recorded_at", at + timedelta(minutes=1))
    event = ev.StoredEvent.accept(ev.EVENT_ADAPTER.validate_python(raw), recorded_by="t", recorded_at=recorded_at)
    return event, event.typed_payload()


def reg(pid: str, eid: int | None = None, **kw: Any) -> Any:
    return stored("participant.registered", {"participant_id": pid, "display_name": "A", "role": "carer"}, eid, **kw)


def held(aid: str = "a-1", hours: float = 2.0, eid: int | None = None, day: str = "2026-03-14") -> Any:
    payload = {"activity_id": aid, "title": "T", "area": "research", "level": "consultation", "date": day}
    return stored("activity.held", {**payload, "duration_hours": hours}, eid)


def attended(pid: str = "p-1", hours: float = 1.5, eid: int | None = None, aid: str = "a-1", **kw: Any) -> Any:
    return stored("session.attended", {"activity_id": aid, "participant_id": pid, "hours": hours}, eid, **kw)


def said(pids: list[str], aid: str | None = None, eid: int | None = None, cid: str = "c-1") -> Any:
    payload = {"contribution_id": cid, "participant_ids": pids, "activity_id": aid, "area": "support", "text": "x"}
    return stored("contribution.made", payload, eid)


def change(links: list[str], eid: int | None = None, cid: str = "ch-1") -> Any:
    payload = {"change_id": cid, "area": "strategy_policy", "title": "T", "description": "D"}
    payload["links"] = [{"contribution_id": c, "strength": "minor"} for c in links]
    return stored("change.recorded", payload, eid)


def status(cid: str = "ch-1", eid: int | None = None) -> Any:
    return stored("change.status_changed", {"change_id": cid, "status": "agreed"}, eid)


def feedback(pid: str = "p-1", cids: tuple[str, ...] = ("ch-1",), eid: int | None = None) -> Any:
    return stored("feedback.sent", {"participant_id": pid, "change_ids": list(cids), "channel": "email"}, eid)


def known(*, participants: tuple[str, ...] = (), activities: dict[str, Any] | None = None, **ids: Any) -> Register:
    return Register(
        participants={(ORG, p) for p in participants},
        activities={(ORG, a): hours for a, hours in (activities or {}).items()},
        contributions={(ORG, c) for c in ids.get("contributions", ())},
        changes={(ORG, c) for c in ids.get("changes", ())},
    )


def facts(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Each row's non-null columns about the register, apart from those every event has."""
    always = {"event_id", "type", "org_id", "lead_seconds", "year", *RAW}
    return [
        {
            k: v
            for k, v in row.items()
            if k not in always and v is not None and not (isinstance(v, float) and math.isnan(v))
        }
        for row in frame.to_dict("records")
    ]


SHORT = {"over": "hours_beyond_activity", "pk": "participants_known", "ak": "activity_known"}
SHORT |= {"ck": "contributions_known", "chk": "change_known", "ar": "already_recorded"}


def cols(**short: Any) -> dict[str, Any]:
    return {SHORT[k]: v for k, v in short.items()}


P1_A1 = known(participants=("p-1",), activities={"a-1": 2.0})
NEW = cols(ar=False)
ERASED_P9 = stored("participant.erased", {"participant_id": "p-9"})
CONSENT_P1 = stored("participant.consent_changed", {"participant_id": "p-1", "consent": False})
FRAMES = [
    pytest.param(
        [reg("p-1"), held(), attended()],
        Register(),
        [NEW, NEW, cols(over=-0.5, pk=True, ak=True)],
        id="registered-in-batch",
    ),
    pytest.param(
        [attended(), reg("p-1"), held()],
        Register(),
        [cols(pk=False, ak=False), NEW, NEW],
        id="referenced-before-created",
    ),
    pytest.param([reg("p-1"), reg("p-1")], Register(), [NEW, cols(ar=True)], id="registered-twice"),
    pytest.param([held()], P1_A1, [cols(ar=True)], id="already-held"),
    pytest.param([attended("p-9")], P1_A1, [cols(over=-0.5, pk=False, ak=True)], id="unknown-participant"),
    pytest.param(
        [reg("p-1", org="org-b"), attended()],
        known(activities={"a-1": 2.0}),
        [NEW, cols(over=-0.5, pk=False, ak=True)],
        id="other-org",
    ),
    pytest.param(
        [held(hours=2.0), attended(hours=3.0)],
        known(participants=("p-1",)),
        [NEW, cols(over=1.0, pk=True, ak=True)],
        id="beyond",
    ),
    pytest.param([attended(aid="a-9")], P1_A1, [cols(pk=True, ak=False)], id="unknown-activity"),
    pytest.param(
        [attended()],
        known(participants=("p-1",), activities={"a-1": None}),
        [cols(pk=True, ak=True)],
        id="duration-unknown",
    ),
    pytest.param([said(["p-1"], "a-9")], P1_A1, [cols(ar=False, pk=True, ak=False)], id="said-unknown-activity"),
    pytest.param([said(["p-1", "p-2"])], P1_A1, [cols(ar=False, pk=False)], id="said-one-unknown"),
    pytest.param(
        [said(["p-1"]), change(["c-1", "c-2"])],
        P1_A1,
        [cols(ar=False, pk=True), cols(ar=False, ck=False)],
        id="change-unknown-contribution",
    ),
    pytest.param(
        [change(["c-1"]), change([], cid="ch-2")],
        known(contributions=("c-1",)),
        [cols(ar=False, ck=True), NEW],
        id="change-links",
    ),
    pytest.param(
        [status("ch-9"), change([]), status()], Register(), [cols(chk=False), NEW, cols(chk=True)], id="status"
    ),
    pytest.param(
        [feedback("p-9"), feedback(cids=("ch-1", "ch-2"))],
        known(participants=("p-1",), changes=("ch-1",)),
        [cols(pk=False, chk=True), cols(pk=True, chk=False)],
        id="feedback",
    ),
    pytest.param([ERASED_P9, CONSENT_P1], P1_A1, [cols(pk=False), cols(pk=True)], id="consent-erasure"),
]


@pytest.mark.parametrize(("batch", "register", "expected"), FRAMES)
def test_quality_frame(batch: list[Any], register: Register, expected: list[dict[str, Any]]) -> None:
    frame = quality_frame(batch, register)
    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert facts(frame) == expected
    assert list(frame["event_id"]) == [str(event.event_id) for event, _ in batch]


RAW = ("known_type", "required_present", "area", "level", "role", "status", "hours", "days_ahead")


def raw(type_: str, payload: dict[str, Any], eid: int | None = None, recorded_at: datetime = WHEN) -> Any:
    """An event as another producer might have put it in the log: its payload never checked by a model."""
    event = ev.StoredEvent(
        event_id=uuid.UUID(E[eid]) if eid is not None else uuid.uuid4(),
        type=type_,
        schema_version=1,
        org_id=ORG,
        occurred_at=WHEN,
        recorded_at=recorded_at,
        recorded_by="another-producer",
        payload=payload,
    )
    return event, None


NAN = float("nan")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (reg("p-1"), (True, True, None, None, "carer", None, NAN, NAN)),
        (held(day="2026-03-15"), (True, True, "research", "consultation", None, None, 2.0, 1.0)),
        (attended(hours=1.5), (True, True, None, None, None, None, 1.5, NAN)),
        (status(), (True, True, None, None, None, "agreed", NAN, NAN)),
        (
            raw("activity.held", {"activity_id": "a", "area": "gardening", "level": "top", "date": "2026-03-20"}),
            (True, False, "gardening", "top", None, None, NAN, 6.0),
        ),
        (
            raw("session.attended", {"activity_id": "a", "participant_id": "p", "hours": 30}),
            (True, True, None, None, None, None, 30.0, NAN),
        ),
        (raw("participant.renamed", {"participant_id": "p"}), (False, None, None, None, None, None, NAN, NAN)),
        (
            raw("participant.registered", {"participant_id": "p", "role": "carer", "sealed": {"A256GCM": "..."}}),
            (True, True, None, None, "carer", None, NAN, NAN),
        ),
    ],
    ids=["registered", "held-tomorrow", "attended", "status", "bad-activity", "long-session", "unknown-type", "sealed"],
)
def test_single_event_columns(event: Any, expected: tuple[Any, ...]) -> None:
    row = quality_frame([event], Register()).iloc[0]
    got = tuple(row[column] for column in RAW)
    assert [("nan" if isinstance(v, float) and math.isnan(v) else v) for v in got] == [
        ("nan" if isinstance(v, float) and math.isnan(v) else v) for v in expected
    ]


def test_clock_columns() -> None:
    batch = [attended(recorded_at=WHEN - timedelta(minutes=10)), held(day="1999-12-31"), reg("p-1")]
    frame = quality_frame(batch, Register())
    assert list(frame["lead_seconds"]) == [600.0, -60.0, -60.0]
    assert list(frame["year"]) == [2026.0, 1999.0, 2026.0]
    assert list(frame["type"]) == ["session.attended", "activity.held", "participant.registered"]


def test_referenced_and_created() -> None:
    batch = [
        reg("p-1"),
        held("a-1", 3.0),
        attended("p-2", aid="a-2"),
        said(["p-1", "p-3"], "a-3"),
        said(["p-4"], cid="c-2"),
        change(["c-1", "c-9"]),
        status("ch-8"),
        feedback("p-5", ("ch-1", "ch-7")),
        stored("participant.erased", {"participant_id": "p-6"}),
        stored("participant.consent_changed", {"participant_id": "p-7", "consent": True}, org="org-b"),
    ]
    assert referenced(batch) == Register(  # what the batch names, created here or not
        participants={(ORG, f"p-{n}") for n in (1, 2, 3, 4, 5, 6)} | {("org-b", "p-7")},
        activities={(ORG, "a-1"): 3.0, (ORG, "a-2"): None, (ORG, "a-3"): None},
        contributions={(ORG, "c-1"), (ORG, "c-2"), (ORG, "c-9")},
        changes={(ORG, "ch-8"), (ORG, "ch-1"), (ORG, "ch-7")},
    )
    assert creates(*held("a-1", 3.0)) == Register(activities={(ORG, "a-1"): 3.0})
    assert creates(*attended()).empty()


@pytest.fixture(scope="module")
def gate() -> Iterator[QualityGate]:
    yield QualityGate()


def ago(seconds: float) -> datetime:
    return WHEN - timedelta(seconds=seconds)


Y1999 = datetime(1999, 12, 31, 23, tzinfo=UTC)
Y2000 = datetime(2000, 1, 1, tzinfo=UTC)
P1_CH1 = known(participants=("p-1",), changes=("ch-1",))
CLEAN = [reg("p-1", 1), held(eid=2), attended(eid=3), said(["p-1"], "a-1", 4), change(["c-1"], 5), status(eid=6)]
CLEAN.append(feedback(eid=7))
GATES = [
    pytest.param(CLEAN, Register(), {}, id="clean"),
    pytest.param([reg("p-1", 1), reg("p-2", 2)], Register(), {}, id="only-registrations"),
    pytest.param([attended("p-9", eid=1), attended(eid=2)], P1_A1, {1: "participant_registered"}, id="participant"),
    pytest.param([said(["p-1"], "a-9", 1)], P1_A1, {1: "activity_recorded"}, id="activity"),
    pytest.param([change(["c-9"], 1)], Register(), {1: "contributions_recorded"}, id="contributions"),
    pytest.param([status("ch-9", 1)], Register(), {1: "change_recorded"}, id="change"),
    pytest.param(
        [feedback("p-9", eid=1), feedback(cids=("ch-9",), eid=2)],
        P1_CH1,
        {1: "participant_registered", 2: "change_recorded"},
        id="feedback",
    ),
    pytest.param(
        [attended(eid=1, recorded_at=ago(301)), attended(eid=2, recorded_at=ago(300))],
        P1_A1,
        {1: "not_after_recording"},
        id="lead",
    ),
    pytest.param([reg("p-1", 1, at=Y1999), reg("p-2", 2, at=Y2000)], Register(), {1: "plausible_year"}, id="year"),
    pytest.param(
        [held(eid=1, day="0225-03-14"), held("a-2", eid=2, day="2000-01-01")],
        Register(),
        {1: "plausible_year"},
        id="activity-year",
    ),
    pytest.param(
        [held(eid=1), attended(hours=2.5, eid=2), attended("p-2", hours=2.0, eid=3)],
        known(participants=("p-1", "p-2")),
        {2: "hours_within_activity"},
        id="beyond",
    ),
    pytest.param(
        [
            raw("participant.renamed", {"participant_id": "p-1"}, 1),
            raw("activity.held", {"activity_id": "a-1", "area": "research", "level": "consultation"}, 2),
            raw("activity.held", {**held()[0].payload, "activity_id": "a-2", "area": "gardening"}, 3),
            raw("activity.held", {**held()[0].payload, "activity_id": "a-3", "level": "top-down"}, 4),
            raw("participant.registered", {"participant_id": "p-2", "display_name": "B", "role": "boss"}, 5),
            raw("change.status_changed", {"change_id": "ch-1", "status": "shelved"}, 6),
            raw("session.attended", {"activity_id": "a-1", "participant_id": "p-1", "hours": 0}, 7),
            raw("activity.held", {**held()[0].payload, "activity_id": "a-4", "date": "2026-03-16"}, 8),
            raw("activity.held", {**held()[0].payload, "activity_id": "a-5", "date": "2026-03-15"}, 9),
        ],
        P1_A1,
        {
            1: "known_type",
            2: "required_fields",
            3: "area_in_vocabulary",
            4: "level_in_vocabulary",
            5: "role_in_vocabulary",
            6: "status_in_vocabulary",
            7: "hours_in_range",
            8: "dates_not_ahead",
        },
        id="single-event",
    ),
    # several failures: the first in EXPECTATIONS order is reported
    pytest.param(
        [attended("p-9", aid="a-9", eid=1, at=Y1999)], Register(), {1: "participant_registered"}, id="first-of-three"
    ),
    pytest.param(
        [*CLEAN, status("ch-9", 8), attended("p-9", eid=9), held(eid=10)],
        Register(),
        {8: "change_recorded", 9: "participant_registered", 10: "not_already_recorded"},
        id="mixed",
    ),
]


@pytest.mark.parametrize(("batch", "register", "expected"), GATES)
def test_gate_reports_the_first_failed_expectation(
    gate: QualityGate, batch: list[Any], register: Register, expected: dict[int, str]
) -> None:
    reasons = {e.name: e.reason for e in EXPECTATIONS}
    frame = quality_frame(batch, register)
    assert gate.check(frame) == {E[n]: Failure(name, reasons[name]) for n, name in expected.items()}


def test_gate_on_an_empty_frame(gate: QualityGate) -> None:
    assert gate.check(quality_frame([], Register())) == {}
    assert gate.check(pd.DataFrame(columns=list(FRAME_COLUMNS))) == {}


def test_expectations_are_well_formed() -> None:
    names = [e.name for e in EXPECTATIONS]
    assert len(names) == len(set(names))
    for expectation in EXPECTATIONS:
        assert expectation.kwargs["column"] in FRAME_COLUMNS, expectation.name
        reason = expectation.reason
        assert reason[:1].isupper() and reason.endswith(".") and len(reason.split()) >= 5, expectation.name
