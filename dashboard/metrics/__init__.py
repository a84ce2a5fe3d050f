"""Impact metrics (DOMAIN.md, "Impact metrics"): SQL over the read models, one organisation at a time.

Every function takes a `Scope`: one organisation, a period of days `[start, end)` (start included, end
excluded), and optionally one activity `area` and one involvement `level`. Every query filters by
`org_id` first and joins on `org_id` as well as on the identifier, so nothing crosses organisations.
The database aggregates (GROUP BY, COUNT DISTINCT); Python only shapes the few result rows, and
computes medians and day differences from a fetched list bounded to the organisation and the period
(so SQLite and PostgreSQL give identical answers).

    headline(conn, scope) -> Headline            every figure for the whole period
    monthly(conn, scope)  -> list[MonthFigures]  the same figures per calendar month of the period
    trend(conn, scope)    -> list[TrendMonth]    four of them per month, in four grouped queries (for charts)
    area_totals(conn, scope) -> dict[area, AreaTotals]  five of them per area, in five grouped queries
    by_area(conn, scope)  -> dict[area, Headline]  the same figures per activity area (all sixteen)
    reach(conn, scope)    -> {field: {value: participants}}
    data_quality(conn, scope) -> DataQuality     events accepted and rejected, by reason and by month
    report(conn, scope)   -> Report              all of the above
    suppress(count)       -> count or None       the dashboard's small-count rule (never applied here)

Pass a SQLAlchemy `Connection` (from a SQLModel `Session`: `session.connection()`).

The package is one public API, re-exported here: `scope` (the `Scope`, the figure dataclasses and the
small-count rule), `queries` (table handles and query building blocks that pages extend with their own
tables: `select_activities`, `changes_where`, `linked_changes`, `feedback_pairs`, ...) and `figures`
(the functions above). Import them from `dashboard.metrics`, not from its modules.

Definitions (where DOMAIN.md is silent, the decision is written here):

Dates. An attendance happens on `Attendance.attended_on`, a contribution on `Contribution.made_on`, an
activity on `Activity.held_on`. A month is a calendar month; `monthly` clips the first and last month
to the period, so its months always add up to the period.

Area and level. The area of an activity is `Activity.area`; of an attendance, its activity's area;
of a contribution, `Contribution.area` (not its activity's). The level filter applies to activities,
to attendances via their activity, and to contributions via their activity: with a level filter, a
contribution made outside any activity is excluded. Metrics counted in changes (changes influenced,
days to change, feedback) use the change's own `Change.area`; with a level filter, a change counts
only through its links to contributions at that level.

Participants involved: distinct participants with at least one attendance or contribution in the
period (within the area/level filter). Erased participants are still counted: the count holds no
personal data.

New participants: involved in the period AND their first-ever involvement with the organisation (any
area, any level, all time) is on or after the period's start. Returning participants: involved in the
period AND involved with the organisation (any area, any level) in two or more distinct calendar
months before the period's end. For one month the two partition the month's participants (new:
first involvement this month; returning: also involved in an earlier month), so new + returning =
involved. Over a longer period a participant can be both: first involved in it, and in two of its
months.

Activities: count held in the period. Attendances: count, and involvement hours: sum of
`Attendance.hours` (an attendance is counted through its activity, which the quality gate guarantees).
Contributions: count made in the period.

Changes influenced, by status: changes with at least one linked contribution, by their current
status. A `proposed` change counts in the period holding its `recorded_on`; a decided one (`agreed`,
`implemented`, `declined`) in the period holding its `decided_on`. Every status appears (0 if none).

Influence rate: contributions of the period linked to a change whose current status is `agreed` or
`implemented` (whenever it was decided) ÷ all contributions of the period; None without contributions.

Days to change: the median, over every (contribution, change) link whose change was decided
(`agreed`, `implemented` or `declined`) in the period, of `decided_on - made_on` in days (a change
decided the day of the contribution is 0 days). An even count takes the mean of the middle two.
None without any such link.

Feedback closure rate: over (participant, change) pairs where the change was decided in the period,
the participant made a contribution linked to it, and the participant currently consents to contact
and is not erased: the pairs with at least one `feedback.sent` for that change ÷ all such pairs. A
pair, not a person, is the unit, because each decided change owes its own summary. Consent is the
current state, so a person who withdrew it after being told leaves numerator and denominator alike.
None without any such pair.

Days to feedback: over the closed pairs above, the median of (the date of the first feedback for that
participant and change) - `decided_on`, in days. None without closed pairs.

Level mix: activities of the period at each level (every level listed, 0 if none), and each level's
share of them (None when there are no activities).

Area coverage: how many of the sixteen areas saw involvement in the period: an activity held, an
attendance (its activity's area) or a contribution (its own area). Recording a change is not
involvement and does not count.

Reach: the involved participants (as above) by role and by each voluntary demographic field. An
unanswered field is `not_answered`; "prefer not to say" stays `prefer_not_to_say`. An erased
participant counts as `erased` in every field, role included, so no erased person's details shape a
figure. Each field's counts add up to the participants involved. Only values with a count appear.
Small counts are NOT suppressed here: suppression (1 to 4 shown as "fewer than 5") is the display
rule of the dashboard, which `suppress` provides.

Data quality: events accepted (`ProcessedEvent`, by `recorded_on`, the day ingest recorded them) and
rejected (`DeadLetter`, by `recorded_on`, grouped by `expectation`), per month and overall; how many
rejections were since resolved by a correcting event. Area and level do not apply to events and are
ignored. A dead letter that could not be read has no `recorded_on` and falls in no period.
"""

