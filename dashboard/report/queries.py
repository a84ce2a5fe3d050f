"""The report's two queries of its own (the rest of its figures come from dashboard.metrics): the strength of
influence of the period's decided changes, and "you said, we did" examples. An example never quotes a
contribution made by a person whose details were erased."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, Connection, and_, exists, select

from dashboard.filters import long_date
from dashboard.metrics import CH, CL, CP, A, C, P, Scope, linked_changes
from dashboard.report.document import EXAMPLES, SAID_PER_EXAMPLE, STRENGTHS, Example
from dashboard.report.wording import quote
from schemas.vocab import DECIDED_STATUSES, INFLUENCING_STATUSES, label


def _decided_in(scope: Scope, statuses: Sequence[str]) -> list[ColumnElement[bool]]:
    """Conditions: the organisation's changes of these statuses, decided in the period, within area and level."""
    conditions: list[ColumnElement[bool]] = [
        CH.c.org_id == scope.org_id,
        CH.c.status.in_(statuses),
        CH.c.decided_on >= scope.start,
        CH.c.decided_on < scope.end,
    ]
    if scope.area:
        conditions.append(CH.c.area == scope.area)
    if scope.level:
        conditions.append(A.c.level == scope.level)
    return conditions


def strengths(conn: Connection, scope: Scope) -> dict[str, int]:
    """Links from contributions to changes decided in the period, by strength of influence."""
    query = (
        select(CL.c.strength, CL.c.change_id, CL.c.contribution_id)
        .distinct()
        .select_from(linked_changes(scope))
        .where(*_decided_in(scope, sorted(status.value for status in DECIDED_STATUSES)))
    )
    counts = dict.fromkeys(STRENGTHS, 0)
    for strength, _change, _contribution in conn.execute(query):
        counts[strength] = counts.get(strength, 0) + 1
    return counts


def examples(conn: Connection, scope: Scope) -> list[Example]:
    """The most recent agreed or implemented changes of the period with a linked contribution, and what was said."""
    influencing = sorted(status.value for status in INFLUENCING_STATUSES)
    changes = conn.execute(
        select(CH.c.change_id, CH.c.title, CH.c.description, CH.c.status, CH.c.decided_on, CH.c.area)
        .distinct()
        .select_from(linked_changes(scope))
        .where(*_decided_in(scope, influencing))
        .order_by(CH.c.decided_on.desc(), CH.c.change_id)
        .limit(EXAMPLES)
    ).all()
    if not changes:
        return []
    erased_contributor = exists(
        select(CP.c.participant_id)
        .select_from(CP.join(P, and_(P.c.org_id == CP.c.org_id, P.c.participant_id == CP.c.participant_id)))
        .where(CP.c.org_id == C.c.org_id, CP.c.contribution_id == C.c.contribution_id, P.c.erased.is_(True))
    )
    said_query = (
        select(CL.c.change_id, CL.c.strength, C.c.made_on, C.c.contribution_id, C.c.text)
        .select_from(linked_changes(scope))
        .where(CH.c.org_id == scope.org_id, CH.c.change_id.in_([row.change_id for row in changes]), ~erased_contributor)
    )
    if scope.level:
        said_query = said_query.where(A.c.level == scope.level)
    rank = {strength: index for index, strength in enumerate(reversed(STRENGTHS))}  # major first
    said: dict[str, list[tuple[int, date, str, str]]] = {}
    for change_id, strength, made_on, contribution_id, text in conn.execute(said_query):
        said.setdefault(change_id, []).append((rank.get(strength, len(rank)), made_on, contribution_id, text))
    examples = []
    for row in changes:
        behind = sorted(said.get(row.change_id, []), key=lambda item: (item[0], -item[1].toordinal(), item[2]))
        examples.append(
            Example(
                title=row.title,
                status=label(row.status),
                decided=long_date(row.decided_on),
                area=label(row.area),
                description=quote(row.description),
                said=[quote(text) for _rank, _made, _id, text in behind[:SAID_PER_EXAMPLE]],
            )
        )
    return examples
