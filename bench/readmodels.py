"""Read models as the processors would build them from N events, written in bulk (for bench/dashboard.py).

No events are made or folded: the rows the folding would leave are generated directly, for many member
charities at once, and written with `executemany` (SQLite, 50,000 rows a statement, `synchronous=OFF`
during the load) or `COPY` (PostgreSQL), into tables made by the migrations (`create_tables`). The
secondary indexes the migrations made are dropped for the load and re-created after it from the
database's own definitions of them (checked to be the same set), so every index the application relies
on is there, built once rather than grown row by row; then ANALYZE (PostgreSQL: VACUUM ANALYZE).

The mix, per 100 events of one organisation (`MIX`): 2 registrations, 1 consent change, 5 activities,
60 attendances (about 12 people a session), 20 contributions (1 to 3 people each), 4 changes recorded
(with 1 or 2 links each: about 6 links), a status change for each decided change (about 3), feedback
to consenting contributors of decided changes (about 3), and 2 events dead-lettered. Every accepted
event has its `ProcessedEvent` row; every rejected one its `DeadLetter` row.

Time: `years` (default 5) of calendar months ending today; each organisation's volume grows by half
over the period, with quieter Augusts and Decembers, and a fifth of its register arrives in its first
month (the import of the people it already worked with). Rows are written month by month with all
organisations interleaved, as a processor folding one shared log would write them: an organisation's
rows are spread over the whole table, not stored together (which would flatter every query).

Determinism: each organisation draws from its own `random.Random(seed, index)`: the same shape and
seed give the same rows, whatever the order of writing.
"""

from __future__ import annotations

import bisect
import calendar
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Engine, Table, text

from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    DeadLetter,
    Feedback,
    Participant,
    ProcessedEvent,
)
from schemas.vocab import (
    AgeBand,
    Area,
    Channel,
    Disability,
    Ethnicity,
    Gender,
    Level,
    ParticipantRole,
    Region,
    SessionRole,
    Strength,
)

# Events of each kind per 100 events of an organisation. Status changes and feedback follow from the
# changes (one status change per decided change; feedback to consenting contributors), so they are not
# drawn to a quota: with 59.4 attendances they take the remaining ~6.6, and totals land within ~1% of N.
MIX: dict[str, float] = {
    "participant.registered": 2,
    "participant.consent_changed": 1,
    "activity.held": 5,
    "session.attended": 59.4,  # 60 in all, less what status changes and feedback overshoot
    "contribution.made": 20,
    "change.recorded": 4,
    "rejected": 2,  # dead letters
}
BATCH = 50_000  # rows per executemany / COPY
IMPORT_SHARE = 0.2  # of an organisation's register, registered in its first month
GROWTH = 0.5  # the last month is this much busier than the first
QUIET = {8: 0.6, 12: 0.7}  # August and December
MODELS: dict[str, type[Any]] = {
    "participant": Participant,
    "activity": Activity,
    "attendance": Attendance,
    "contribution": Contribution,
    "contributionparticipant": ContributionParticipant,
    "change": Change,
    "changelink": ChangeLink,
    "feedback": Feedback,
    "processedevent": ProcessedEvent,
    "deadletter": DeadLetter,
}
# The order of each table's columns in the generated tuples.
COLUMNS: dict[str, tuple[str, ...]] = {
    "participant": (
        "org_id",
        "participant_id",
        "display_name",
        "role",
        "email",
        "phone",
        "postal_address",
        "consent_to_contact",
        "preferred_channel",
        "feedback_frequency",
        "age_band",
        "gender",
        "ethnicity",
        "disability",
        "region",
        "registered_at",
        "erased",
    ),
    "activity": ("org_id", "activity_id", "title", "area", "level", "held_on", "duration_hours"),
    "attendance": ("event_id", "org_id", "activity_id", "participant_id", "hours", "session_role", "attended_on"),
    "contribution": ("org_id", "contribution_id", "activity_id", "area", "text", "made_on"),
    "contributionparticipant": ("org_id", "contribution_id", "participant_id"),
    "change": (
        "org_id",
        "change_id",
        "area",
        "title",
        "description",
        "status",
        "status_note",
        "recorded_on",
        "decided_on",
    ),
    "changelink": ("org_id", "change_id", "contribution_id", "strength"),
    "feedback": ("event_id", "change_id", "org_id", "participant_id", "channel", "sent_at"),
    "processedevent": ("event_id", "org_id", "type", "recorded_on"),
    "deadletter": (
        "event_id",
        "org_id",
        "type",
        "expectation",
        "reason",
        "event_json",
        "log_partition",
        "log_offset",
        "recorded_on",
        "dead_at",
        "resolved_by",
    ),
}

