"""The domain's vocabularies: activity areas, levels, roles, statuses and the rest (DOMAIN.md)."""

from enum import StrEnum


class Area(StrEnum):
    """The sixteen activity areas in which people with lived experience are involved."""

    campaigning = "campaigning"
    complaints = "complaints"
    conferences_events = "conferences_events"
    fundraising = "fundraising"
    governance = "governance"
    impact = "impact"
    involvement = "involvement"
    media = "media"
    diversity = "diversity"
    publications = "publications"
    pr_marketing = "pr_marketing"
    recruitment = "recruitment"
    research = "research"
    strategy_policy = "strategy_policy"
    support = "support"
    training = "training"


AREA_LABELS: dict[Area, str] = {
    Area.campaigning: "Campaigning",
    Area.complaints: "Complaints and comments",
    Area.conferences_events: "Conferences and events",
    Area.fundraising: "Fundraising",
    Area.governance: "Governance",
    Area.impact: "Impact",
    Area.involvement: "Involvement",
    Area.media: "Media",
    Area.diversity: "Promoting diversity",
    Area.publications: "Publications",
    Area.pr_marketing: "PR and marketing",
    Area.recruitment: "Recruitment and selection",
    Area.research: "Research",
    Area.strategy_policy: "Strategy, policy and planning",
    Area.support: "Support",
    Area.training: "Training",
}


class Level(StrEnum):
    """How far people lead: asked for views, working in partnership, or leading."""

    consultation = "consultation"
    co_production = "co_production"
    user_led = "user_led"


class ParticipantRole(StrEnum):
    service_user = "service_user"
    patient = "patient"
    carer = "carer"  # family, partner or friend who cares; never a paid carer
    other = "other"


class SessionRole(StrEnum):
    attendee = "attendee"
    speaker = "speaker"
    panel_member = "panel_member"
    co_facilitator = "co_facilitator"
    lead = "lead"


class ChangeStatus(StrEnum):
    proposed = "proposed"
    agreed = "agreed"
    implemented = "implemented"
    declined = "declined"


DECIDED_STATUSES = frozenset({ChangeStatus.agreed, ChangeStatus.implemented, ChangeStatus.declined})
INFLUENCING_STATUSES = frozenset({ChangeStatus.agreed, ChangeStatus.implemented})


class Strength(StrEnum):
    """Strength of a contribution's influence on a change (a contribution, never clean attribution)."""

    minor = "minor"
    moderate = "moderate"
    major = "major"


class Channel(StrEnum):
    email = "email"
    post = "post"
    phone = "phone"
    in_person = "in_person"


class Frequency(StrEnum):
    """How often a participant hears what came of what they said."""

    each_change = "each_change"  # one message as each change is decided
    monthly = "monthly"  # one digest a month


PREFER_NOT_TO_SAY = "prefer_not_to_say"


class AgeBand(StrEnum):
    under_18 = "under_18"
    age_18_24 = "18_24"
    age_25_34 = "25_34"
    age_35_44 = "35_44"
    age_45_54 = "45_54"
    age_55_64 = "55_64"
    age_65_74 = "65_74"
    age_75_plus = "75_plus"
    prefer_not_to_say = PREFER_NOT_TO_SAY


class Gender(StrEnum):
    woman = "woman"
    man = "man"
    non_binary = "non_binary"
    self_described = "self_described"
    prefer_not_to_say = PREFER_NOT_TO_SAY


class Ethnicity(StrEnum):
    """The five high-level ethnic groups of the census for England and Wales."""

    asian = "asian"
    black = "black"
    mixed = "mixed"
    white = "white"
    other = "other"
    prefer_not_to_say = PREFER_NOT_TO_SAY


class Disability(StrEnum):
    yes = "yes"
    no = "no"
    prefer_not_to_say = PREFER_NOT_TO_SAY


class Region(StrEnum):
    """UK nations and the English regions."""

    north_east = "north_east"
    north_west = "north_west"
    yorkshire_humber = "yorkshire_humber"
    east_midlands = "east_midlands"
    west_midlands = "west_midlands"
    east_of_england = "east_of_england"
    london = "london"
    south_east = "south_east"
    south_west = "south_west"
    wales = "wales"
    scotland = "scotland"
    northern_ireland = "northern_ireland"
    prefer_not_to_say = PREFER_NOT_TO_SAY


class EventType(StrEnum):
    """Every kind of fact the log holds (DOMAIN.md, "Events")."""

    participant_registered = "participant.registered"
    participant_consent_changed = "participant.consent_changed"
    participant_erased = "participant.erased"
    activity_held = "activity.held"
    session_attended = "session.attended"
    contribution_made = "contribution.made"
    change_recorded = "change.recorded"
    change_status_changed = "change.status_changed"
    feedback_sent = "feedback.sent"
    # Corrections: the latest version of a record replaces the earlier one everywhere; the log keeps both.
    participant_details_changed = "participant.details_changed"
    activity_corrected = "activity.corrected"
    attendance_withdrawn = "attendance.withdrawn"
    contribution_corrected = "contribution.corrected"
    change_corrected = "change.corrected"


