"""Ingest at the door: what it accepts, what it refuses and why, and that a 202 always means stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session

from impact.auth.tokens import revoke_token, token_for
from impact.db import create_tables, engine_for
from impact.eventlog import EventLog, open_event_log
from impact.eventlog.embedded import EmbeddedLog
from impact.eventlog.kafka import KafkaLog
from impact.settings import LogBackend, Settings
from ingest import create_app
from schemas.events import MAX_BATCH, StoredEvent
from tests.factories import Broker, add_organisation, csrf_from, free_port, issue_token, sign_in

WHEN = (datetime.now(UTC) - timedelta(days=2)).isoformat()


def contribution(n: int = 0, **overrides: Any) -> dict[str, Any]:
    payload = {"contribution_id": f"c{n}", "participant_ids": ["p1"], "area": "support", "text": f"Idea {n}"}
    return {"type": "contribution.made", "org_id": "mind-leeds", "occurred_at": WHEN, "payload": payload} | overrides


@pytest.fixture
def settings(log_settings: Callable[[str], Settings]) -> Settings:
    return log_settings("embedded")


@pytest.fixture
def event_log(settings: Settings) -> Iterator[EventLog]:
    log = open_event_log(settings)
    yield log
    log.close()


ORG = "mind-leeds"


@pytest.fixture
def accounts(settings: Settings) -> Engine:
    """The accounts database (SQLite in the settings' data dir) with one organisation."""
    engine = engine_for(settings)
    create_tables(engine)
    add_organisation(engine, ORG)
    return engine


def api_client(settings: Settings, event_log: EventLog, accounts: Engine) -> FlaskClient:
    """A client of the API that sends a live token of ORG with every request."""
    client = create_app(settings, event_log, test_config={"TESTING": True}, engine=accounts).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(accounts, ORG)}"
    return client


@pytest.fixture
def client(settings: Settings, event_log: EventLog, accounts: Engine) -> FlaskClient:
    return api_client(settings, event_log, accounts)


@pytest.fixture
def staff(settings: Settings, event_log: EventLog, accounts: Engine) -> FlaskClient:
    """A browser-like client signed in as ORG's staff member."""
    client = create_app(settings, event_log, test_config={"TESTING": True}, engine=accounts).test_client()
    sign_in(client, f"staff@{ORG}.example.org")
    return client


def stored(log: EventLog, topic: str) -> list[StoredEvent]:
    assert isinstance(log, EmbeddedLog)
    return [StoredEvent.from_bytes(m.value) for m in log.read(topic, 0, 10_000)]


def test_one_event_is_accepted_and_stamped(client: FlaskClient, event_log: EventLog, settings: Settings) -> None:
    response = client.post("/api/v1/events", json=contribution())
    assert response.status_code == 202
    [event] = stored(event_log, settings.topic)
    assert response.get_json() == {"accepted": 1, "event_ids": [str(event.event_id)]}
    assert event.recorded_by.startswith("token:") and event.recorded_at >= event.occurred_at


def test_a_batch_of_the_maximum_size_is_accepted(client: FlaskClient, event_log: EventLog, settings: Settings) -> None:
    response = client.post("/api/v1/events", json=[contribution(i) for i in range(MAX_BATCH)])
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["accepted"] == MAX_BATCH
    assert len(stored(event_log, settings.topic)) == MAX_BATCH


def test_client_event_id_is_kept(client: FlaskClient, event_log: EventLog, settings: Settings) -> None:
    event_id = "0b6f0d3e-8a44-4b8e-9a55-2b1a1c3d4e5f"
    response = client.post("/api/v1/events", json=contribution(event_id=event_id))
    assert response.get_json()["event_ids"] == [event_id]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("{}", "text/plain", 415, "Content-Type: application/json"),
        ("{not json", "application/json", 400, "not valid JSON"),
        ("42", "application/json", 422, "one event as a JSON object"),
        ("[]", "application/json", 422, "need"),
        (json.dumps([contribution(i) for i in range(MAX_BATCH + 1)]), "application/json", 422, "need"),
        ("[" + " " * (2 * 1024 * 1024) + "]", "application/json", 413, "larger than 2,097,152 bytes"),
        (json.dumps(contribution() | {"colour": "blue"}), "application/json", 422, "1 field needs correcting"),
        (
            json.dumps(contribution() | {"payload": contribution()["payload"] | {"participant_ids": "p1"}}),
            "application/json",
            422,
            "1 field needs correcting",
        ),
    ],
    ids=[
        "wrong-content-type",
        "broken-json",
        "not-an-object",
        "empty-batch",
        "batch-over-1000",
        "body-over-2MiB",
        "unknown-field",
        "wrong-type",
    ],
)
def test_bad_requests_get_a_clear_4xx_and_store_nothing(
    client: FlaskClient,
    event_log: EventLog,
    settings: Settings,
    body: str,
    content_type: str,
    status: int,
    message: str,
) -> None:
    response = client.post("/api/v1/events", data=body, content_type=content_type)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert stored(event_log, settings.topic) == []


