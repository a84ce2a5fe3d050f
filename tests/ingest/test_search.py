"""Finding records: the staff lists searched and paged, the contributions list, and the pickers' search.

Rows are written straight into real read models (SQLite, and PostgreSQL for the tests whose SQL differs
there: ILIKE against lower() LIKE, the window count); erasure goes through the real processor. Pages are
asked for as a browser would, signed in, with the CSRF token where a form is posted.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session

from impact.eventlog import EventLog
from impact.settings import Settings
from ingest import create_app, lookups
from processors.quality import QualityGate
from schemas.readmodels import Activity, Change, Contribution, ContributionParticipant, Participant
from tests.factories import add_organisation, csrf_from, issue_token, process_all, sign_in

ORG, OTHER = "mind-leeds", "south-voices"
SECRET = "Amira Theirs"  # a person of the other organisation, whose name matches searches for "amira"
START = datetime(2026, 1, 1, tzinfo=UTC)
DASH = "\N{EN DASH}"  # between the first and last row shown


def person(org_id: str, number: int, name: str | None, *, erased: bool = False) -> Participant:
    return Participant(
        org_id=org_id,
        participant_id=f"p-{number:04d}",
        display_name=name,
        role="carer",
        registered_at=START + timedelta(hours=number),
        erased=erased,
    )


def seed(engine: Engine) -> None:
    """60 people of ORG (p-0000 the oldest), three of them Amira; activities, contributions and changes; and
    the other organisation's records, every one of which matches the searches below."""
    names = {7: "Amira Khan", 21: "amira shah", 42: "AMIRA KHAN-JONES", 50: "Dev 100% Patel", 51: "Jo_Smith"}
    with Session(engine) as session:
        for number in range(60):
            session.add(person(ORG, number, names.get(number, f"Person {number}")))
        session.add(person(OTHER, 7, SECRET))
        for org_id, title in ((ORG, "Evening café planning"), (OTHER, "Evening café of theirs")):
            session.add(
                Activity(
                    org_id=org_id,
                    activity_id="a-cafe",
                    title=title,
                    area="research",
                    level="consultation",
                    held_on=date(2026, 2, 1),
                    duration_hours=2,
                )
            )
            session.add(
                Change(
                    org_id=org_id,
                    change_id="ch-evening",
                    area="support",
                    title=f"{title}: open later",
                    description="We open later.",
                    status="agreed",
                    recorded_on=date(2026, 3, 1),
                )
            )
        for number in range(30):
            session.add(
                Contribution(
                    org_id=ORG,
                    contribution_id=f"c-{number:03d}",
                    area="support" if number % 2 else "training",
                    text=f"Point {number}: " + ("open the café in the evening" if number == 3 else "more large print"),
                    made_on=date(2026, 1, 1) + timedelta(days=number),
                )
            )
            session.add(
                ContributionParticipant(org_id=ORG, contribution_id=f"c-{number:03d}", participant_id=f"p-{number:04d}")
            )
        session.add(
            Contribution(
                org_id=OTHER,
                contribution_id="c-003",
                area="support",
                text="evening " + SECRET,
                made_on=date(2026, 1, 4),
            )
        )
        session.add(ContributionParticipant(org_id=OTHER, contribution_id="c-003", participant_id="p-0007"))
        session.commit()


@pytest.fixture
def app(settings: Settings, event_log: EventLog, engine: Engine) -> Flask:
    add_organisation(engine, ORG)
    add_organisation(engine, OTHER)
    return create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, f"staff@{ORG}.example.org")
    return client


def text_of(response: Any) -> str:
    return str(response.get_data(as_text=True))


# --- The queries, on both databases ---------------------------------------------------------------------------