# What each kind of record is, in staff's words: the one label every page, export and report uses.
EVENT_LABELS: dict[EventType, str] = {
    EventType.participant_registered: "Participant registered",
    EventType.participant_consent_changed: "Consent to be contacted changed",
    EventType.participant_erased: "Participant erased",
    EventType.activity_held: "Activity held",
    EventType.session_attended: "Attendance",
    EventType.contribution_made: "Contribution",
    EventType.change_recorded: "Change recorded",
    EventType.change_status_changed: "Change of status",
    EventType.feedback_sent: "Feedback sent",
    EventType.participant_details_changed: "Participant's details corrected",
    EventType.activity_corrected: "Activity corrected",
    EventType.attendance_withdrawn: "Attendance withdrawn",
    EventType.contribution_corrected: "Contribution corrected",
    EventType.change_corrected: "Change corrected",
}

# One label per vocabulary value, used by every surface: forms, import, dashboard, report, e-mails and CSV.
# A value not listed reads as itself with its first letter capitalised ("carer" -> "Carer").
VALUE_LABELS: dict[str, str] = {
    **{area.value: text for area, text in AREA_LABELS.items()},
    Level.co_production: "Co-production",
    Level.user_led: "User-led",
    ParticipantRole.service_user: "Service user",
    SessionRole.panel_member: "Panel member",
    SessionRole.co_facilitator: "Co-facilitator",
    Channel.email: "E-mail",
    Channel.in_person: "In person",
    Frequency.each_change: "As each change is decided",
    Frequency.monthly: "Once a month",
    AgeBand.under_18: "Under 18",
    AgeBand.age_18_24: "18 to 24",
    AgeBand.age_25_34: "25 to 34",
    AgeBand.age_35_44: "35 to 44",
    AgeBand.age_45_54: "45 to 54",
    AgeBand.age_55_64: "55 to 64",
    AgeBand.age_65_74: "65 to 74",
    AgeBand.age_75_plus: "75 and over",
    PREFER_NOT_TO_SAY: "Prefer not to say",
    Gender.non_binary: "Non-binary",
    Gender.self_described: "Self-described",
    Region.north_east: "North East",
    Region.north_west: "North West",
    Region.yorkshire_humber: "Yorkshire and the Humber",
    Region.east_midlands: "East Midlands",
    Region.west_midlands: "West Midlands",
    Region.east_of_england: "East of England",
    Region.london: "London",
    Region.south_east: "South East",
    Region.south_west: "South West",
    Region.wales: "Wales",
    Region.scotland: "Scotland",
    Region.northern_ireland: "Northern Ireland",
    **{event.value: text for event, text in EVENT_LABELS.items()},
}

# The title of each field of the events and read models (the same name means the same thing everywhere):
# form labels, import columns, dashboard and report headings and CSV headers all read it from here.
FIELD_TITLES: dict[str, str] = {
    "participant_id": "Participant reference",
    "display_name": "Name",
    "role": "Role",
    "contact": "Contact details",
    "email": "E-mail address",
    "phone": "Phone number",
    "postal_address": "Postal address",
    "consent_to_contact": "Agrees to be told what came of their involvement",
    "preferred_channel": "How they would like to hear",
    "feedback_frequency": "How often they would like to hear",
    "demographics": "Equality monitoring",
    "age_band": "Age",
    "gender": "Gender",
    "ethnicity": "Ethnic group",
    "disability": "Disability",
    "region": "Region",
    "consent": "Agrees to be contacted",
    "channel": "How they would like to hear",
    "activity_id": "Activity reference",
    "title": "Title",
    "area": "Area of work",
    "level": "Level of involvement",
    "date": "Date held",
    "duration_hours": "Length in hours",
    "hours": "Hours",
    "session_role": "Their role in the session",
    "contribution_id": "Contribution reference",
    "participant_ids": "Participant references",
    "text": "What they said",
    "change_id": "Change reference",
    "description": "What the organisation did or will do",
    "status": "Status",
    "decided_on": "Date decided",
    "links": "Contributions that influenced it",
    "strength": "Strength of influence",
    "note": "Note",
    "change_ids": "Change references",
}

# Every vocabulary whose values a person picks from, by the field that holds it.
VOCABULARIES: dict[str, type[StrEnum]] = {
    "role": ParticipantRole,
    "preferred_channel": Channel,
    "channel": Channel,
    "feedback_frequency": Frequency,
    "age_band": AgeBand,
    "gender": Gender,
    "ethnicity": Ethnicity,
    "disability": Disability,
    "region": Region,
    "area": Area,
    "level": Level,
    "session_role": SessionRole,
    "status": ChangeStatus,
    "strength": Strength,
}


def label(value: str) -> str:
    """The one readable label of a vocabulary value ("co_production" -> "Co-production", "18_24" -> "18 to 24")."""
    value = str(value)
    return VALUE_LABELS.get(value) or value.replace("_", " ").capitalize()


def title(field: str) -> str:
    """The one title of a field ("display_name" -> "Name")."""
    return FIELD_TITLES.get(field) or field.replace("_", " ").capitalize()


def from_label(field: str, text: str) -> str | None:
    """The value of `field`'s vocabulary that a person wrote, by its label or its value, in any case; else None."""
    wanted = " ".join(str(text).replace("_", " ").split()).casefold()
    for member in VOCABULARIES[field]:
        if wanted in {label(member.value).casefold(), member.value.replace("_", " ").casefold()}:
            return member.value
    return None