def test_one_bad_event_rejects_the_whole_batch_with_every_path(
    client: FlaskClient, event_log: EventLog, settings: Settings
) -> None:
    batch = [contribution(0), contribution(1, org_id="Not A Slug"), contribution(2, payload={"text": ""})]
    response = client.post("/api/v1/events", json=batch)
    assert response.status_code == 422
    paths = {error["path"] for error in response.get_json()["errors"]}
    assert paths == {
        "[1].org_id",
        "[2].payload.contribution_id",
        "[2].payload.participant_ids",
        "[2].payload.area",
        "[2].payload.text",
    }
    assert stored(event_log, settings.topic) == []


def test_repeated_event_ids_in_one_batch_are_refused(client: FlaskClient) -> None:
    twice = "0b6f0d3e-8a44-4b8e-9a55-2b1a1c3d4e5f"
    response = client.post("/api/v1/events", json=[contribution(0, event_id=twice), contribution(1, event_id=twice)])
    assert response.status_code == 422
    assert twice in response.get_json()["error"]


def test_accepted_events_survive_later_bad_requests(
    client: FlaskClient, event_log: EventLog, settings: Settings
) -> None:
    assert client.post("/api/v1/events", json=contribution(1)).status_code == 202
    assert client.post("/api/v1/events", json=contribution(2, type="no.such")).status_code == 422
    oversized = "x" * (settings.max_body_bytes + 1)
    assert client.post("/api/v1/events", data=oversized, content_type="application/json").status_code == 413
    assert [e.payload["contribution_id"] for e in stored(event_log, settings.topic)] == ["c1"]