@pytest.mark.twins
@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("amira", ["p-0042", "p-0021", "p-0007"]),  # any case, newest first
        ("AMIRA khan", ["p-0042", "p-0007"]),  # every word, anywhere in the name
        ("khan amira", ["p-0042", "p-0007"]),
        ("p-004", [f"p-{n:04d}" for n in range(49, 39, -1)]),  # a reference
        ("100%", ["p-0050"]),  # % and _ are literal, not wildcards
        ("jo_s", ["p-0051"]),
        ("%", ["p-0050"]),
        ("_", ["p-0051"]),
        ("nobody", []),
        ("  amira   shah ", ["p-0021"]),
    ],
)
def test_a_participant_search_finds_every_word_in_a_name_or_reference(
    engine: Engine, query: str, found: list[str]
) -> None:
    seed(engine)
    page = lookups.participant_page(engine, ORG, query=query, size=50)
    assert [p.participant_id for p in page.rows] == found
    assert page.total == len(found)


@pytest.mark.twins
def test_a_list_is_paged_newest_first_with_its_count(engine: Engine) -> None:
    seed(engine)
    first = lookups.participant_page(engine, ORG)
    assert (first.total, first.first, first.last, first.pages) == (60, 1, 25, 3)
    assert [p.participant_id for p in first.rows][:2] == ["p-0059", "p-0058"]
    assert first.has_next and not first.has_previous
    last = lookups.participant_page(engine, ORG, page=3)
    assert (last.first, last.last, len(last.rows), last.has_next) == (51, 60, 10, False)
    assert last.rows[-1].participant_id == "p-0000"
    beyond = lookups.participant_page(engine, ORG, page=9)
    assert (beyond.rows, beyond.total, beyond.first) == ([], 60, 0), "past the end: no rows, still the count"
    every = [p.participant_id for n in (1, 2, 3) for p in lookups.participant_page(engine, ORG, page=n).rows]
    assert len(set(every)) == 60, "the pages neither overlap nor skip anyone"


@pytest.mark.twins
def test_activities_changes_and_contributions_are_searched_by_their_own_words(engine: Engine) -> None:
    seed(engine)
    for query in ("café", "a-cafe", "research", "Research", "EVENING"):
        found = lookups.activity_page(engine, ORG, query=query)
        assert [a.title for a in found.rows] == ["Evening café planning"], query
    for query in ("open later", "ch-evening", "agreed", "Agreed"):
        assert [c.change_id for c in lookups.change_page(engine, ORG, query=query).rows] == ["ch-evening"], query
    assert lookups.change_page(engine, ORG, query="declined").total == 0
    said = lookups.contribution_page(engine, ORG, query="evening")
    assert [s.contribution.contribution_id for s in said.rows] == ["c-003"]
    assert said.rows[0].people == ["Person 3"]
    by_person = lookups.contribution_page(engine, ORG, query="amira")
    assert [s.contribution.contribution_id for s in by_person.rows] == ["c-021", "c-007"], "by who said it"
    assert lookups.contribution_page(engine, ORG, query="c-02").total == 10, "by reference"
    assert lookups.contribution_page(engine, ORG, query="training").total == 15, "by area"
    newest = lookups.contribution_page(engine, ORG)
    assert newest.total == 30 and newest.rows[0].contribution.contribution_id == "c-029"


@pytest.mark.twins
def test_no_search_returns_another_organisations_records(engine: Engine) -> None:
    seed(engine)
    for query in ("amira", "theirs", "p-0007", "evening", "café", "c-003", ""):
        rows: list[Any] = [
            *lookups.participant_page(engine, ORG, query=query, size=100).rows,
            *lookups.participants(engine, ORG, query=query, limit=1000),
            *lookups.participants(engine, ORG, including=["p-0007"], limit=0),
        ]
        assert all(p.org_id == ORG for p in rows) and SECRET not in {p.display_name for p in rows}, query
        items = [a.org_id for a in lookups.activity_page(engine, ORG, query=query).rows]
        items += [c.org_id for c in lookups.change_page(engine, ORG, query=query).rows]
        said = lookups.contribution_page(engine, ORG, query=query, size=100).rows
        said += lookups.contributions(engine, ORG, query=query, including=["c-003"])
        items += [s.contribution.org_id for s in said]
        assert set(items) <= {ORG}, query
        assert not any(SECRET in s.contribution.text or SECRET in s.people for s in said), query