from __future__ import annotations

from dashboard.metrics.figures import (
    area_totals,
    by_area,
    data_quality,
    feedback_days,
    headline,
    monthly,
    participant_counts,
    reach,
    report,
    trend,
)
from dashboard.metrics.queries import (
    AT,
    CH,
    CL,
    CP,
    DECIDED,
    DL,
    FB,
    INFLUENCING,
    PE,
    A,
    C,
    P,
    as_date,
    changes_where,
    during,
    feedback_pairs,
    linked_changes,
    month_number,
    same,
    select_activities,
    select_attendances,
    select_contributions,
    select_involved,
    table_of,
)
from dashboard.metrics.scope import (
    AREAS,
    ERASED,
    LEVELS,
    NOT_ANSWERED,
    REACH_FIELDS,
    SMALL_COUNT,
    STATUSES,
    UNKNOWN,
    AreaTotals,
    DataQuality,
    Headline,
    MonthFigures,
    QualityMonth,
    Report,
    Scope,
    TrendMonth,
    median,
    rate,
    suppress,
)

__all__ = [
    "AREAS",
    "AT",
    "CH",
    "CL",
    "CP",
    "DECIDED",
    "DL",
    "ERASED",
    "FB",
    "INFLUENCING",
    "LEVELS",
    "NOT_ANSWERED",
    "PE",
    "REACH_FIELDS",
    "SMALL_COUNT",
    "STATUSES",
    "UNKNOWN",
    "A",
    "AreaTotals",
    "C",
    "DataQuality",
    "Headline",
    "MonthFigures",
    "P",
    "QualityMonth",
    "Report",
    "Scope",
    "TrendMonth",
    "area_totals",
    "as_date",
    "by_area",
    "changes_where",
    "data_quality",
    "during",
    "feedback_days",
    "feedback_pairs",
    "headline",
    "linked_changes",
    "median",
    "month_number",
    "monthly",
    "participant_counts",
    "rate",
    "reach",
    "report",
    "same",
    "select_activities",
    "select_attendances",
    "select_contributions",
    "select_involved",
    "suppress",
    "table_of",
    "trend",
]