def test_an_unwritable_log_answers_503_with_retry_after(settings: Settings, accounts: Engine, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("where the log's folder should be")
    broken = EmbeddedLog(blocker / "events.db")
    client = api_client(settings, broken, accounts)
    response = client.post("/api/v1/events", json=contribution())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "not accepted" in response.get_json()["error"]
    assert len(response.get_json()["event_ids"]) == 1  # what to retry with
    assert client.get("/healthz").status_code == 503


def test_form_posts_without_a_csrf_token_are_refused(
    staff: FlaskClient, event_log: EventLog, settings: Settings
) -> None:
    fields = {"participants": "p1", "area": "support", "made_on": "2026-01-05", "text": "x"}
    response = staff.post("/staff/contributions/new", data=fields)
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert stored(event_log, settings.topic) == []
    fields["csrf_token"] = csrf_from(staff, "/staff/contributions/new")
    assert staff.post("/staff/contributions/new", data=fields).status_code == 302, "the same post with its token"
    assert len(stored(event_log, settings.topic)) == 1


def test_form_shows_free_text_escaped_after_an_error(staff: FlaskClient) -> None:
    token = csrf_from(staff, "/staff/contributions/new")
    hostile = "<script>alert('x')</script>"
    response = staff.post(
        "/staff/contributions/new",
        data={"csrf_token": token, "participants": "", "area": "", "text": hostile},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert hostile not in body and "&lt;script&gt;" in body


# --- A broker that goes away mid-stream -------------------------------------------------------


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test's own, which the test may stop and start again."""
    broker = Broker(tmp_path / "broker", free_port())
    broker.start()
    yield broker
    broker.stop()


def test_kafka_down_means_503_and_every_202_is_in_the_log(
    private_broker: Broker, settings: Settings, accounts: Engine
) -> None:
    bootstrap, start, stop = private_broker.bootstrap, private_broker.start, private_broker.stop
    kafka_settings = settings.model_copy(update={"event_log": LogBackend.kafka, "kafka_bootstrap": bootstrap})
    log = KafkaLog(bootstrap, topics=(settings.topic, settings.dead_letter_topic), timeout_s=3)
    client = api_client(kafka_settings, log, accounts)
    answers = [client.post("/api/v1/events", json=contribution(1))]
    stop()
    answers.append(client.post("/api/v1/events", json=contribution(2)))
    start()
    # A client honours Retry-After and resends the same event (same event_id) until it is accepted.
    retried = contribution(3, event_id="7d1e2c3b-4a5f-4e6d-8c7b-9a0f1e2d3c4b")
    for _ in range(10):
        answers.append(client.post("/api/v1/events", json=retried))
        if answers[-1].status_code == 202:
            break
    log.close()

    codes = [a.status_code for a in answers]
    assert codes[:2] == [202, 503] and codes[-1] == 202 and set(codes[2:-1]) <= {503}, codes
    assert answers[1].headers["Retry-After"]
    accepted = {i for a in answers if a.status_code == 202 for i in a.get_json()["event_ids"]}
    unconfirmed = {i for a in answers if a.status_code == 503 for i in a.get_json()["event_ids"]}
    reader = KafkaLog(bootstrap, topics=(settings.topic,), timeout_s=5)
    try:
        in_log: list[str] = []
        with reader.consumer(settings.topic, "check") as consumer:
            for _ in range(20):
                in_log += [str(StoredEvent.from_bytes(m.value).event_id) for m in consumer.poll(100, 200)]
        assert accepted <= set(in_log), "every 202 is in the log"
        assert set(in_log) <= accepted | unconfirmed, "nothing else"
    finally:
        reader.close()


def test_control_characters_in_free_text_are_refused(client: FlaskClient) -> None:
    response = client.post("/api/v1/events", json=contribution(payload={**contribution()["payload"], "text": "a\x00b"}))
    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"path": "payload.text", "message": "remove the control characters (such as NUL) from the text"}
    ]


def test_deeply_nested_json_is_a_400_not_a_crash(client: FlaskClient) -> None:
    response = client.post("/api/v1/events", data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400


def test_an_unknown_type_points_at_type(client: FlaskClient) -> None:
    response = client.post("/api/v1/events", json=contribution(type="contribution.invented"))
    assert response.status_code == 422
    assert [e["path"] for e in response.get_json()["errors"]] == ["type"]


def test_responses_carry_security_headers(staff: FlaskClient) -> None:
    headers = staff.get("/staff/contributions/new").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"


def test_the_form_refuses_a_future_date(staff: FlaskClient, event_log: EventLog, settings: Settings) -> None:
    token = csrf_from(staff, "/staff/contributions/new")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    fields = {"participants": "p1", "area": "support", "made_on": tomorrow, "text": "x"}
    response = staff.post("/staff/contributions/new", data={"csrf_token": token, **fields})
    assert response.status_code == 422
    assert "cannot be in the future" in response.get_data(as_text=True)
    assert stored(event_log, settings.topic) == []


def test_session_cookies_are_secure_in_production(settings: Settings, event_log: EventLog, accounts: Engine) -> None:
    production = settings.model_copy(update={"env": "production", "database_url": "sqlite:///unused.db"})
    config = create_app(production, event_log, engine=accounts).config
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True and config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert create_app(settings, event_log, engine=accounts).config["SESSION_COOKIE_SECURE"] is False


# --- Tokens, organisations and retries ----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [(None, "Authorization: Bearer"), ("Basic dXNlcjpwdw==", "Authorization: Bearer"), ("Bearer ii_guess", "revoked")],
    ids=["no-header", "not-bearer", "unknown-token"],
)
def test_the_api_needs_a_live_token(
    settings: Settings, event_log: EventLog, accounts: Engine, header: str | None, message: str
) -> None:
    client = create_app(settings, event_log, test_config={"TESTING": True}, engine=accounts).test_client()
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/v1/events", json=contribution(), headers=headers)
    assert response.status_code == 401
    assert message in response.get_json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored(event_log, settings.topic) == []