# --- Erased people, through the real processor ------------------------------------------------------------------


def test_an_erased_person_is_not_found_by_their_old_name(
    app: Flask, staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(engine, ORG)}"
    when = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    def send(type_: str, payload: dict[str, Any]) -> None:
        response = client.post(
            "/api/v1/events", json={"type": type_, "org_id": ORG, "occurred_at": when, "payload": payload}
        )
        assert response.status_code == 202, text_of(response)

    send("participant.registered", {"participant_id": "p-zed", "display_name": "Zed Forgotten", "role": "carer"})
    send(
        "contribution.made",
        {"contribution_id": "c-zed", "participant_ids": ["p-zed"], "area": "support", "text": "Later buses."},
    )
    process_all(settings, engine, gate)
    assert "Zed Forgotten" in text_of(staff.get("/staff/participants?q=forgotten"))
    assert [m["id"] for m in staff.get("/staff/search/participants?q=zed").get_json()["matches"]] == ["p-zed"]

    send("participant.erased", {"participant_id": "p-zed"})
    process_all(settings, engine, gate)
    for path in (
        "/staff/participants?q=forgotten",
        "/staff/participants?q=zed",
        "/staff/participants",
        "/staff/contributions?q=forgotten",
        "/staff/contributions",
        "/staff/search/participants?q=zed+forgotten",
        "/staff/search/contributions?q=zed",
        "/staff/search/contributions?q=forgotten",
    ):
        assert "Zed" not in text_of(staff.get(path)), path
    assert lookups.participant_page(engine, ORG, query="p-zed").total == 0, "not by reference either"
    assert lookups.contribution_page(engine, ORG, query="forgotten").total == 0
    assert lookups.contribution_page(engine, ORG, query="buses").rows[0].people == ["(erased)"]


# --- The list pages ---------------------------------------------------------------------------------------------


def test_a_list_page_shows_its_count_and_links_to_the_next_and_previous_pages(
    staff: FlaskClient, engine: Engine
) -> None:
    seed(engine)
    page = text_of(staff.get("/staff/participants"))
    assert f"Showing 1{DASH}25 of 60 participants." in page
    assert 'rel="next" href="/staff/participants?page=2"' in page and 'rel="prev"' not in page
    assert "Page 1 of 3" in page
    second = text_of(staff.get("/staff/participants?page=2"))
    assert f"Showing 26{DASH}50 of 60 participants." in second
    assert 'rel="prev" href="/staff/participants"' in second and 'href="/staff/participants?page=3"' in second
    searched = text_of(staff.get("/staff/participants?q=amira"))
    assert f"Showing 1{DASH}3 of 3 participants matching “amira”." in searched and 'rel="next"' not in searched
    assert 'value="amira"' in searched and searched.index("AMIRA KHAN-JONES") < searched.index("Amira Khan")
    assert SECRET not in searched
    assert "No participants match “zzz”." in text_of(staff.get("/staff/participants?q=zzz"))
    assert "fewer than this page would start at" in text_of(staff.get("/staff/participants?page=7"))
    for path, expected in (
        ("/staff/activities?q=research", "Evening café planning"),
        ("/staff/changes?q=agreed", "Evening café planning: open later"),
        ("/staff/contributions?q=evening", "open the café in the evening"),
    ):
        found = text_of(staff.get(path))
        assert expected in found and f"Showing 1{DASH}1 of 1 " in found and "theirs" not in found, path


def test_the_contributions_list_links_each_to_its_record_page(staff: FlaskClient, engine: Engine, app: Flask) -> None:
    seed(engine)
    page = text_of(staff.get("/staff/contributions"))
    assert f"Showing 1{DASH}25 of 30 contributions." in page
    assert 'href="/staff/contributions/c-029"' in page and "Person 29" in page
    index = text_of(staff.get("/staff/"))
    assert 'href="/staff/contributions"' in index, "the start page links to the list"


