"""The feedback e-mail's headers and contact details, read back from a real SMTP server (aiosmtpd).

Subjects arrive exactly as written (the e-mail package's own folding once turned "Higher-contrast colours"
into "Higher-contrastcolours"); `Date` is set; `Reply-To` names the charity's reply address when it has one;
every e-mail says how to reach the charity and how to stop the updates, with a short link text in HTML.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest
from sqlmodel import Session

from impact.feedback import contact
from processors.feedback import subject_header
from tests.processors.sending import ORG, Stack, change, decided, person, said

pytestmark = pytest.mark.timeout(180)

TITLES = [
    "Higher-contrast colours",
    "Ffurflenni dwyieithog ar gyfer y gwasanaeth iechyd meddwl — gwaith ar y cyd â phobl leol a\u2019u gofalwyr",
    "Café “drop-in” mornings: Größere Schrift, plus lisible, 大きな文字 — and a very long tail of plain words",
    "A title of plain ASCII words that is long enough to need folding more than once when it is in a subject line",
    "Emoji 🎉 and  double  spaces",
]


def _subject(title: str) -> str:
    return f"What came of what you said about “{' '.join(title.split())}”"


def _set_contact(stack: Stack, **values: str) -> None:
    with Session(stack.engine) as db:
        contact.set_contact(session=db, org_id=ORG, values=values)
        db.commit()


def _decide(stack: Stack, titles: list[str]) -> list[EmailMessage]:
    stack.post(person("p1", "Ann Able"))
    for number, title in enumerate(titles):
        stack.post(said(f"c{number}", ["p1"], f"Words {number}."), change(f"ch{number}", title, [f"c{number}"]))
        stack.post(decided(f"ch{number}"))
    stack.process()
    assert stack.tick().sent == len(titles)
    return stack.inbox.to("p1@people.example.org")


def test_subjects_arrive_exactly_as_written(stack: Stack) -> None:
    messages = _decide(stack, TITLES)
    assert sorted(str(m["Subject"]) for m in messages) == sorted(_subject(t) for t in TITLES)


def test_the_subject_header_reads_back_exactly_and_keeps_lines_short() -> None:
    rng = random.Random(7)
    alphabet = "ab cd-“”é—日🎉_=?:"
    subjects = [_subject(t) for t in TITLES] + [
        " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 240))).split()) or "x" for _ in range(2000)
    ]
    for subject in subjects:
        message = EmailMessage()
        message.set_raw("Subject", subject_header(subject))
        message.set_content("x")
        raw = bytes(message)
        assert message_from_bytes(raw, policy=policy.default)["Subject"] == subject
        assert max(len(line) for line in raw.split(b"\n")) <= 78


def test_date_and_reply_to_are_set_and_the_charity_can_be_reached(stack: Stack) -> None:
    _set_contact(
        stack,
        phone="0113 496 0000",
        postal_address="12 Example Street\nLeeds LS1 1AA",
        reply_email="hello@north-carers.example.org",
        website="",
    )
    before = datetime.now(UTC) - timedelta(seconds=5)
    (message,) = _decide(stack, ["Higher-contrast colours"])
    assert before <= parsedate_to_datetime(str(message["Date"])) <= datetime.now(UTC) + timedelta(seconds=5)
    assert str(message["Reply-To"]) == "North Carers <hello@north-carers.example.org>"
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    text, html = plain.get_content(), rich.get_content()
    for part in (text, html):
        assert "To ask us anything, or to stop these updates, reply to this e-mail." in part
        assert "0113 496 0000" in part and "12 Example Street" in part
        assert "hello@north-carers.example.org" in part
    assert "https://impact.example.org/you/" in text, "the text part keeps the address"
    assert ">Open your page</a>" in html and ">https://impact.example.org/you/" not in html


def test_without_a_reply_address_there_is_no_reply_to_and_no_promise_to_read_replies(stack: Stack) -> None:
    _set_contact(stack, phone="0113 496 0000", postal_address="", reply_email="", website="")
    (message,) = _decide(stack, ["Quieter waiting room"])
    assert message["Reply-To"] is None and message["Date"] is not None
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "reply to this e-mail" not in text and "get in touch" in text and "Phone: 0113 496 0000" in text
