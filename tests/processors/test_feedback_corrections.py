"""Corrections and the next message, against a real SMTP server (aiosmtpd), a real log and database.

A corrected e-mail address or name is used by the next message; a corrected "what we did" text is what a
participant reads if they have not heard yet; a correction never sends a message again to someone already told.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.processors.sending import EMBEDDED, Stack, change, decided, event, person, said

pytestmark = pytest.mark.timeout(180)
ONE_STACK = pytest.mark.parametrize("stack", [EMBEDDED], indirect=True)  # the fold and the sender: no SQL dialect


def details(pid: str, name: str, email: str, fields: list[str]) -> dict[str, Any]:
    payload = {
        "participant_id": pid,
        "display_name": name,
        "role": "carer",
        "contact": {"email": email},
        "fields": fields,
        "reason": "Told us at the panel",
    }
    return event("participant.details_changed", payload)


def corrected_change(text: str) -> dict[str, Any]:
    payload = {
        "change_id": "ch1",
        "area": "research",
        "title": "Agendas a week ahead",
        "description": text,
        "links": [{"contribution_id": "c1", "strength": "major"}],
        "reason": "Typo",
    }
    return event("change.corrected", payload)


@ONE_STACK
def test_the_next_message_uses_corrected_details_and_the_corrected_text(stack: Stack) -> None:
    stack.post(
        person("p1", "Ann Able"),
        said("c1", ["p1"], "Send the agenda sooner."),
        change("ch1", "Agendas a week ahead", ["c1"]),
    )
    stack.post(details("p1", "Ann Newname", "ann.new@people.example.org", ["display_name", "email"]))
    stack.post(corrected_change("Agendas now go out a week before each meeting, by e-mail and by post."))
    stack.process()
    stack.post(decided("ch1"))
    stack.process()
    assert stack.tick().sent == 1
    [message] = stack.inbox.messages
    assert str(message["To"]) == "Ann Newname <ann.new@people.example.org>", "the corrected name and address"
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "by e-mail and by post" in text, "the corrected text, as the participant reads it"
    assert "p1@people.example.org" not in str(message)


@ONE_STACK
def test_a_correction_after_the_message_does_not_send_it_again(stack: Stack) -> None:
    stack.post(
        person("p1", "Ann Able"),
        said("c1", ["p1"], "Send the agenda sooner."),
        change("ch1", "Agendas a week ahead", ["c1"]),
    )
    stack.process()
    stack.post(decided("ch1"))
    stack.process()
    assert stack.tick().sent == 1
    stack.post(corrected_change("Agendas now go out a week before each meeting (typo fixed)."))
    stack.post(details("p1", "Ann Able", "ann.other@people.example.org", ["email"]))
    stack.process()
    assert stack.tick().sent == 0, "a typo fixed, or a new address, tells nobody again"
    assert len(stack.inbox.messages) == 1
    assert [(f.participant_id, f.change_id) for f in stack.feedback()] == [("p1", "ch1")]
