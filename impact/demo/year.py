"""A year of one member charity's involvement, as events: its people, activities, what they said, the changes
it made, who was told (the generator behind `impact.demo.demo_events`)."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from impact.demo.texts import (
    AREAS,
    DOMAINS,
    FIRST,
    FOLLOW_UPS,
    LAST,
    NEIGHBOURS,
    NOTES,
    STREETS,
    TITLES,
    UNHEARD,
)
from impact.months import add_months, first_of_month
from schemas.events import (
    EVENT_ADAPTER,
    ActivityHeld,
    ChangeRecorded,
    ChangeStatusChanged,
    Contact,
    ContributionLink,
    ContributionMade,
    Demographics,
    Envelope,
    FeedbackSent,
    ParticipantConsentChanged,
    ParticipantRegistered,
    Payload,
    SessionAttended,
)
from schemas.vocab import (
    AgeBand,
    Area,
    ChangeStatus,
    Channel,
    Disability,
    Ethnicity,
    Frequency,
    Gender,
    Level,
    ParticipantRole,
    Region,
    SessionRole,
    Strength,
)

NAMESPACE = uuid.UUID("3f0c8e52-6a1d-4c0b-9a57-1d2e8b7c4f10")  # fixed: event ids are uuid5 of it and a stable name
DAYS = 365
SPAN = DAYS - 7  # days of activity after the first Monday in the year, so the pattern is the same every week
T = TypeVar("T")


@dataclass(frozen=True)
class Org:
    slug: str
    panel: str  # "Service user panel"
    group: str  # "Service users'" (focus group)
    lead: str  # "Service user" (-led)
    people: str
    service: str
    town: str
    postcode: str
    region: Region
    roles: tuple[int, int, int, int]  # service_user, patient, carer, other
    ages: tuple[int, ...]  # under_18 … 75_plus
    ethnicity: tuple[int, int, int, int, int]  # asian, black, mixed, white, other


ORGS = (
    Org("mind-leeds", "Service user panel", "Service users'", "Service user", "people who use our services",
        "crisis line", "Leeds", "LS", Region.yorkshire_humber, (70, 6, 17, 7), (1, 12, 22, 20, 19, 14, 8, 4),
        (14, 5, 4, 74, 3)),
    Org("carers-trust-east", "Carers' panel", "Carers'", "Carer", "carers", "respite service", "Norwich", "NR",
        Region.east_of_england, (10, 3, 78, 9), (2, 4, 9, 16, 24, 24, 14, 7), (5, 3, 3, 86, 3)),
    Org("stroke-support-sw", "Stroke survivors' panel", "Stroke survivors'", "Survivor", "stroke survivors",
        "stroke clubs", "Exeter", "EX", Region.south_west, (14, 46, 32, 8), (0, 1, 3, 7, 16, 27, 28, 18),
        (3, 2, 2, 91, 2)),
)  # fmt: skip


# Of those owed word of a decision, the share the demo charity had told (the rest wait for the sender or staff).
TOLD_SHARE = {Channel.email: 0.9, Channel.post: 0.8, Channel.phone: 0.6, Channel.in_person: 0.6}
LETTERS_WAIT_DAYS = 30  # letters about the decisions of the last days wait to be printed
STEPS = {  # the statuses a change passes through after "proposed", by where it ends up
    ChangeStatus.proposed: [],
    ChangeStatus.agreed: [ChangeStatus.agreed],
    ChangeStatus.implemented: [ChangeStatus.agreed, ChangeStatus.implemented],
    ChangeStatus.declined: [ChangeStatus.declined],
}


@dataclass
class Person:
    pid: str
    at: datetime
    weight: float
    consent: bool
    channel: Channel | None = None
    monthly: bool = False  # hears in a digest on the first working day of the month


@dataclass
class Act:
    aid: str
    area: Area
    start: datetime
    hours: float
    topic: int = 0  # which of the area's topics (impact.demo.texts): a change's own, or the area at large
    attendees: list[str] = field(default_factory=list)


@dataclass
class Contrib:
    cid: str
    area: Area
    at: datetime
    said: int  # which of the area's things said (impact.demo.texts.AREAS)


@dataclass
class Decision:
    chid: str
    cids: list[str]
    at: datetime


def _pick(rng: random.Random, items: Sequence[T], weights: Sequence[float], k: int) -> list[T]:
    """k distinct items, more likely the heavier ones (weighted sampling without replacement)."""
    keys = [rng.random() ** (1 / w) for w in weights]
    return [item for _, item in sorted(zip(keys, items, strict=True), key=lambda kv: -kv[0])[:k]]


class OrgYear:
    """One organisation's year, emitted in causal order."""

    def __init__(
        self, org: Org, rng: random.Random, seed: int, today: date, now: datetime, ids: dict[str, Iterator[int]]
    ):
        self.org, self.rng, self.seed, self.now, self.ids = org, rng, seed, now, ids
        start = today - timedelta(days=DAYS)
        # Dates count from a Monday, so a later `today` shifts the weekly pattern rather than changing the facts.
        self.first, self.last = start + timedelta(days=-start.weekday() % 7), today - timedelta(days=1)
        self.end = self.first + timedelta(days=SPAN)
        self.events: list[Envelope] = []
        self.people: dict[str, Person] = {}
        self.who: dict[str, list[str]] = {}  # contribution id -> who said it
        self.decisions: list[Decision] = []
        self.withdrawn: set[str] = set()  # who withdrew consent to be contacted: told nothing
        self.registrations: dict[str, int] = {}  # participant id -> index of the registration in self.events
        self.told_rng = random.Random(f"{seed}/{org.slug}/feedback")

    def emit(self, type_: str, key: str, when: datetime, payload: Payload) -> None:
        if when >= self.now:
            raise ValueError(f"demo event at {when.isoformat()} would be in the future; pass an earlier today")
        name = f"demo/{self.seed}/{self.org.slug}/{type_}/{key}"
        event = {"event_id": uuid.uuid5(NAMESPACE, name), "org_id": self.org.slug, "occurred_at": when}
        self.events.append(EVENT_ADAPTER.validate_python({**event, "type": type_, "payload": payload}))

    def at(self, day: date, latest_hour: int = 16, rng: random.Random | None = None) -> datetime:
        rng = rng or self.rng
        day -= timedelta(days=max(0, day.weekday() - 4))  # staff work weekdays: a weekend becomes its Friday
        return datetime.combine(day, time(rng.randint(9, latest_hour), rng.randrange(0, 60, 5)), UTC)

    def later(self, when: datetime, low: int, high: int) -> datetime:
        return self.at(when.date() + timedelta(days=self.rng.randint(low, high)))

    def past(self, when: datetime) -> bool:
        return when.date() <= self.last

    def participants(self) -> list[Person]:
        rng, org, people = self.rng, self.org, []
        for _ in range(rng.randint(100, 140)):
            number = next(self.ids["p"])
            first, last = rng.choice(FIRST), rng.choice(LAST)
            day = rng.randint(0, 6) if rng.random() < 0.3 else int(rng.triangular(0, 330, 0))
            kind = rng.choices(("email", "phone", "post", "none"), (78, 11, 7, 4))[0]
            email = f"{first}.{last}{number}@{rng.choice(DOMAINS)}".lower().replace("'", "")
            phone = f"07700 900{rng.randrange(1000):03d}"  # Ofcom's range for drama: never a real number
            street = f"{rng.randint(1, 120)} {rng.choice(STREETS)}, {org.town}"
            post = f"{street} {org.postcode}{rng.randint(1, 20)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLN')}Q"
            contact = Contact(
                email=email if kind == "email" else None,
                phone=phone if kind == "phone" or (kind == "email" and rng.random() < 0.3) else None,
                postal_address=post if kind == "post" or rng.random() < 0.05 else None,
            )
            details = {Channel.email: contact.email, Channel.post: contact.postal_address, Channel.phone: contact.phone}
            reachable = [channel for channel, detail in details.items() if detail]
            consent = rng.random() < 0.75
            channel = (reachable[0] if reachable and rng.random() < 0.85 else Channel.in_person) if consent else None
            person = Person(
                f"p-{number:04d}", self.at(self.first + timedelta(days=day)), rng.paretovariate(1.6), consent, channel
            )
            self.people[person.pid] = person
            person.monthly = self.told_rng.random() < 0.1
            payload = ParticipantRegistered(
                participant_id=person.pid,
                display_name=f"{first} {last}",
                role=rng.choices(list(ParticipantRole), org.roles)[0],
                contact=contact if reachable else None,
                consent_to_contact=consent,
                preferred_channel=channel,
                feedback_frequency=Frequency.monthly if person.monthly else Frequency.each_change,
                demographics=self.demographics() if rng.random() < 0.9 else Demographics(),
            )
            self.registrations[person.pid] = len(self.events)
            self.emit("participant.registered", person.pid, person.at, payload)
            people.append(person)
        return people

    def demographics(self) -> Demographics:
        def answer(options: Sequence[T], weights: Sequence[float]) -> T | None:
            return self.rng.choices([*options, None], [*weights, 6])[0]  # options end with prefer_not_to_say

        org = self.org
        regions = [org.region, *NEIGHBOURS, Region.prefer_not_to_say]
        return Demographics(
            age_band=answer(list(AgeBand), (*org.ages, 3)),
            gender=answer(list(Gender), (56, 38, 3, 1, 3)),
            ethnicity=answer(list(Ethnicity), (*org.ethnicity, 4)),
            disability=answer(list(Disability), (55, 38, 7)),
            region=answer(regions, (85, 2, 2, 2, 2, 2, 3)),
        )

    def activities(self, people: list[Person]) -> list[Act]:
        rng, org, acts = self.rng, self.org, []
        count_ = rng.randint(40, 60)
        areas = [*Area, *rng.choices(list(Area), k=count_ - len(Area))]
        levels = [Level.user_led] * (count_ // 7) + [Level.co_production] * (count_ * 3 // 10)
        levels += [Level.consultation] * (count_ - len(levels))
        rng.shuffle(areas)
        rng.shuffle(levels)
        days = sorted(rng.sample(range(10, SPAN), count_))
        for area, level, day in zip(areas, levels, days, strict=True):
            hours = rng.choice((1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 4.0))
            start = self.at(self.first + timedelta(days=day), latest_hour=17 - math.ceil(hours))
            topics = AREAS[area].topics
            act = Act(f"a-{next(self.ids['a']):04d}", area, start, hours, rng.randrange(len(topics)))
            topic = topics[act.topic].format(service=org.service, people=org.people)
            title = rng.choice(TITLES[level]).format(panel=org.panel, group=org.group, lead=org.lead, topic=topic)
            held = ActivityHeld(
                activity_id=act.aid, title=title, area=area, level=level, date=start.date(), duration_hours=hours
            )
            self.emit("activity.held", act.aid, start, held)
            eligible = [p for p in people if p.at < start]
            chosen = _pick(rng, eligible, [p.weight for p in eligible], min(len(eligible), rng.randint(4, 12)))
            for i, person in enumerate(chosen):
                role = rng.choices(list(SessionRole), (80, 7, 8, 4, 1))[0]
                if i == 0 and level != Level.consultation:
                    role = SessionRole.lead if level == Level.user_led else SessionRole.co_facilitator
                stayed = hours if rng.random() < 0.85 else hours - 0.5 * rng.randint(1, int(hours * 2) - 1)
                attended = SessionAttended(
                    activity_id=act.aid, participant_id=person.pid, hours=stayed, session_role=role
                )
                self.emit("session.attended", f"{act.aid}/{person.pid}", start, attended)
                act.attendees.append(person.pid)
            acts.append(act)
        return acts

    def contributions(self, acts: list[Act]) -> list[Contrib]:
        """Each thing people said in an area, said once in the year, at one of that area's activities: one on the
        topic of the change it could lead to, or on the area at large, if the year had one."""
        rng, drafts = self.rng, []
        for area in Area:
            held = [a for a in acts if a.area == area and a.attendees]
            texts = AREAS[area]
            for said in range(len(texts.says) if held else 0):
                topic = next((i for i, led in enumerate(texts.led_to) if said in led), None)
                fits = [a for a in held if topic is None or a.topic in {topic, *range(len(texts.changes), 99)}]
                act = rng.choices(fits or held, [len(a.attendees) for a in fits or held])[0]
                when = act.start + timedelta(minutes=rng.randint(5, int(act.hours * 60) - 1))
                who = rng.sample(act.attendees, min(len(act.attendees), rng.choices((1, 2, 3), (75, 18, 7))[0]))
                drafts.append((when, act, sorted(who), said))
        saids = []
        for when, act, who, said in sorted(drafts, key=lambda d: d[0]):
            cid = f"c-{next(self.ids['c']):04d}"
            text = AREAS[act.area].says[said].format(service=self.org.service) + rng.choice(FOLLOW_UPS)
            made = ContributionMade(
                contribution_id=cid, participant_ids=who, activity_id=act.aid, area=act.area, text=text
            )
            self.emit("contribution.made", cid, when, made)
            self.who[cid] = who
            saids.append(Contrib(cid, act.area, when, said))
        return saids

    def changes(self, saids: list[Contrib]) -> None:
        """Each change links only what was said, before it, that could have led to it (impact.demo.texts)."""
        rng, org, n = self.rng, self.org, self.rng.randint(20, 30)
        finals = [ChangeStatus.declined] * max(2, round(n * 0.15)) + [ChangeStatus.proposed] * max(2, round(n * 0.2))
        finals += [ChangeStatus.implemented] * round(n * 0.35)
        finals += [ChangeStatus.agreed] * (n - len(finals))
        rng.shuffle(finals)
        slots = [(area, index) for area in Area for index in range(len(AREAS[area].changes))]
        rng.shuffle(slots)
        # The same draws whatever `today` is (so reseeding on a later day gives the same facts): a change for each
        # of the first n slots, made once something said that led to it is in the past.
        for (area, index), final in zip(slots, finals, strict=False):
            chid = f"ch-{next(self.ids['ch']):03d}"
            rng = self.rng_for(chid)  # each change's own draws, made or not yet
            led = [s for s in saids if s.area == area and s.said in AREAS[area].led_to[index]]
            wanted = rng.choices((1, 2, 3), (20, 40, 40))[0]
            times = [self.later_by(rng, s.at, 3, 21) for s in led]  # recorded after the last thing linked
            strengths = [rng.choices((Strength.major, Strength.moderate), (60, 40))[0]]
            strengths += [rng.choices(list(Strength), (45, 40, 15))[0] for _ in led[1:]]
            made = [m for m in range(1, min(wanted, len(led)) + 1) if self.past(times[m - 1])]
            if not made:  # what led to it was said in the last days: nothing has come of it yet
                continue
            linked, recorded = led[: made[-1]], times[made[-1] - 1]
            title, did = AREAS[area].changes[index]
            links = [
                ContributionLink(contribution_id=s.cid, strength=st) for s, st in zip(linked, strengths, strict=False)
            ]
            change = ChangeRecorded(
                change_id=chid,
                area=area,
                title=title.format(service=org.service, people=org.people),
                links=links,
                description=did.format(service=org.service, people=org.people),
            )
            self.emit("change.recorded", chid, recorded, change)
            when = recorded
            for status in STEPS[final]:
                when = self.later_by(rng, when, 14, 42)
                moved = ChangeStatusChanged(change_id=chid, status=status, note=rng.choice(NOTES[status]))
                if self.past(when):
                    self.emit("change.status_changed", f"{chid}/{status}", when, moved)
                    if status in (ChangeStatus.agreed, ChangeStatus.declined):  # the decision
                        self.decisions.append(Decision(chid, [link.contribution_id for link in links], when))

    def told(self) -> None:
        """Who heard of each decision, and when: most people some days after it, a monthly reader in the digest
        of the first working day of the next month. Letters for the last weeks' decisions wait to be printed,
        and last month's digest is due this month. Its own random stream, so the rest of the demo is the same."""
        this_month = first_of_month(self.last + timedelta(days=1))
        self.letter_due()
        self.digest_due(add_months(this_month, -1))
        owed: dict[str, list[Decision]] = {}  # only people with a channel
        for decision in self.decisions:
            for pid in sorted({pid for cid in decision.cids for pid in self.who[cid]}):
                person = self.people[pid]
                if person.consent and person.channel is not None and pid not in self.withdrawn:
                    owed.setdefault(pid, []).append(decision)
        for pid, decisions in owed.items():
            person = self.people[pid]
            if person.monthly and person.channel == Channel.email:
                months: dict[date, list[str]] = {}
                for decision in decisions:
                    months.setdefault(first_of_month(decision.at.date()), []).append(decision.chid)
                for month, chids in months.items():
                    when = self.digest_at(self.rng_for(f"{pid}/{month}"), add_months(month, 1))
                    if add_months(month, 1) < this_month and self.past(when):
                        sent = FeedbackSent(participant_id=pid, change_ids=chids, channel=person.channel)
                        self.emit("feedback.sent", f"digest/{pid}/{month:%Y-%m}", when, sent)
                continue
            channel = person.channel or Channel.in_person
            for decision in decisions:
                rng = self.rng_for(f"{pid}/{decision.chid}")  # each pair's own draws: the same on a later day
                when, told = self.later_by(rng, decision.at, 2, 35), rng.random() < TOLD_SHARE[channel]
                if person.channel == Channel.post and (self.last - decision.at.date()).days < LETTERS_WAIT_DAYS:
                    continue  # the letter is written and waits to be printed
                if told and self.past(when):
                    sent = FeedbackSent(participant_id=pid, change_ids=[decision.chid], channel=person.channel)
                    self.emit("feedback.sent", f"{decision.chid}/{pid}", when, sent)

    def digest_due(self, last_month: date) -> None:
        """Make sure someone reads a monthly digest by e-mail and is owed last month's: the digest due this month."""
        decided = [d for d in self.decisions if first_of_month(d.at.date()) == last_month]
        linked = sorted({pid for d in decided for cid in d.cids for pid in self.who[cid]} - self.withdrawn)
        reader = [p for p in map(self.people.get, linked) if p and p.consent and p.channel == Channel.email]
        if any(p.monthly for p in reader):
            return
        email = [pid for pid in linked if (self.registration(pid).contact or Contact()).email]
        chosen = reader[0].pid if reader else email[0] if email else None
        if chosen is None:
            return
        person = self.people[chosen]
        person.consent, person.channel, person.monthly = True, Channel.email, True
        self.registered_again(
            chosen, consent_to_contact=True, preferred_channel=Channel.email, feedback_frequency=Frequency.monthly
        )

    def letter_due(self) -> None:
        """Make sure someone who chose post waits for a letter about a decision of the last weeks."""
        recent = [d for d in self.decisions if (self.last - d.at.date()).days < LETTERS_WAIT_DAYS]
        linked = sorted({pid for d in recent for cid in d.cids for pid in self.who[cid]} - self.withdrawn)
        if not linked or any(self.people[pid].consent and self.people[pid].channel == Channel.post for pid in linked):
            return
        person = self.people[linked[0]]
        person.consent, person.channel = True, Channel.post
        contact = self.registration(person.pid).contact or Contact()
        if not contact.postal_address:
            rng = self.rng_for(person.pid)
            street = f"{rng.randint(1, 120)} {rng.choice(STREETS)}, {self.org.town}"
            address = f"{street} {self.org.postcode}{rng.randint(1, 20)} 4DQ"
            contact = contact.model_copy(update={"postal_address": address})
        self.registered_again(person.pid, consent_to_contact=True, preferred_channel=Channel.post, contact=contact)

    def registered_again(self, pid: str, **changes: Any) -> None:
        """Rewrite a registration not yet returned: what the person chose, decided by what came after."""
        index = self.registrations[pid]
        payload = self.registration(pid).model_copy(update=changes)
        self.events[index] = self.events[index].model_copy(update={"payload": payload})

    def registration(self, pid: str) -> ParticipantRegistered:
        payload = getattr(self.events[self.registrations[pid]], "payload", None)
        assert isinstance(payload, ParticipantRegistered)  # noqa: S101 (registrations index registrations)
        return payload

    def rng_for(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}/{self.org.slug}/{name}")

    def digest_at(self, rng: random.Random, day: date) -> datetime:
        while day.weekday() > 4:  # the first working day of the month
            day += timedelta(days=1)
        return datetime.combine(day, time(9, rng.randrange(0, 60, 5)), UTC)

    def problems(self, people: list[Person], acts: list[Act]) -> None:
        """A few records of the last weeks that the checks turn away, for staff to put right ("Needs attention"):
        hours longer than the activity, and a participant reference with a letter O typed for a zero."""
        rng = self.told_rng
        recent = [a for a in acts if (self.last - a.start.date()).days < 60 and a.attendees] or acts[-3:]
        for n, act in enumerate(rng.sample(recent, min(3, len(recent)))):
            absent = [p for p in people if p.at < act.start and p.pid not in act.attendees]
            if not absent:
                continue
            person = rng.choice(absent)
            when = act.start + timedelta(hours=act.hours)
            if n == 0:  # longer than the activity: a slip of the keyboard, or the length of the day
                longer = act.hours + 1.5
                attended = SessionAttended(
                    activity_id=act.aid, participant_id=person.pid, hours=longer, session_role=SessionRole.attendee
                )
                self.emit("session.attended", f"{act.aid}/{person.pid}/problem", when, attended)
            elif n == 1:  # someone not registered (a typing slip in the reference)
                typo = person.pid.replace("0", "O", 1)
                attended = SessionAttended(
                    activity_id=act.aid, participant_id=typo, hours=act.hours, session_role=SessionRole.attendee
                )
                self.emit("session.attended", f"{act.aid}/{typo}/problem", when, attended)
            else:
                typo = person.pid.replace("0", "O", 1)
                made = ContributionMade(
                    contribution_id=f"c-{next(self.ids['c']):04d}",
                    participant_ids=[typo],
                    activity_id=act.aid,
                    area=act.area,
                    text=UNHEARD[rng.randrange(len(UNHEARD))],
                )
                self.emit("contribution.made", f"{act.aid}/{typo}/problem", when, made)

    def later_by(self, rng: random.Random, when: datetime, low: int, high: int) -> datetime:
        return self.at(when.date() + timedelta(days=rng.randint(low, high)), rng=rng)

    def withdrawals(self, people: list[Person]) -> None:
        for person in self.rng.sample([p for p in people if p.consent], self.rng.randint(2, 4)):
            when = self.later(person.at, 10, 200)
            if self.past(when):
                self.withdrawn.add(person.pid)
                withdrawn = ParticipantConsentChanged(participant_id=person.pid, consent=False, channel=None)
                self.emit("participant.consent_changed", f"{person.pid}/withdrawn", when, withdrawn)
