"""The annual report's sections, built from figures alone: pure functions, no database and no Flask, so each
is tested from a `Headline` made by hand. Part one follows the six UK Standards for Public Involvement, part
two the GRIPP2 short form. Where the platform records nothing for what a section asks, the section says so
in words, never with a made-up figure.

Privacy: every count of people is shown through `format_people` (1 to 4 become "fewer than 5"), and a second
cell is hidden where one alone would be worked out from a total, as on the People page.
"""

from __future__ import annotations

from dashboard import metrics
from dashboard.filters import Filters
from dashboard.formatting import (
    field_name,
    format_count,
    format_hours,
    format_month,
    format_people,
    format_percent,
    value_label,
)
from dashboard.metrics import AREAS, LEVELS, SMALL_COUNT, STATUSES, Headline
from dashboard.pages import feedback, people
from dashboard.report.document import EXAMPLES, GOVERNANCE_AREAS, STRENGTHS, Example, Figure, ReportSection
from dashboard.report.wording import capitalised, counted, in_days, in_people, lower_label, told_and_waiting
from dashboard.tables import Table
from schemas.vocab import label, title


def standards(
    h: Headline,
    reach: dict[str, dict[str, int]],
    areas: dict[str, metrics.AreaTotals],
    months: list[metrics.TrendMonth],
    filters: Filters,
) -> list[ReportSection]:
    """Part one: a section per UK Standard for Public Involvement."""
    return [
        _inclusive(h, reach),
        _working_together(h, areas, months),
        _support_and_learning(),
        _governance(areas, filters),
        _communications(h),
        _impact(h),
    ]


def gripp2(
    h: Headline,
    filters: Filters,
    examples: list[Example],
    strengths: dict[str, int],
    quality: metrics.DataQuality,
) -> list[ReportSection]:
    """Part two: a section per item of the GRIPP2 short form."""
    return [
        _aim(filters),
        _methods(h),
        _results(h, examples),
        _discussion(h, strengths),
        _reflections(h, quality),
    ]


def _protected(counts: dict[str, int]) -> list[tuple[str, str]]:
    """One field's counts as the People page shows them: 1 to 4 hidden, and a second cell where one alone
    would be worked out from the total (dashboard/pages/people.py)."""
    hidden = people.complementary(list(counts.values()))
    return [
        (value_label(value), people.cell(count, index in hidden)) for index, (value, count) in enumerate(counts.items())
    ]


def _inclusive(h: Headline, reach: dict[str, dict[str, int]]) -> ReportSection:
    tables = [
        Table(
            key=f"reach-{name}",
            caption=f"People involved by {field_name(name)}",
            columns=(title(name), "People involved"),
            rows=_protected(reach.get(name, {})),
            numeric=(1,),
        )
        for name in metrics.REACH_FIELDS
        if reach.get(name)
    ]
    text = [
        f"{capitalised(in_people(h.participants_involved))} took part in at least one activity or made at least one "
        f"contribution; involvement reached {h.area_coverage} of the {len(AREAS)} activity areas.",
        "Age band, gender, ethnicity, disability and region are voluntary: “Not answered” counts those who gave none.",
    ]
    if not tables:
        text.append("No one was involved in this period, so there is no breakdown by role or background.")
    new, returning = people.new_and_returning(h.participants_involved, h.new_participants, h.returning_participants)
    return ReportSection(
        key="inclusive-opportunities",
        number="Standard 1",
        title="Inclusive opportunities",
        about="Offer involvement opportunities that are accessible and that reach the people and groups the "
        "work needs.",
        figures=[
            Figure("People involved", format_people(h.participants_involved)),
            # as on the People page: hidden where they would let a count of 1 to 4 be worked out
            Figure("New to involvement", new),
            Figure("Involved in two or more months", returning),
            Figure("Activity areas with involvement", f"{h.area_coverage} of {len(AREAS)}"),
        ],
        text=text,
        tables=tables,
        not_recorded=[
            "The platform does not record how opportunities were advertised, who applied but was not involved, "
            "or the adjustments made so people could take part; add them here."
        ],
    )