@pytest.mark.parametrize(
    "query",
    [
        "%",
        "'",
        '"',
        "\\",
        "%25",
        "a" * 100,
        "\u202e\u0301",
        "😀",
        "<script>alert(1)</script>",
        "Robert'); DROP TABLE participant;--",
    ],
)
def test_odd_searches_answer_normally(staff: FlaskClient, engine: Engine, query: str) -> None:
    seed(engine)
    for path in ("/staff/participants", "/staff/activities", "/staff/contributions", "/staff/changes"):
        response = staff.get(path, query_string={"q": query})
        assert response.status_code == 200, (path, query)
        assert "<script>alert(1)</script>" not in text_of(response), "escaped"
    assert staff.get("/staff/search/participants", query_string={"q": query}).status_code == 200


@pytest.mark.parametrize("number", ["-1", "0", "abc", "99999999999999999999", "1.5", "", "٣"])
def test_odd_page_numbers_answer_normally(staff: FlaskClient, engine: Engine, number: str) -> None:
    seed(engine)
    response = staff.get("/staff/participants", query_string={"page": number})
    assert response.status_code == 200 and f"Showing 1{DASH}25 of 60" in text_of(response), number


def test_a_search_too_long_is_refused_with_a_message(staff: FlaskClient, engine: Engine) -> None:
    long = "a" * (lookups.QUERY_LENGTH + 1)
    for path in ("/staff/participants", "/staff/activities", "/staff/contributions", "/staff/changes"):
        response = staff.get(path, query_string={"q": long})
        assert response.status_code == 400, path
        assert f"Search for {lookups.QUERY_LENGTH} characters or fewer." in text_of(response)
        assert 'aria-invalid="true"' in text_of(response)
    assert staff.get("/staff/participants", query_string={"q": "a\x00b"}).status_code == 400, "NUL: refused"


# --- The pickers' search ----------------------------------------------------------------------------------------


def test_the_picker_search_answers_matches_of_the_organisation_only(staff: FlaskClient, engine: Engine) -> None:
    seed(engine)
    found = staff.get("/staff/search/participants?q=amira")
    assert found.status_code == 200 and found.headers["Cache-Control"] == "no-store"
    body = found.get_json()
    assert [m["id"] for m in body["matches"]] == ["p-0007", "p-0042", "p-0021"], "in name order, any case"
    assert body["message"] == "3 matches." and body["more"] is False
    assert SECRET not in json.dumps(body)
    many = staff.get("/staff/search/participants?q=person").get_json()
    assert len(many["matches"]) == 25 and many["more"] is True and many["message"] == "25+ matches."
    said = staff.get("/staff/search/contributions?q=evening").get_json()
    assert [m["id"] for m in said["matches"]] == ["c-003"] and said["matches"][0]["people"] == ["Person 3"]
    assert SECRET not in json.dumps(said)


@pytest.mark.parametrize(
    ("query", "message"),
    [("", "Type part of a name"), ("   ", "Type part of a name"), ("a" * 101, "100 characters or fewer")],
)
def test_the_picker_search_validates_what_it_is_asked(staff: FlaskClient, query: str, message: str) -> None:
    for kind in ("participants", "contributions"):
        response = staff.get(f"/staff/search/{kind}", query_string={"q": query})
        assert response.status_code == 400 and message in response.get_json()["message"]


def test_the_picker_search_needs_sign_in_with_a_role_that_records(app: Flask, engine: Engine) -> None:
    seed(engine)
    anonymous = app.test_client()
    for path in ("/staff/search/participants?q=amira", "/staff/search/contributions?q=amira", "/staff/contributions"):
        response = anonymous.get(path)
        assert response.status_code in {302, 401} and "Amira" not in text_of(response), path
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]
    leader = app.test_client()
    sign_in(leader, f"leadership@{ORG}.example.org")
    for path in ("/staff/search/participants?q=amira", "/staff/contributions"):
        assert leader.get(path).status_code == 403, path
    assert anonymous.post("/staff/search/pick", data={"participants": "p-0007"}).status_code in {302, 400, 401}


