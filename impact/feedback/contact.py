"""How participants reach the charity: its name, phone, postal address, reply address and web address.

Set by the organisation's admins (ingest/admin.py, `set_contact`); shown on every e-mail, letter and
participant page, so a person who cannot (or would rather not) use a link can still ask a question or
stop their updates. Each detail is optional: what is not set is simply not shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlmodel import Session

from impact.auth.accounts import NoSuchRecord, Organisation

MAX_PHONE = 40
MAX_ADDRESS = 300
MAX_ADDRESS_LINES = 8
MAX_EMAIL = 320
MAX_WEBSITE = 200
# Digits, spaces and the usual phone punctuation, with at least 7 digits: "0113 496 0000", "+44 (0)113 496 0000".
_PHONE = re.compile(r"\+?[0-9 ()\-.]+")
_EMAIL = re.compile(r"[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[^@\s<>,;:\"()\[\]\\.]+")
_WEBSITE = re.compile(r"https?://[^\s<>\"']+\.[^\s<>\"']+", re.IGNORECASE)

FIELDS = ("phone", "postal_address", "reply_email", "website")


@dataclass(frozen=True)
class Contact:
    """The charity as participants see it; empty strings are details not set."""

    name: str
    phone: str = ""
    postal_address: str = ""
    reply_email: str = ""
    website: str = ""

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.postal_address.splitlines() if line.strip()]

    @property
    def address_one_line(self) -> str:
        return ", ".join(self.address_lines)

    @property
    def phone_href(self) -> str:
        """The phone number as a `tel:` link target (digits and a leading +)."""
        digits = re.sub(r"[^0-9+]", "", self.phone.replace("(0)", ""))
        return f"tel:{digits}"

    def ways_to_reach(self) -> list[str]:
        """One sentence per detail that is set, in the order a person would most likely use them."""
        ways = []
        if self.phone:
            ways.append(f"Phone: {self.phone}")
        if self.reply_email:
            ways.append(f"E-mail: {self.reply_email}")
        if self.address_lines:
            ways.append(f"Post: {self.name}, {self.address_one_line}")
        if self.website:
            ways.append(f"Web: {self.website}")
        return ways


def tidy(values: dict[str, str]) -> dict[str, str]:
    """The submitted details as they will be stored: trimmed, the address's blank lines dropped."""
    tidied = {name: (values.get(name) or "").strip() for name in FIELDS}
    tidied["phone"] = " ".join(tidied["phone"].split())
    lines = [" ".join(line.split()) for line in tidied["postal_address"].splitlines()]
    tidied["postal_address"] = "\n".join(line for line in lines if line)
    tidied["reply_email"] = tidied["reply_email"].lower()
    return tidied


def contact_problems(values: dict[str, str]) -> dict[str, str]:
    """Everything wrong with the (tidied) details, by field; empty if they can be saved."""
    problems: dict[str, str] = {}
    phone = values["phone"]
    if phone and (
        len(phone) > MAX_PHONE or not _PHONE.fullmatch(phone) or not 7 <= len(re.sub(r"\D", "", phone)) <= 15
    ):
        problems["phone"] = (
            "Enter a phone number of 7 to 15 digits, like 0113 496 0000 or +44 113 496 0000 "
            "(spaces, brackets and hyphens are fine)."
        )
    address = values["postal_address"]
    if len(address) > MAX_ADDRESS:
        problems["postal_address"] = f"Use at most {MAX_ADDRESS} characters for the postal address."
    elif len(address.splitlines()) > MAX_ADDRESS_LINES:
        problems["postal_address"] = f"Use at most {MAX_ADDRESS_LINES} lines for the postal address."
    email = values["reply_email"]
    if email and (len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email)):
        problems["reply_email"] = "Enter an e-mail address like hello@example.org."
    website = values["website"]
    if website and (len(website) > MAX_WEBSITE or not _WEBSITE.fullmatch(website)):
        problems["website"] = (
            f"Enter a web address that starts with https:// (at most {MAX_WEBSITE} characters), "
            "like https://www.example.org."
        )
    return problems


def set_contact(*, session: Session, org_id: str, values: dict[str, str]) -> Organisation:
    """Save the organisation's contact details (tidied and checked: ValueError names the first problem)."""
    tidied = tidy(values)
    for _field, message in contact_problems(tidied).items():
        raise ValueError(message)
    organisation = session.get(Organisation, org_id)
    if organisation is None:
        raise NoSuchRecord(f"There is no organisation called '{org_id}'.")
    for name in FIELDS:
        setattr(organisation, name, tidied[name])
    session.add(organisation)
    session.flush()
    return organisation


def of(organisation: Organisation | None, org_id: str) -> Contact:
    if organisation is None:
        return Contact(org_id)
    return Contact(
        " ".join(organisation.name.split()) or org_id,
        organisation.phone or "",
        organisation.postal_address or "",
        organisation.reply_email or "",
        organisation.website or "",
    )


def contact(conn: Connection, org_id: str) -> Contact:
    """The organisation's contact details as participants see them (its id alone if it is not registered)."""
    org = Organisation.__table__  # type: ignore[attr-defined]
    row = conn.execute(select(org).where(org.c.org_id == org_id)).first()
    if row is None:
        return Contact(org_id)
    return Contact(
        " ".join(str(row.name).split()) or org_id,
        row.phone or "",
        row.postal_address or "",
        row.reply_email or "",
        row.website or "",
    )