def _working_together(
    h: Headline, areas: dict[str, metrics.AreaTotals], months: list[metrics.TrendMonth]
) -> ReportSection:
    levels = Table(
        key="levels",
        caption="Activities by level of involvement",
        columns=("Level of involvement", "Activities", "Share of activities"),
        rows=[
            (label(level), format_count(h.level_mix.get(level, 0)), format_percent(h.level_share.get(level)))
            for level in LEVELS
        ],
        numeric=(1, 2),
    )
    by_area = Table(
        key="areas",
        caption="Involvement by activity area (areas with any involvement or change)",
        columns=("Activity area", "People involved", "Activities", "Hours", "Contributions", "Changes influenced"),
        rows=[
            (
                label(area),
                format_people(figures.participants_involved),
                format_count(figures.activities),
                format_hours(figures.involvement_hours),
                format_count(figures.contributions),
                format_count(figures.changes_influenced),
            )
            for area, figures in areas.items()
            if figures.any
        ],
        numeric=(1, 2, 3, 4, 5),
    )
    by_month = Table(
        key="months",
        caption="Involvement month by month",
        # no count of attendances: beside a hidden count of people, one attendance would tell it was one person
        columns=("Month", "People involved", "Hours", "Contributions", "Changes influenced"),
        rows=[
            (
                format_month(month.month),
                format_people(month.participants_involved),
                format_hours(month.involvement_hours),
                format_count(month.contributions),
                format_count(month.changes_influenced),
            )
            for month in months
        ],
        numeric=(1, 2, 3, 4),
    )
    return ReportSection(
        key="working-together",
        number="Standard 2",
        title="Working together",
        about="Work together in a way that values all contributions, and that builds and sustains mutually "
        "respectful and productive relationships.",
        figures=[
            Figure("Activities held", format_count(h.activities)),
            Figure("Attendances", format_count(h.attendances)),
            Figure("Hours of involvement", format_hours(h.involvement_hours)),
            Figure("Contributions", format_count(h.contributions)),
        ],
        text=[
            "Levels of involvement: consultation asks people for their views; co-production works in "
            "partnership with them; user-led work is led by people with lived experience."
        ],
        tables=[levels, by_area, by_month] if by_area.rows else [levels, by_month],
        not_recorded=[
            "The platform does not record how people felt about working together (for example a survey of "
            "those involved); add it here."
        ],
    )


def _support_and_learning() -> ReportSection:
    return ReportSection(
        key="support-and-learning",
        number="Standard 3",
        title="Support and learning",
        about="Offer and promote support and learning that builds confidence and skills for public involvement.",
        not_recorded=[
            "The platform does not record training or support offered to people who take part, payments and "
            "expenses, or learning for staff about involvement; add them here."
        ],
    )


def _governance(areas: dict[str, metrics.AreaTotals], filters: Filters) -> ReportSection:
    shown = [area for area in GOVERNANCE_AREAS if area in areas]
    table = Table(
        key="governance",
        caption="Involvement in governance and in strategy, policy and planning",
        columns=("Activity area", "People involved", "Activities", "Contributions", "Changes influenced"),
        rows=[
            (
                label(area),
                format_people(areas[area].participants_involved),
                format_count(areas[area].activities),
                format_count(areas[area].contributions),
                format_count(areas[area].changes_influenced),
            )
            for area in shown
        ],
        numeric=(1, 2, 3, 4),
    )
    text = []
    if not shown and filters.area:
        text.append(
            f"This report is limited to the {label(filters.area)} area, so involvement in governance and in "
            "strategy, policy and planning is not shown."
        )
    return ReportSection(
        key="governance",
        number="Standard 4",
        title="Governance",
        about="Involve people with lived experience in governance, leadership and decision making.",
        text=text,
        tables=[table] if shown else [],
        not_recorded=[
            "The platform does not record whether people with lived experience sit on the board or its "
            "committees, or the budget for involvement; add them here."
        ],
    )


def _communications(h: Headline) -> ReportSection:
    told, not_told = told_and_waiting(h)
    return ReportSection(
        key="communications",
        number="Standard 5",
        title="Communications",
        about="Use plain language for well-timed and relevant communications, as part of involvement plans "
        "and activities.",
        figures=[
            # hidden as on the Feedback loop page where the rate would reveal a count of 1 to 4
            Figure("Feedback closure rate", feedback.closure_rate(h.feedback_sent, h.feedback_due)),
            Figure("Told what came of what they said", told),
            Figure("Owed a summary, not yet sent", not_told),
            # as on the Feedback loop page: not over 1 to 4 summaries, which it would all but date one by one
            Figure(
                "Median days from decision to summary",
                people.HIDDEN if 0 < h.feedback_sent < SMALL_COUNT else in_days(h.days_to_feedback),
            ),
        ],
        text=[
            "When a change is decided, everyone whose contribution is linked to it and who agreed to be "
            "contacted is owed a plain-English summary of what came of it. Each person is counted once per "
            "decided change."
        ],
        not_recorded=[
            "The platform records only these “you made a difference” summaries; other communications (such as "
            "newsletters, role descriptions or plain-language summaries of the work) are not recorded; add "
            "them here."
        ],
    )


def _impact(h: Headline) -> ReportSection:
    statuses = Table(
        key="changes",
        caption="Changes influenced by contributions, by status",
        columns=("Status", "Changes"),
        rows=[
            *((label(status), format_count(h.changes_influenced.get(status, 0))) for status in STATUSES),
            ("All changes", format_count(h.changes_influenced_total)),
        ],
        numeric=(1,),
    )
    return ReportSection(
        key="impact",
        number="Standard 6",
        title="Impact",
        about="Seek improvement by identifying and sharing the difference that involvement makes.",
        figures=[
            Figure("Contributions", format_count(h.contributions)),
            Figure("Linked to an agreed or implemented change", format_count(h.influenced_contributions)),
            Figure("Influence rate", format_percent(h.influence_rate)),
            Figure("Median days from contribution to decision", in_days(h.days_to_change)),
        ],
        text=[
            "A change counts when at least one contribution is linked to it: a proposed change in the period "
            "it was recorded, a decided one in the period it was decided."
        ],
        tables=[statuses],
    )


