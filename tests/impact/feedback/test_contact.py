"""The charity's contact details (checked and tidied), how a summary ends with them, and letters' short codes.

Pure and fast: nothing here opens a database or a server.
"""

from __future__ import annotations

from datetime import date

import pytest

from impact.feedback import links
from impact.feedback.contact import Contact, contact_problems, tidy
from impact.feedback.outcomes import Decision, News, Person, Said
from impact.feedback.summaries import compose, email_document

FULL = Contact(
    "North Helpline Trust",
    phone="0113 496 0000",
    postal_address="12 Example Street\nLeeds LS1 1AA",
    reply_email="hello@north.example.org",
    website="https://north.example.org",
)
LINK = "https://impact.example.org/you/" + "x" * 95


def _summary(contact: Contact | str, **kwargs: object) -> tuple[str, str]:
    person = Person("org-1", "p-1", "Amina", "amina@example.org", None, None, True, "email", "each_change", False)
    said = Said("c-1", date(2026, 3, 3), "support", "Open later, please.", None)
    decided = Decision("ch-1", "Later hours", "Open until 10pm.", "support", "implemented", None, date(2026, 5, 5))
    summary = compose(
        person, [News(decided, ((said, "major"),))], organisation=contact, link=LINK, link_expires=None, **kwargs
    )  # type: ignore[arg-type]
    return summary.text, email_document(summary, organisation=contact)


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("phone", "0113 496 0000", True),
        ("phone", "+44 (0)113 496-0000", True),
        ("phone", "999", False),
        ("phone", "0113 496 0000 or 0113 496 0001", False),
        ("reply_email", "hello@example.org", True),
        ("reply_email", "Hello <hello@example.org>", False),
        ("reply_email", "hello@example", False),
        ("website", "https://example.org/a?b=c", True),
        ("website", "http://example.org", True),
        ("website", "ftp://example.org", False),
        ("website", 'https://example.org/"onmouseover=x', False),
        ("postal_address", "1 Street\nTown", True),
    ],
)
def test_each_detail_is_checked(field: str, value: str, ok: bool) -> None:
    problems = contact_problems(tidy({field: value}))
    assert (field not in problems) == ok, problems


def test_details_are_tidied() -> None:
    tidied = tidy({"phone": " 0113   496 0000 ", "postal_address": " 1  Street \n\n Town ", "reply_email": "A@B.ORG"})
    assert tidied == {
        "phone": "0113 496 0000",
        "postal_address": "1 Street\nTown",
        "reply_email": "a@b.org",
        "website": "",
    }
    assert Contact("X", phone="+44 (0)113 496 0000").phone_href == "tel:+441134960000"


def test_a_summary_ends_with_every_way_to_reach_the_charity_and_how_to_stop() -> None:
    text, html = _summary(FULL)
    ending = text.split("Questions, or to stop these updates")[1]
    assert "reply to this e-mail" in ending and "Just say “stop”" in ending
    for line in ("Phone: 0113 496 0000", "E-mail: hello@north.example.org", "Web: https://north.example.org"):
        assert line in ending
    assert "Post: North Helpline Trust, 12 Example Street, Leeds LS1 1AA" in ending
    assert 'E-mail: <a style="color:#1d4f91;text-decoration:underline;" href="mailto:hello@north.example.org">' in html
    assert ">Open your page</a>" in html and "x" * 95 + "<" not in html
    assert "12 Example Street, Leeds LS1 1AA" in html.split("This e-mail is from")[1]


def test_a_letter_never_asks_for_a_reply_to_an_email() -> None:
    text, _html = _summary(FULL, medium="letter", code=("https://impact.example.org/you/", "ABCDE-FGHJK"))
    assert "reply to this e-mail" not in text and "get in touch" in text
    assert "Or go to https://impact.example.org/you/\nand type this code: ABCDE-FGHJK" in text


def test_with_no_details_set_the_person_can_still_tell_someone() -> None:
    text, _html = _summary("North Helpline Trust")
    assert "Tell anyone you know at North Helpline Trust." in text and "reply to this e-mail" not in text


def test_a_letter_code_is_the_same_for_the_same_batch_and_person_only() -> None:
    code = links.letter_code(secret_key="k", org_id="o", batch_id="b", participant_id="p")
    assert code == links.letter_code(secret_key="k", org_id="o", batch_id="b", participant_id="p")
    others = {
        links.letter_code(secret_key="k2", org_id="o", batch_id="b", participant_id="p"),
        links.letter_code(secret_key="k", org_id="o2", batch_id="b", participant_id="p"),
        links.letter_code(secret_key="k", org_id="o", batch_id="b2", participant_id="p"),
        links.letter_code(secret_key="k", org_id="o", batch_id="b", participant_id="p2"),
    }
    assert code not in others and len(others) == 4
    assert len(code) == 10 and set(code) <= set(links.CODE_ALPHABET)
    assert not set("01ILO") & set(links.CODE_ALPHABET), "no look-alikes"
    shown = links.show_code(code)
    for typed in (shown, shown.lower(), f"  {shown[:5]} {shown[6:]} ", code):
        assert links.typed_code(typed) == code
    for wrong in ("", "ABCDE", code + "2", "ABCDE-FGHJ0", "<script>"):
        assert links.typed_code(wrong) is None