AREAS = [area.value for area in Area]
AREA_WEIGHTS = [6, 3, 5, 3, 4, 2, 6, 2, 3, 2, 2, 3, 6, 5, 8, 6]  # support, research, involvement busiest
LEVELS = [level.value for level in Level]
LEVEL_WEIGHTS = [50, 35, 15]
ROLES = [role.value for role in ParticipantRole]
ROLE_WEIGHTS = [45, 25, 25, 5]
SESSION_ROLES = [role.value for role in SessionRole]
SESSION_WEIGHTS = [80, 5, 5, 5, 5]
CHANNELS = [channel.value for channel in Channel]
CHANNEL_WEIGHTS = [60, 15, 15, 10]
STRENGTHS = [strength.value for strength in Strength]
STRENGTH_WEIGHTS = [40, 40, 20]
DURATIONS = [1.0, 1.5, 2.0, 2.0, 3.0, 6.0]
# (status, weight) of a change old enough to be decided; recent ones stay proposed.
DECISIONS = (["proposed", "agreed", "implemented", "declined"], [15, 25, 40, 20])
DEMOGRAPHICS: dict[str, list[str]] = {
    "age_band": [v.value for v in AgeBand],
    "gender": [v.value for v in Gender],
    "ethnicity": [v.value for v in Ethnicity],
    "disability": [v.value for v in Disability],
    "region": [v.value for v in Region],
}
EVENT_TYPES = (
    "participant.registered",
    "activity.held",
    "session.attended",
    "contribution.made",
    "change.recorded",
    "change.status_changed",
)
EXPECTATIONS = [
    ("participant is registered", "The participant {x} is not registered with this organisation."),
    ("activity exists", "The activity {x} has not been recorded for this organisation."),
    ("date is not in the future", "The date {x} is in the future."),
    ("hours between 0 and 24", "The hours {x} are not between 0 and 24."),
    ("contribution exists", "The linked contribution {x} has not been recorded."),
    ("status follows the last one", "A change cannot go from {x} back to proposed."),
]
EXPECTATION_WEIGHTS = [35, 25, 10, 10, 15, 5]
WORDS = [
    "waiting",
    "times",
    "appointments",
    "reception",
    "letters",
    "leaflets",
    "transport",
    "parking",
    "evening",
    "sessions",
    "carers",
    "respite",
    "young",
    "people",
    "advocacy",
    "interpreters",
    "accessible",
    "information",
    "hearing",
    "loop",
    "wheelchair",
    "ramp",
    "peer",
    "support",
    "discharge",
    "planning",
    "medication",
    "reviews",
    "mental",
    "health",
    "crisis",
    "line",
    "translation",
    "online",
    "forms",
    "phone",
    "lines",
    "group",
    "work",
    "training",
    "staff",
    "induction",
    "recruitment",
    "panels",
    "survey",
    "questions",
    "research",
    "priorities",
    "board",
    "meetings",
    "minutes",
    "plain",
    "English",
    "easy",
    "read",
    "website",
    "newsletter",
    "fundraising",
    "event",
    "volunteers",
]
SAID = (
    "It would help if {a} and {b} were explained before the first visit.",
    "People like me find {a} hard; {b} made a real difference last time.",
    "Please involve us earlier in {a}, not only when {b} is already decided.",
    "The {a} did not work for carers; could {b} be offered instead?",
    "We suggest {a} in plain English, with {b} for those who need it.",
    "Nobody told us what happened after we talked about {a} and {b}.",
)
DID = (
    "We changed {a} after hearing from people who use our services, and added {b}.",
    "The board agreed to review {a}; {b} now involves people with lived experience.",
    "From next quarter {a} is offered in the evening, and {b} is rewritten in plain English.",
    "We could not change {a} this year because of funding, but {b} is planned.",
)
NAMES = [
    "Sam",
    "Alex",
    "Jo",
    "Pat",
    "Chris",
    "Kim",
    "Lee",
    "Ash",
    "Robin",
    "Jamie",
    "Morgan",
    "Charlie",
    "Taylor",
    "Jordan",
    "Casey",
    "Rowan",
]
SURNAMES = [
    "Khan",
    "Smith",
    "Jones",
    "Patel",
    "Brown",
    "Ahmed",
    "Evans",
    "Walker",
    "Wright",
    "Hughes",
    "Begum",
    "Taylor",
    "Davies",
    "Singh",
]