def test_a_revoked_token_stops_working_at_once(
    settings: Settings, event_log: EventLog, accounts: Engine, client: FlaskClient
) -> None:
    assert client.post("/api/v1/events", json=contribution(1)).status_code == 202
    secret = client.environ_base["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    with Session(accounts) as session:
        token = token_for(session=session, secret=secret)
        assert token is not None and token.id is not None
        revoke_token(session=session, org_id=ORG, token_id=token.id)
        session.commit()
    response = client.post("/api/v1/events", json=contribution(2))
    assert response.status_code == 401
    assert [e.payload["contribution_id"] for e in stored(event_log, settings.topic)] == ["c1"]


def test_a_token_records_for_its_own_organisation_only(
    client: FlaskClient, event_log: EventLog, settings: Settings, accounts: Engine
) -> None:
    add_organisation(accounts, "other-charity")
    response = client.post("/api/v1/events", json=[contribution(1), contribution(2, org_id="other-charity")])
    assert response.status_code == 403
    assert "'mind-leeds' only" in response.get_json()["error"] and "[1].org_id" in response.get_json()["error"]
    assert stored(event_log, settings.topic) == []


def test_a_retry_with_the_same_event_id_gets_the_same_answer_and_stores_one_fact(
    client: FlaskClient, event_log: EventLog, settings: Settings
) -> None:
    event = contribution(1, event_id="3f2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d")
    first = client.post("/api/v1/events", json=event)
    again = client.post("/api/v1/events", json=event)
    assert first.status_code == again.status_code == 202
    assert first.get_json() == again.get_json() == {"accepted": 1, "event_ids": [event["event_id"]]}
    assert len(stored(event_log, settings.topic)) == 1, "the retry appended nothing"


def test_an_event_id_reused_for_a_different_event_is_refused(
    client: FlaskClient, event_log: EventLog, settings: Settings
) -> None:
    event_id = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
    assert client.post("/api/v1/events", json=contribution(1, event_id=event_id)).status_code == 202
    response = client.post("/api/v1/events", json=[contribution(2), contribution(3, event_id=event_id)])
    assert response.status_code == 409
    assert response.get_json()["event_ids"] == [event_id]
    assert "already names a different event" in response.get_json()["error"]
    assert [e.payload["contribution_id"] for e in stored(event_log, settings.topic)] == ["c1"]


def test_a_retry_after_a_failed_append_is_stored_and_a_changed_one_refused(
    settings: Settings, event_log: EventLog, accounts: Engine, tmp_path: Path
) -> None:
    """The receipt is claimed before the append: the 503's event is appended by its retry, never lost."""
    blocker = tmp_path / "a-file"
    blocker.write_text("where the log's folder should be")
    event = contribution(1, event_id="6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f")
    assert (
        api_client(settings, EmbeddedLog(blocker / "events.db"), accounts)
        .post("/api/v1/events", json=event)
        .status_code
        == 503
    )
    client = api_client(settings, event_log, accounts)
    changed = client.post("/api/v1/events", json=contribution(2, event_id=event["event_id"]))
    assert changed.status_code == 409, "the unconfirmed claim still names its event"
    assert client.post("/api/v1/events", json=event).status_code == 202
    assert [e.payload["contribution_id"] for e in stored(event_log, settings.topic)] == ["c1"]
    assert client.post("/api/v1/events", json=event).status_code == 202
    assert len(stored(event_log, settings.topic)) == 1, "confirmed now: a further retry appends nothing"


def test_racing_requests_with_one_event_id_never_both_win_with_different_events(
    settings: Settings, event_log: EventLog, accounts: Engine
) -> None:
    event_id = "7b6a5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
    clients = [api_client(settings, event_log, accounts) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda n: clients[n].post("/api/v1/events", json=contribution(n, event_id=event_id)), range(8))
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [202] + [409] * 7, codes
    [winner] = [n for n, a in enumerate(answers) if a.status_code == 202]
    assert [e.payload["contribution_id"] for e in stored(event_log, settings.topic)] == [f"c{winner}"]


def test_the_favicon_is_answered_without_a_session_cookie(client: FlaskClient) -> None:
    """Browsers fetch it in parallel with a sign-in: an answer that set the session cookie could undo the sign-in."""
    response = client.get("/favicon.ico")
    assert response.status_code == 204
    assert "Set-Cookie" not in response.headers