def test_a_picker_lists_the_first_hundred_and_finds_anyone_else(staff: FlaskClient, engine: Engine) -> None:
    seed(engine)
    with Session(engine) as session:
        for number in range(100, 160):
            session.add(person(ORG, number, f"Zoe {number}"))  # after everyone else by name
        session.commit()
    form = text_of(staff.get("/staff/activities/a-cafe/attendance"))
    assert len(re.findall(r'name="participants" value=', form)) == lookups.PICKER_LIMIT
    assert "Zoe 159" not in form and "only the first 100 people are listed until you search" in form
    assert 'data-search-url="/staff/search/participants"' in form
    assert form.index('<button type="submit" hidden') < form.index('name="picker-search"'), "Enter sends the form"

    # Without JavaScript: the Search button posts the form to pick, which comes back with the search.
    fields: dict[str, Any] = {
        "csrf_token": csrf_from(staff, "/staff/activities/a-cafe/attendance"),
        "picker-back": "/staff/activities/a-cafe/attendance",
    }
    fields |= {
        "participants": ["p-0007"],
        "find-participants": "zoe 159",
        "picker-search": "participants",
        "hours": "1",
    }
    fields |= {"submission": "x", "new": "token"}
    answer = staff.post("/staff/search/pick", data=fields)
    assert answer.status_code == 303
    target = urlsplit(answer.headers["Location"])
    assert target.path == "/staff/activities/a-cafe/attendance"
    carried = parse_qs(target.query)
    assert carried == {"participants": ["p-0007"], "new": ["token"], "find-participants": ["zoe 159"], "picked": ["1"]}
    assert "csrf_token" not in target.query and "hours" not in target.query, "only references and the search"
    shown = text_of(staff.get(f"{target.path}?{target.query}"))
    assert re.search(r'value="p-0007" checked', shown), "what was ticked stays ticked"
    assert 'value="p-0159"' in shown and "1 match for “zoe 159”." in shown
    assert len(re.findall(r'name="participants" value=', shown)) == 2

    elsewhere = staff.post("/staff/search/pick", data=fields | {"picker-back": "https://evil.example/staff/x"})
    assert urlsplit(elsewhere.headers["Location"]).netloc in {"", "localhost"}, "never another site"
    assert urlsplit(elsewhere.headers["Location"]).path == "/staff/"
    outside = staff.post("/staff/search/pick", data=fields | {"picker-back": "/admin/"})
    assert urlsplit(outside.headers["Location"]).path == "/staff/", "back to a staff page only"


def test_a_picker_keeps_everyone_ticked_after_a_refused_form(staff: FlaskClient, engine: Engine) -> None:
    seed(engine)
    with Session(engine) as session:
        for number in range(100, 160):
            session.add(person(ORG, number, f"Zoe {number}"))
        session.commit()
    token = csrf_from(staff, "/staff/activities/a-cafe/attendance")
    refused = staff.post(
        "/staff/activities/a-cafe/attendance",
        data={"csrf_token": token, "participants": ["p-0159"], "hours": "99", "session_role": "attendee"},
    )
    assert refused.status_code == 422
    assert re.search(r'value="p-0159" checked', text_of(refused)), "ticked from a search, still listed and ticked"


def test_no_picker_search_without_a_register_to_search(staff: FlaskClient, engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            Activity(
                org_id=ORG, activity_id="a-1", title="Panel", area="support", level="consultation",
                held_on=date(2026, 1, 1), duration_hours=1,
            )
        )  # fmt: skip
        session.commit()
    form = text_of(staff.get("/staff/activities/a-1/attendance"))
    assert "No participants are registered yet." in form and "data-search-url" not in form


def test_a_small_register_is_listed_whole_and_filtered_on_the_page(staff: FlaskClient, engine: Engine) -> None:
    seed(engine)
    form = text_of(staff.get("/staff/contributions/new"))
    assert len(re.findall(r'name="participants" value=', form)) == 60 and "data-search-url" not in form