@dataclass(frozen=True)
class Shape:
    """How many events, over how many organisations and years, ending when."""

    events: int
    organisations: int
    today: date
    years: int = 5
    seed: int = 7

    def sizes(self) -> list[int]:
        """Events per organisation: an equal share each, the remainder to the first (the measured one)."""
        share, rest = divmod(self.events, self.organisations)
        return [share + (rest if index == 0 else 0) for index in range(self.organisations)]

    def org_id(self, index: int) -> str:
        return f"bench-org-{index:04d}"

    def months(self) -> list[date]:
        """The first day of each month of the period, the last being this month."""
        last = self.today.year * 12 + self.today.month - 1
        return [date(index // 12, index % 12 + 1, 1) for index in range(last - 12 * self.years + 1, last + 1)]

    def describe(self) -> str:
        sizes = self.sizes()
        return (
            f"{self.events:,} events over {self.organisations:,} organisations ({sizes[0]:,} events each"
            f"{'' if len(set(sizes)) == 1 else f', the measured one {sizes[0]:,}'}), {self.years} years to "
            f"{self.today.isoformat()}, seed {self.seed}"
        )


def _weights(months: list[date]) -> list[float]:
    last = max(1, len(months) - 1)
    return [(1 + GROWTH * index / last) * QUIET.get(month.month, 1.0) for index, month in enumerate(months)]


def _spread(total: int, weights: list[float]) -> list[int]:
    """`total` split over the weights in whole numbers that add up to `total` exactly."""
    whole, counts, running = sum(weights), [], 0.0
    previous = 0
    for weight in weights:
        running += weight
        upto = round(total * running / whole)
        counts.append(upto - previous)
        previous = upto
    return counts


class Calendar:
    """Dates as the text both databases take (ISO), cached by ordinal: formatting is the generator's hot spot."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def day(self, ordinal: int) -> str:
        found = self._days.get(ordinal)
        if found is None:
            found = self._days[ordinal] = date.fromordinal(ordinal).isoformat()
        return found

    def moment(self, ordinal: int, seconds: int) -> str:
        hours, rest = divmod(seconds, 3600)
        return f"{self.day(ordinal)} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}.000000"


Buffers = dict[str, list[tuple[Any, ...]]]


def organisation(shape: Shape, index: int, buffers: Buffers, dates: Calendar) -> Iterator[None]:
    """One organisation's rows, month by month: appends a month's rows to `buffers`, then yields.

    After the last month, one more step appends the register (participants in their final state:
    consent changes and erasures applied).
    """
    rng = random.Random(shape.seed * 1_000_003 + index)
    org = shape.org_id(index)
    total = shape.sizes()[index]
    months = shape.months()
    weights = _weights(months)
    today = shape.today.toordinal()
    per_type = {kind: _spread(round(total * share / 100), weights) for kind, share in MIX.items()}
    registrations = round(total * MIX["participant.registered"] / 100)
    imported = round(registrations * IMPORT_SHARE)
    per_type["participant.registered"] = [
        count + (imported if month == 0 else 0)
        for month, count in enumerate(_spread(registrations - imported, weights))
    ]

    def event_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    choices, rand, randint = rng.choices, rng.random, rng.randint
    # the register: [participant_id, registered day, consents, erased], in order of registration
    people: list[list[Any]] = []
    registered_days: list[int] = []
    recent: list[tuple[str, int, list[list[Any]]]] = []  # contributions of the last ~90 days: (id, day, people)
    counters = {"activity": 0, "contribution": 0, "change": 0}
    processed, attendance, activity = buffers["processedevent"], buffers["attendance"], buffers["activity"]
    contribution, contributors = buffers["contribution"], buffers["contributionparticipant"]
    changes, links, feedback, dead = (
        buffers["change"],
        buffers["changelink"],
        buffers["feedback"],
        buffers["deadletter"],
    )
    log_offset = 0

    def accepted(kind: str, ordinal: int, the_id: str | None = None) -> str:
        the_id = the_id or event_id()
        lag = 0 if rand() < 0.8 else randint(1, 3)  # most are recorded the day they happen
        processed.append((the_id, org, kind, dates.day(min(today, ordinal + lag))))
        return the_id

    def someone(day: int) -> int:
        """A participant registered by `day`, recent ones more likely (people drift away over the years)."""
        known = bisect.bisect_right(registered_days, day) or len(people)
        return known - 1 - int(known * rand() ** 2)

    for month_index, first in enumerate(months):
        start = first.toordinal()
        end = min(today - 1, start + calendar.monthrange(first.year, first.month)[1] - 1)
        if end < start:
            end = start

        def day() -> int:
            return randint(start, end)  # noqa: B023  (called within this month's step only)

        # registrations first: the month's new people can take part later in it
        for _ in range(per_type["participant.registered"][month_index]):
            when = day()
            at = bisect.bisect_right(registered_days, when)
            registered_days.insert(at, when)
            people.insert(at, [f"p{len(people) + 1:06d}", when, rand() < 0.7, rand() < 0.01])
            accepted("participant.registered", when)
        for _ in range(per_type["participant.consent_changed"][month_index]):
            if people:
                person = people[int(len(people) * rand())]
                person[2] = not person[2]
                accepted("participant.consent_changed", day())
        month_activities: list[tuple[str, int, str, float]] = []
        for _ in range(per_type["activity.held"][month_index]):
            counters["activity"] += 1
            activity_id, held = f"a{counters['activity']:07d}", day()
            area = choices(AREAS, AREA_WEIGHTS)[0]
            hours = DURATIONS[int(len(DURATIONS) * rand())]
            title = f"{area.replace('_', ' ').capitalize()} session on {WORDS[int(len(WORDS) * rand())]}"
            activity.append((org, activity_id, title, area, choices(LEVELS, LEVEL_WEIGHTS)[0], dates.day(held), hours))
            month_activities.append((activity_id, held, area, hours))
            accepted("activity.held", held)
        if people and month_activities:
            roles = choices(SESSION_ROLES, SESSION_WEIGHTS, k=per_type["session.attended"][month_index])
            for role in roles:
                activity_id, held, _area, hours = month_activities[int(len(month_activities) * rand())]
                the_id = accepted("session.attended", held)
                spent = hours if rand() < 0.85 else hours / 2
                attendance.append((the_id, org, activity_id, people[someone(held)][0], spent, role, dates.day(held)))
        for _ in range(per_type["contribution.made"][month_index] if people else 0):
            counters["contribution"] += 1
            contribution_id = f"c{counters['contribution']:07d}"
            if month_activities and rand() < 0.8:
                activity_id, made, area, _hours = month_activities[int(len(month_activities) * rand())]
                if rand() < 0.1:
                    area = choices(AREAS, AREA_WEIGHTS)[0]
                held_at: str | None = activity_id
            else:
                held_at, made, area = None, day(), choices(AREAS, AREA_WEIGHTS)[0]
            said = SAID[int(len(SAID) * rand())].format(
                a=WORDS[int(len(WORDS) * rand())], b=WORDS[int(len(WORDS) * rand())]
            )
            contribution.append((org, contribution_id, held_at, area, said, dates.day(made)))
            who = [people[i] for i in sorted({someone(made) for _ in range(choices((1, 2, 3), (50, 30, 20))[0])})]
            for person in who:
                contributors.append((org, contribution_id, person[0]))
            recent.append((contribution_id, made, who))
            accepted("contribution.made", made)
        recent = [item for item in recent if item[1] >= start - 90]
        for _ in range(per_type["change.recorded"][month_index] if recent else 0):
            counters["change"] += 1
            change_id = f"ch{counters['change']:06d}"
            picked = {int(len(recent) * rand()) for _ in range(choices((1, 2), (50, 50))[0])}
            linked = [recent[i] for i in sorted(picked)]
            recorded = max(day(), *(made for _, made, _ in linked))
            area = choices(AREAS, AREA_WEIGHTS)[0]
            decided = recorded + randint(7, 150)
            status = "proposed" if decided >= today else choices(*DECISIONS)[0]
            note = None
            if status == "declined":
                note = "We could not make this change this year: the funding was not there."
            did = DID[int(len(DID) * rand())].format(
                a=WORDS[int(len(WORDS) * rand())], b=WORDS[int(len(WORDS) * rand())]
            )
            changes.append(
                (
                    org,
                    change_id,
                    area,
                    f"{area.replace('_', ' ').capitalize()}: {WORDS[int(len(WORDS) * rand())]}",
                    did,
                    status,
                    note,
                    dates.day(recorded),
                    None if status == "proposed" else dates.day(decided),
                )
            )
            accepted("change.recorded", recorded)
            for contribution_id, _made, _who in linked:
                links.append((org, change_id, contribution_id, choices(STRENGTHS, STRENGTH_WEIGHTS)[0]))
            if status == "proposed":
                continue
            accepted("change.status_changed", decided)
            told = {person[0]: person for _id, _made, who in linked for person in who if person[2]}
            for participant_id in sorted(told):
                sent = decided + randint(1, 28)
                if sent >= today or rand() < 0.35:
                    continue  # not (yet) told: the closure rate is not 100%
                the_id = accepted("feedback.sent", sent)
                channel = choices(CHANNELS, CHANNEL_WEIGHTS)[0]
                feedback.append(
                    (the_id, change_id, org, participant_id, channel, dates.moment(sent, randint(0, 86399)))
                )
        for _ in range(per_type["rejected"][month_index]):
            when = day()
            expectation, reason = choices(EXPECTATIONS, EXPECTATION_WEIGHTS)[0]
            the_id = event_id()
            kind = EVENT_TYPES[int(len(EVENT_TYPES) * rand())]
            document = {"event_id": the_id, "type": kind, "org_id": org, "payload": {"ref": f"x{randint(1, 99999)}"}}
            log_offset += randint(1, 200)
            dead.append(
                (
                    the_id,
                    org,
                    kind,
                    expectation,
                    reason.format(x=f"x{randint(1, 99999)}"),
                    json.dumps(document),
                    randint(0, 2),
                    log_offset,
                    dates.day(when),
                    dates.moment(when, randint(0, 86399)),
                    event_id() if rand() < 0.4 else None,
                )
            )
        yield None

    register = buffers["participant"]
    for participant_id, registered, consents, erased in people:
        first_name, surname = NAMES[int(len(NAMES) * rand())], SURNAMES[int(len(SURNAMES) * rand())]
        answers = {
            name: (None if rand() < 0.25 else values[int(len(values) * rand())])
            for name, values in DEMOGRAPHICS.items()
        }
        if erased:
            register.append(
                (org, participant_id, None, choices(ROLES, ROLE_WEIGHTS)[0], None, None, None, False, None)
                + ("each_change",)
                + (None,) * 5
                + (dates.moment(registered, randint(0, 86399)), True)
            )
            continue
        register.append(
            (
                org,
                participant_id,
                f"{first_name} {surname}",
                choices(ROLES, ROLE_WEIGHTS)[0],
                f"{first_name}.{surname}.{participant_id}@example.org".lower() if rand() < 0.8 else None,
                f"07700 9{randint(0, 99999):05d}" if rand() < 0.5 else None,
                f"{randint(1, 200)} High Street, Town" if rand() < 0.2 else None,
                consents,
                choices(CHANNELS, CHANNEL_WEIGHTS)[0] if consents else None,
                "each_change",  # feedback_frequency: the default
                answers["age_band"],
                answers["gender"],
                answers["ethnicity"],
                answers["disability"],
                answers["region"],
                dates.moment(registered, randint(0, 86399)),
                False,
            )
        )
    yield None


# --- Writing ----------------------------------------------------------------------------------------


class Writer:
    """Buffers of rows per table, written in batches of `BATCH`.

    SQLite: `executemany` of each batch through a SQLAlchemy connection (one transaction a batch, with
    `synchronous=OFF` on this connection only). PostgreSQL: `COPY ... FROM STDIN` through psycopg.
    """

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect.name
        self.buffers: Buffers = {name: [] for name in COLUMNS}
        self.rows: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        self.conn = engine.connect()
        for name, model in MODELS.items():  # the generator and the schema must agree
            names = set(cast(Table, model.__table__).columns.keys())
            if names != set(COLUMNS[name]):
                raise RuntimeError(f"{name}: the table's columns {sorted(names)} are not the generator's")
        if self.dialect == "sqlite":
            self.conn.exec_driver_sql("PRAGMA synchronous = OFF")  # this connection only; closed after the load
            self.conn.exec_driver_sql("PRAGMA cache_size = -1000000")  # 1 GB: random event_id keys insert all over
        else:
            self.conn.exec_driver_sql("SET synchronous_commit = off")
        self.conn.commit()

    def write(self, name: str, rows: list[tuple[Any, ...]]) -> None:
        columns = ", ".join(COLUMNS[name])
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(COLUMNS[name]))
            self.conn.exec_driver_sql(f'INSERT INTO "{name}" ({columns}) VALUES ({marks})', rows)  # noqa: S608
        else:
            driver = cast(Any, self.conn.connection.driver_connection)
            with driver.cursor() as cursor, cursor.copy(f'COPY "{name}" ({columns}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            driver.commit()  # the COPY ran on the driver's own transaction, which SQLAlchemy does not see
            return
        self.conn.commit()

    def flush(self, everything: bool = False) -> None:
        for name, rows in self.buffers.items():
            while len(rows) >= BATCH or (everything and rows):
                batch = rows[:BATCH]
                del rows[:BATCH]
                if COLUMNS[name][0] == "event_id":
                    batch.sort()  # random UUID keys: in key order, each batch touches each index page once
                self.write(name, batch)
                self.rows[name] += len(batch)

    def close(self) -> None:
        self.flush(everything=True)
        self.conn.close()


@dataclass(frozen=True)
class Loaded:
    rows: dict[str, int]
    generate_and_write_s: float
    index_s: float  # re-creating the secondary indexes after the rows went in
    indexes: int
    analyze_s: float

    @property
    def events(self) -> int:
        return self.rows["processedevent"] + self.rows["deadletter"]


def secondary_indexes(engine: Engine) -> dict[str, str]:
    """{name: CREATE INDEX statement} of the read-model tables' indexes other than primary keys and unique
    constraints, as the migrations made them (the database's own definitions, so re-creating gives the same)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(
                text(
                    "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
                    " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
                    " WHERE t.relname = ANY(:tables) AND t.relnamespace = current_schema()::regnamespace"
                    " AND NOT x.indisprimary AND NOT x.indisunique"
                ),
                {"tables": list(MODELS)},
            ).all()
        else:
            names = ", ".join(f"'{name}'" for name in MODELS)
            rows = conn.execute(
                text(
                    f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({names})"  # noqa: S608
                    " AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'"
                )
            ).all()
    return {str(name): str(sql) for name, sql in rows}


def load(engine: Engine, shape: Shape, progress: Callable[[str], None] = print) -> Loaded:
    """Generate and write every organisation's rows into the (empty, migrated) database of `engine`; ANALYZE.

    The secondary indexes the migrations made are dropped for the load and re-created after it from their
    own definitions (building an index once is far cheaper than growing it row by row); primary keys stay.
    """
    indexes = secondary_indexes(engine)
    with engine.begin() as conn:
        for name in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
    started = time.perf_counter()
    writer = Writer(engine)
    dates = Calendar()
    streams = [organisation(shape, index, writer.buffers, dates) for index in range(shape.organisations)]
    months = len(shape.months())
    for month in range(months + 1):  # the last step writes the registers
        for stream in streams:
            next(stream)
            writer.flush()
        if month % 12 == 11:
            written = writer.rows["processedevent"] + writer.rows["deadletter"]
            progress(
                f"  month {month + 1}/{months}: {written:,} events' rows written, {time.perf_counter() - started:.0f} s"
            )
    writer.close()
    loaded_s = time.perf_counter() - started
    with engine.connect() as conn:  # everything written is there (committed, and in the right tables)
        for name, count in writer.rows.items():
            found = conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()  # noqa: S608
            if found != count:
                raise RuntimeError(f"{name}: {count:,} rows written, {found:,} in the table")
    started = time.perf_counter()
    with engine.begin() as conn:
        for sql in indexes.values():
            conn.execute(text(sql))
    if secondary_indexes(engine) != indexes:
        raise RuntimeError("the re-created indexes are not the ones the migrations made")
    index_s = time.perf_counter() - started
    started = time.perf_counter()
    analyze(engine)
    return Loaded(
        rows=dict(writer.rows),
        generate_and_write_s=loaded_s,
        index_s=index_s,
        indexes=len(indexes),
        analyze_s=time.perf_counter() - started,
    )


def analyze(engine: Engine) -> None:
    """Planner statistics for every table (PostgreSQL: VACUUM too, so index-only scans see all-visible pages)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
