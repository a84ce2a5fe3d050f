"""The field types every event payload is made of: identifiers, instants and days in the past, hours, free
text, and the pieces of a participant's details. The event contracts themselves are in schemas/events.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
)

from schemas.vocab import AgeBand, Disability, Ethnicity, Gender, Region

# Clocks on staff laptops drift; a fact stamped a few minutes ahead is still a past fact.
CLOCK_SKEW = timedelta(minutes=5)
MAX_HOURS = 24.0


def _not_in_future(value: datetime) -> datetime:
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError("must not be in the future")
    return value


def _day_not_in_future(value: date) -> date:
    # A day is "not in the future" if it has started somewhere: UTC+14 is the earliest zone.
    if value > (datetime.now(UTC) + timedelta(hours=14)).date():
        raise ValueError("must not be in the future")
    return value


_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_ORG_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")


def _identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError("use 1 to 64 letters, digits or . _ : - (starting with a letter or digit)")
    return value


def _org_id(value: str) -> str:
    if not _ORG_ID.fullmatch(value):
        raise ValueError("use the organisation's slug: 2 to 40 lower-case letters, digits or hyphens")
    return value


Identifier = Annotated[
    str,
    AfterValidator(_identifier),
    Field(
        description="A stable identifier: letters, digits and . _ : - (at most 64 characters).",
        json_schema_extra={"pattern": f"^{_IDENTIFIER.pattern}$"},
    ),
]
OrgId = Annotated[
    str,
    AfterValidator(_org_id),
    Field(
        description="The organisation's slug: lower-case letters, digits, hyphens.",
        json_schema_extra={"pattern": f"^{_ORG_ID.pattern}$"},
    ),
]
PastInstant = Annotated[AwareDatetime, AfterValidator(_not_in_future)]
PastDay = Annotated[date, AfterValidator(_day_not_in_future)]
Hours = Annotated[float, Field(gt=0, le=MAX_HOURS, description="Hours, more than 0 and at most 24.")]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(value: str) -> str:
    # NUL and other control characters are never meant, and PostgreSQL refuses NUL outright.
    if _CONTROL.search(value):
        raise ValueError("remove the control characters (such as NUL) from the text")
    return value


def text(max_length: int) -> Any:
    """Free text: trimmed, non-empty, bounded, printable. Stored exactly as typed; escaped on display."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        AfterValidator(_printable),
    ]


Name = text(120)
Title = text(200)
Note = text(2000)
Said = text(4000)
Reason = text(500)  # why a record was corrected


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Contact(Payload):
    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None
    postal_address: text(400) | None = None  # type: ignore[valid-type]


class Demographics(Payload):
    """Voluntary equality-monitoring answers; every field allows "prefer_not_to_say"."""

    age_band: AgeBand | None = None
    gender: Gender | None = None
    ethnicity: Ethnicity | None = None
    disability: Disability | None = None
    region: Region | None = None