def _aim(filters: Filters) -> ReportSection:
    return ReportSection(
        key="aim",
        number="GRIPP2 section 1",
        title="Aim",
        about="The aim of involving people with lived experience in the work.",
        text=[f"This report covers {filters.describe()}."],
        not_recorded=["The platform does not record the aim of involvement; add it here."],
    )


def _methods(h: Headline) -> ReportSection:
    levels = ", ".join(f"{lower_label(level)} {format_count(h.level_mix.get(level, 0))}" for level in LEVELS)
    return ReportSection(
        key="methods",
        number="GRIPP2 section 2",
        title="Methods",
        about="How people were involved: who took part, in what, and at what level.",
        text=[
            f"{capitalised(in_people(h.participants_involved))} took part through "
            f"{counted(h.activities, 'activity', 'activities')} in {h.area_coverage} of the {len(AREAS)} activity "
            f"areas, with {counted(h.attendances, 'attendance', 'attendances')} "
            f"({format_hours(h.involvement_hours)} hours) and "
            f"{counted(h.contributions, 'contribution', 'contributions')} recorded.",
            f"Activities by level of involvement: {levels}.",
            "Who took part, by role and background, is under Inclusive opportunities; each area and month is "
            "under Working together.",
        ],
    )


def _results(h: Headline, examples: list[Example]) -> ReportSection:
    changes = h.changes_influenced
    return ReportSection(
        key="results",
        number="GRIPP2 section 3",
        title="Results",
        about="The outcomes of involvement, positive and negative.",
        text=[
            f"Changes linked to what people said: {format_count(changes.get('implemented', 0))} implemented, "
            f"{format_count(changes.get('agreed', 0))} agreed, {format_count(changes.get('declined', 0))} "
            f"declined and {format_count(changes.get('proposed', 0))} still proposed.",
            f"The most recent agreed or implemented changes decided in the period (up to {EXAMPLES}), each with "
            "what people said behind it:",
        ],
        examples=examples,
    )


def _discussion(h: Headline, strengths: dict[str, int]) -> ReportSection:
    table = Table(
        key="strength",
        caption="Strength of influence of contributions on changes decided in the period",
        columns=("Strength of influence", "Links from a contribution to a change"),
        rows=[(label(strength), format_count(strengths[strength])) for strength in STRENGTHS],
        numeric=(1,),
    )
    text = [
        f"{format_percent(h.influence_rate)} of the period's contributions "
        f"({format_count(h.influenced_contributions)} of {format_count(h.contributions)}) are linked to a change "
        "that was agreed or implemented.",
        (
            f"From a contribution to the decision on a change linked to it took {in_days(h.days_to_change)} days "
            f"(the median over {counted(h.change_links_decided, 'link', 'links')})."
            if h.days_to_change is not None
            else "No change linked to a contribution was decided in the period."
        ),
        "Influence is recorded as a contribution with a strength, not as sole cause: many things shape a decision.",
    ]
    return ReportSection(
        key="discussion",
        number="GRIPP2 section 4",
        title="Discussion and conclusions",
        about="The extent to which involvement influenced the work.",
        text=text,
        tables=[table],
        not_recorded=["The platform does not record the organisation's conclusions; add them here."],
    )


def _reflections(h: Headline, quality: metrics.DataQuality) -> ReportSection:
    missing_areas = [label(area) for area in AREAS if area not in h.areas_covered]
    figures = [
        Figure(
            "Contributions not linked to an agreed or implemented change",
            format_count(h.contributions - h.influenced_contributions),
        ),
        Figure("Changes declined", format_count(h.changes_influenced.get("declined", 0))),
        Figure("Owed a summary, not yet sent", told_and_waiting(h)[1]),
        Figure(
            "Records rejected by the data checks",
            f"{format_count(quality.rejected)} of {format_count(quality.accepted + quality.rejected)}",
        ),
    ]
    text = ["Activity areas without involvement: " + (", ".join(missing_areas) if missing_areas else "none") + "."]
    if quality.rejected:
        corrected = f"{format_count(quality.resolved)} {'was' if quality.resolved == 1 else 'were'} since corrected"
        text.append(f"Of the {counted(quality.rejected, 'rejected record', 'rejected records')}, {corrected}.")
    return ReportSection(
        key="reflections",
        number="GRIPP2 section 5",
        title="Reflections and critical perspective",
        about="What went well and what did not, and what was learnt.",
        figures=figures,
        text=text,
        not_recorded=[
            "The platform does not record reflections from the people involved or from staff; add them here."
        ],
    )
