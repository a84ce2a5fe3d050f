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


AGE_BAND_LABELS: dict[str, str] = {
    AgeBand.under_18: "Under 18",
    AgeBand.age_18_24: "18 to 24",
    AgeBand.age_25_34: "25 to 34",
    AgeBand.age_35_44: "35 to 44",
    AgeBand.age_45_54: "45 to 54",
    AgeBand.age_55_64: "55 to 64",
    AgeBand.age_65_74: "65 to 74",
    AgeBand.age_75_plus: "75 and over",
}


_HYPHENATED = {"co_production": "Co-production", "user_led": "User-led"}


def label(value: str) -> str:
    """A readable label for any vocabulary value ("co_production" -> "Co-production", "18_24" -> "18 to 24")."""
    if value in _HYPHENATED:
        return _HYPHENATED[value]
    if value in AREA_LABELS:
        return AREA_LABELS[Area(value)]
    if value in AGE_BAND_LABELS:
        return AGE_BAND_LABELS[value]
    return value.replace("_", " ").capitalize()
