"""Benchmarking: an organisation's rates beside the median of the member charities that opted in.

Hand-computed figures for Q1 2025, on SQLite and PostgreSQL. Every organisation reuses the same ids
(participant "p0", change "ch-1"...), so a query that forgot to join on org_id would mix them up.

    org       contributions  influenced  told   activity levels  areas   influence  closure  co-prod/user-led
    alpha          4             1        1     C C C P            1       25%      100%       25%
    bravo          4             2        2     C P                2       50%      100%       50%
    charlie        2             2        0     U                  3      100%        0%      100%
    delta          5             1        0     C                  4       20%        0%        0%
    echo           4             3        2     C C C P U          5       75%       67%       40%
    foxtrot        0             0        0     C C U U U U        6        —         —        67%
    hotel          1             1        0     U U                2      100%        0%      100%   never opts in
    golf           2             0        0     C                  1      (all in 2024: no figures in Q1)

(C consultation, P co-production, U user-led; every linked participant consents to contact.)

These organisations are too small to pass the rule of real activity (at least MIN_ACTIVITIES activities and
MIN_PARTICIPANTS participants), so here it is relaxed to one activity: tests/dashboard/test_benchmarking_attack.py
tests that rule, with the quarters, the bands and the operator's own organisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import benchmarking, metrics, shell
from dashboard import create_app as create_dashboard
from impact.auth.accounts import Organisation, Role, create_account, set_benchmarking
from impact.eventlog import EventLog, open_event_log
from impact.settings import Environment, Settings
from ingest import create_app as create_ingest
from schemas.readmodels import (
    Activity,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    Feedback,
    Participant,
)
from tests.factories import PASSWORD, csrf_from, sign_in

pytestmark = pytest.mark.twins  # SQL behaviour can differ: on SQLite and PostgreSQL

Q1 = metrics.Scope(org_id="alpha", start=date(2025, 1, 1), end=date(2025, 4, 1))
LEVEL = {"C": "consultation", "P": "co_production", "U": "user_led"}


@dataclass(frozen=True)
class Figures:
    said: int
    influenced: int
    told: int
    levels: str
    areas: int
    day: date = date(2025, 2, 10)


FIGURES = {
    "alpha": Figures(said=4, influenced=1, told=1, levels="CCCP", areas=1),
    "bravo": Figures(said=4, influenced=2, told=2, levels="CP", areas=2),
    "charlie": Figures(said=2, influenced=2, told=0, levels="U", areas=3),
    "delta": Figures(said=5, influenced=1, told=0, levels="C", areas=4),
    "echo": Figures(said=4, influenced=3, told=2, levels="CCCPU", areas=5),
    "foxtrot": Figures(said=0, influenced=0, told=0, levels="CCUUUU", areas=6),
    "hotel": Figures(said=1, influenced=1, told=0, levels="UU", areas=2),
    "golf": Figures(said=2, influenced=0, told=0, levels="C", areas=1, day=date(2024, 6, 1)),
}
NAMES = {org_id: f"{org_id.title()} Wellbeing Trust" for org_id in FIGURES}
FIVE = ("alpha", "bravo", "charlie", "delta", "echo")


def rows_of(org_id: str, figures: Figures) -> list[Any]:
    """The read-model rows that give `figures` (see the module's docstring)."""
    day, areas = figures.day, metrics.AREAS[: figures.areas]
    rows: list[Any] = [
        Activity(
            org_id=org_id,
            activity_id=f"a{i}",
            title="A meeting",
            area=areas[i % len(areas)],
            level=LEVEL[code],
            held_on=day,
            duration_hours=1.0,
        )
        for i, code in enumerate(figures.levels)
    ]
    for j in range(figures.said):
        area = areas[(len(figures.levels) + j) % len(areas)]
        rows += [
            Participant(
                org_id=org_id,
                participant_id=f"p{j}",
                role="patient",
                consent_to_contact=True,
                registered_at=datetime(2024, 1, 1, tzinfo=UTC),
            ),
            Contribution(org_id=org_id, contribution_id=f"c{j}", area=area, text="…", made_on=day),
            ContributionParticipant(org_id=org_id, contribution_id=f"c{j}", participant_id=f"p{j}"),
        ]
    if figures.influenced:
        rows.append(
            Change(
                org_id=org_id,
                change_id="ch-1",
                area=areas[0],
                title="A change",
                description="…",
                status="implemented",
                recorded_on=day,
                decided_on=day,
            )
        )
    rows += [
        ChangeLink(org_id=org_id, change_id="ch-1", contribution_id=f"c{j}", strength="major")
        for j in range(figures.influenced)
    ]
    sent_at = datetime.combine(day + timedelta(days=3), time(12), tzinfo=UTC)
    rows += [
        Feedback(
            event_id=f"{org_id}-fb-{j}",
            change_id="ch-1",
            org_id=org_id,
            participant_id=f"p{j}",
            channel="email",
            sent_at=sent_at,
        )
        for j in range(figures.told)
    ]
    return rows


@pytest.fixture(autouse=True)
def small_members(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(benchmarking, "MIN_ACTIVITIES", 1)
    monkeypatch.setattr(benchmarking, "MIN_PARTICIPANTS", 0)
    benchmarking._cache.clear()


@pytest.fixture
def members(engine: Engine) -> Engine:
    """Every organisation of FIGURES with its rows. Nobody has opted in yet."""
    with Session(engine) as session:
        session.add_all(Organisation(org_id=org_id, name=name) for org_id, name in NAMES.items())
        session.flush()
        for org_id, figures in FIGURES.items():
            session.add_all(rows_of(org_id, figures))
        session.commit()
    return engine


@pytest.fixture
def accounts(members: Engine) -> Engine:
    """Alpha (the reader) gets one account per role, "{role}@alpha.example.org", each with conftest's PASSWORD."""
    with Session(members) as session:
        for role in Role:
            create_account(
                session=session,
                org_id="alpha",
                email=f"{role}@alpha.example.org",
                name=role.title(),
                role=role,
                password=PASSWORD,
            )
        session.commit()
    return members


def opt_in(engine: Engine, *org_ids: str) -> None:
    with Session(engine) as session:
        for org_id in org_ids:
            set_benchmarking(session=session, org_id=org_id, on=True)
        session.commit()


def compare(engine: Engine, scope: metrics.Scope = Q1) -> benchmarking.Comparison | str | None:
    with engine.connect() as conn:
        return benchmarking.compare(conn, scope)


def table_of(comparison: Any) -> list[list[str]]:
    assert isinstance(comparison, benchmarking.Comparison), comparison
    [table] = benchmarking.section(comparison).tables
    return [list(row) for row in table.rows]


def section_text(section: Any) -> str:
    parts = [section.title, section.intro]
    for table in section.tables:
        parts += [table.caption, table.note or "", *table.columns, *(cell for row in table.rows for cell in row)]
    return " ".join(parts)


# --- compare ---------------------------------------------------------------------------------------------


def test_an_organisation_that_has_not_opted_in_sees_nothing(members: Engine) -> None:
    opt_in(members, "bravo", "charlie", "delta", "echo", "foxtrot")

    assert compare(members) is None  # alpha did not opt in: nothing, not even the sentence


def test_fewer_than_five_with_figures_gives_a_sentence_that_does_not_say_how_many(members: Engine) -> None:
    opt_in(members, "alpha", "bravo", "charlie", "delta", "golf")  # golf has no figures in Q1: it does not count

    found = compare(members)

    assert found == benchmarking.TOO_FEW
    assert "at least five" in found and "fewer than five" in found
    assert not any(digit in found for digit in "01234")


def test_five_give_exact_medians_and_opted_out_organisations_stay_out(members: Engine) -> None:
    opt_in(members, *FIVE, "golf")  # hotel's figures exist but it never opted in; golf has none in Q1

    found = compare(members)

    assert isinstance(found, benchmarking.Comparison) and found.organisations == 5
    assert table_of(found) == [
        ["Influence rate", "25%", "50 to 60%", "5"],  # median of 20, 25, 50, 75, 100
        ["Feedback closure rate", "not shown", "60 to 70%", "5"],  # of 0, 0, 2/3, 1, 1; alpha's own 1 of 1 is hidden
        ["Activities co-produced or user-led", "25%", "40 to 50%", "5"],  # of 0, 25, 40, 50, 100
        ["Areas with involvement", "1 of 16", "1 to 4 of 16", "5"],  # of 1, 2, 3, 4, 5
    ]
    assert [rate.median for rate in found.rates] == pytest.approx([0.5, 2 / 3, 0.4, 3])  # never shown exactly
    intro = benchmarking.section(found).intro
    assert "Q1 2025" in intro and "5 member charities that share their rates had real activity" in intro
    assert "yours among them." in intro

    as_golf = compare(members, replace(Q1, org_id="golf"))  # opted in, but no figures of its own in Q1

    assert isinstance(as_golf, benchmarking.Comparison) and not as_golf.yours_included
    assert table_of(as_golf) == [
        ["Influence rate", "—", "50 to 60%", "5"],
        ["Feedback closure rate", "—", "60 to 70%", "5"],
        ["Activities co-produced or user-led", "—", "40 to 50%", "5"],
        ["Areas with involvement", "0 of 16", "1 to 4 of 16", "5"],
    ]


def test_six_give_the_mean_of_the_middle_two_and_each_rate_counts_who_has_it(members: Engine) -> None:
    opt_in(members, *FIVE, "foxtrot")  # foxtrot held activities but heard no contributions

    found = compare(members)

    assert isinstance(found, benchmarking.Comparison) and found.organisations == 6
    assert table_of(found) == [
        ["Influence rate", "25%", "50 to 60%", "5"],
        ["Feedback closure rate", "not shown", "60 to 70%", "5"],
        ["Activities co-produced or user-led", "25%", "40 to 50%", "6"],  # (40 + 50) / 2 = 45
        ["Areas with involvement", "1 of 16", "1 to 4 of 16", "6"],  # (3 + 4) / 2
    ]
    assert [rate.median for rate in found.rates] == pytest.approx([0.5, 2 / 3, 0.45, 3.5])


def test_a_rate_fewer_than_five_have_is_not_shown(members: Engine) -> None:
    opt_in(members, "alpha", "bravo", "charlie", "delta", "foxtrot")  # five with figures, four with contributions

    assert table_of(compare(members)) == [
        ["Influence rate", "25%", "—", "fewer than 5"],
        ["Feedback closure rate", "not shown", "—", "fewer than 5"],
        ["Activities co-produced or user-led", "25%", "50 to 60%", "5"],  # of 0, 25, 50, 67, 100
        ["Areas with involvement", "1 of 16", "1 to 4 of 16", "5"],  # of 1, 2, 3, 4, 6
    ]


def test_your_values_are_the_dashboards_own_figures_under_every_filter(members: Engine) -> None:
    opt_in(members, *FIVE, "foxtrot", "golf")
    for scope in (Q1, replace(Q1, area=metrics.AREAS[0]), replace(Q1, level="consultation")):
        for org_id in FIVE:
            mine = replace(scope, org_id=org_id)
            found = compare(members, mine)
            assert isinstance(found, benchmarking.Comparison)
            with members.connect() as conn:
                figures = metrics.headline(conn, mine)
            expected: dict[str, float | None] = {
                "influence-rate": figures.influence_rate,
                "closure-rate": figures.feedback_closure_rate,
            }
            if scope.level is None:  # under a level filter every activity is at that level: left out
                mix, activities = figures.level_mix, sum(figures.level_mix.values())
                expected["partnership"] = (mix["co_production"] + mix["user_led"]) / activities if activities else None
            if scope.area is None:  # under an area filter coverage is 0 or 1 of 16: left out
                expected["area-coverage"] = float(figures.area_coverage)
            assert {rate.key: rate.yours for rate in found.rates} == pytest.approx(expected), (org_id, scope)


def test_nothing_names_another_organisation(members: Engine) -> None:
    opt_in(members, *FIVE, "foxtrot", "golf")

    found = compare(members)

    assert isinstance(found, benchmarking.Comparison)
    text = section_text(benchmarking.section(found)) + repr(found)
    others = [value for org_id, name in NAMES.items() if org_id != "alpha" for value in (org_id, name)]
    assert not [value for value in others if value.lower() in text.lower()]
    assert "6 member charities" in text  # alpha, bravo, charlie, delta, echo, foxtrot (golf has no figures)


# --- the admin's choice, on the ingest service -----------------------------------------------------------


@pytest.fixture
def ingest(accounts: Engine, log_settings: Callable[[str], Settings]) -> Iterator[Flask]:
    settings = log_settings("embedded")
    log: EventLog = open_event_log(settings)
    yield create_ingest(settings, log, test_config={"TESTING": True}, engine=accounts)  # CSRF stays on
    log.close()


def shares(engine: Engine, org_id: str) -> bool:
    with Session(engine) as session:
        organisation = session.get(Organisation, org_id)
        assert organisation is not None
        return organisation.benchmarking


def test_only_an_admin_with_the_forms_token_changes_their_own_organisations_choice(
    ingest: Flask, members: Engine
) -> None:
    for role in ("staff", "leadership"):
        client = ingest.test_client()
        sign_in(client, f"{role}@alpha.example.org")
        token = csrf_from(client, "/")  # a valid token: it is the role that is refused
        assert client.post("/admin/benchmarking", data={"share": "yes", "csrf_token": token}).status_code == 403
    admin = ingest.test_client()
    sign_in(admin, "admin@alpha.example.org")
    assert admin.post("/admin/benchmarking", data={"share": "yes"}).status_code == 400  # no CSRF token
    assert not shares(members, "alpha")
    index = admin.get("/admin/").get_data(as_text=True)
    assert "<legend>Share anonymised rates with other member charities?</legend>" in index
    assert "never counts of people" in index and "at least five" in index
    assert 'id="share-no" name="share" value="no" aria-describedby="share-no-hint" checked' in index

    token = csrf_from(admin, "/admin/")
    response = admin.post("/admin/benchmarking", data={"share": "yes", "org_id": "bravo", "csrf_token": token})

    assert response.status_code == 303
    assert shares(members, "alpha") and not shares(members, "bravo")  # always the admin's own organisation
    page = admin.get("/admin/").get_data(as_text=True)
    assert "now shares its anonymised rates" in page
    assert 'id="share-yes" name="share" value="yes" aria-describedby="share-yes-hint" checked' in page

    admin.post("/admin/benchmarking", data={"share": "no", "csrf_token": token})
    assert not shares(members, "alpha")
    assert "does not share its rates" in admin.get("/admin/").get_data(as_text=True)


# --- the overview page, through the dashboard's callback -------------------------------------------------


def by_id(tree: Any, found: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every component with an id in a serialised Dash tree: id -> its props."""
    found = {} if found is None else found
    if isinstance(tree, list):
        for child in tree:
            by_id(child, found)
    elif isinstance(tree, dict) and "props" in tree:
        if isinstance(tree["props"].get("id"), str):
            found[tree["props"]["id"]] = tree["props"]
        by_id(tree["props"].get("children"), found)
    return found


def text_of(tree: Any) -> str:
    if isinstance(tree, list):
        return " ".join(text_of(child) for child in tree)
    if isinstance(tree, dict):
        return text_of(tree.get("props", {}).get("children"))
    return "" if tree is None else str(tree)


def test_the_overview_shows_the_benchmark_table(accounts: Engine, tmp_path: Path) -> None:
    members = accounts
    settings = Settings(env=Environment.test, secret_key="t" * 40, data_dir=tmp_path / "var")
    client: FlaskClient = create_dashboard(settings, members).server.test_client()
    sign_in(client, "leadership@alpha.example.org")

    def overview() -> Any:
        response = client.post(
            "/_dash-update-component", json=shell.callback_body("/", "?from=2025-01-01&to=2025-03-31")
        )
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return response.get_json()["response"]["content"]["children"]

    assert "benchmark-table" not in by_id(overview())  # alpha has not opted in

    opt_in(members, "alpha", "bravo", "charlie", "delta")
    content = overview()
    assert "benchmark-table" not in by_id(content)
    assert benchmarking.TOO_FEW in text_of(content)

    opt_in(members, "echo")
    table = by_id(overview())["benchmark-table"]["children"]
    body = next(part for part in table if part["type"] == "Tbody")
    rows = [[text_of(cell) for cell in row["props"]["children"]] for row in body["props"]["children"]]
    assert rows[0] == ["Influence rate", "25%", "50 to 60%", "5"]
    assert text_of(table[0]) == "Your rates beside the median of 5 member charities, Q1 2025"

    with Session(members) as session:  # opting out shows at once, for everyone
        set_benchmarking(session=session, org_id="bravo", on=False)
        session.commit()
    assert benchmarking.TOO_FEW in text_of(overview())


@pytest.mark.parametrize(
    ("told", "owed", "shown"), [(5, 10, "50%"), (10, 10, "100%"), (1, 1, "not shown"), (6, 10, "not shown")]
)
def test_your_closure_rate_is_hidden_where_the_feedback_page_hides_it(told: int, owed: int, shown: str) -> None:
    others = {f"org-{n}": benchmarking.Counts(areas={"research"}, told=n, owed=10) for n in range(5)}
    yours = benchmarking.Counts(areas={"research"}, told=told, owed=owed)
    rate = benchmarking.benchmark("closure-rate", "Feedback closure rate", others, yours)
    comparison = benchmarking.Comparison(organisations=5, rates=(rate,))
    assert benchmarking.rows(comparison) == [["Feedback closure rate", shown, "20 to 30%", "5"]]
