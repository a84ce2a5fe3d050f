"""International e-mail addresses (`用户@例子.广告`, `user@bücher.example`), end to end with a real SMTP server.

A server that offers SMTPUTF8 gets both as they are; one that does not gets `user@xn--bcher-kva.example`
(IDNA), and a non-ASCII local part goes to staff with a sentence they can act on, the rest of the batch
unharmed. The staff form and the API accept both addresses alike.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.eventlog.sealing import keys_for, opened
from impact.feedback.outbox import State
from impact.settings import Settings
from ingest import create_app
from processors.mail import NEEDS_SMTPUTF8, address_header, fit_for
from tests.factories import add_organisation, free_port, logged, sign_in
from tests.factories import post_form as post
from tests.processors.sending import Inbox, Stack, change, decided, person, said

pytestmark = pytest.mark.timeout(60)

CHINESE, GERMAN, PLAIN = "用户@例子.广告", "user@bücher.example", "p3@people.example.org"
TITLE = "Agendas a week ahead"


class Utf8Inbox(Inbox):
    """An inbox that reads each message as UTF-8 (as an SMTPUTF8 server may receive it) and keeps the envelope."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[tuple[list[str], list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            message = email.message_from_string(envelope.content.decode(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self.envelopes.append((list(envelope.rcpt_tos), list(envelope.mail_options)))
        return "250 Message accepted"

    def addressed(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if [a.addr_spec for a in m["To"].addresses] == [address]]


@pytest.fixture(params=[True, False], ids=["smtputf8", "ascii-only"])
def smtp(request: pytest.FixtureRequest) -> Iterator[tuple[Inbox, int]]:
    """Overrides conftest's server: one with SMTPUTF8 and one without (aiosmtpd's default)."""
    inbox, port = Utf8Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=request.param)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _with_email(event: dict[str, Any], address: str) -> dict[str, Any]:
    event["payload"]["contact"]["email"] = address
    return event


def _decide(stack: Stack) -> Any:
    stack.post(
        _with_email(person("p1", "张伟"), CHINESE),
        _with_email(person("p2", "Zoë <evil@example.org>, Müller"), GERMAN),
        person("p3", "Cat Cole"),
        said("c1", ["p1", "p2", "p3"], "Please send the agenda a week before."),
        change("ch1", TITLE, ["c1"]),
    )
    stack.post(decided("ch1"))
    stack.process()
    return stack.tick()


def _arrived_well(message: EmailMessage, name: str) -> None:
    assert [a.display_name for a in message["To"].addresses] == [name]
    assert TITLE in str(message["Subject"])
    plain = message.get_body(("plain",))
    assert plain is not None and TITLE in plain.get_content()


@pytest.mark.parametrize("smtp", [True], indirect=True, ids=["smtputf8"])
def test_a_server_with_smtputf8_gets_both_addresses_as_they_are(stack: Stack) -> None:
    done = _decide(stack)
    assert (done.sent, done.failed, done.retrying, done.errors) == (3, 0, 0, [])
    inbox = stack.inbox
    assert isinstance(inbox, Utf8Inbox)
    [chinese], [german] = inbox.addressed(CHINESE), inbox.addressed(GERMAN)
    _arrived_well(chinese, "张伟")
    _arrived_well(german, "Zoë <evil@example.org>, Müller")  # quoted whole: one recipient, never two
    assert len(inbox.addressed(PLAIN)) == 1
    envelopes = {tuple(rcpts): options for rcpts, options in inbox.envelopes}
    assert "SMTPUTF8" in envelopes[(CHINESE,)] and "SMTPUTF8" in envelopes[(GERMAN,)]
    assert "SMTPUTF8" not in envelopes[(PLAIN,)]  # plain mail stays plain
    assert {stack.items()[(p, "ch1")].state for p in ("p1", "p2", "p3")} == {State.sent}


@pytest.mark.parametrize("smtp", [False], indirect=True, ids=["ascii-only"])
def test_a_server_without_smtputf8_gets_idna_and_staff_get_what_cannot_go(stack: Stack) -> None:
    done = _decide(stack)
    assert (done.sent, done.failed, done.retrying, done.errors) == (2, 1, 0, [])
    inbox = stack.inbox
    assert isinstance(inbox, Utf8Inbox)
    [german] = inbox.addressed("user@xn--bcher-kva.example")
    _arrived_well(german, "Zoë evil example.org Müller")  # the delimiters go, so the name cannot add a recipient
    assert len(inbox.addressed(PLAIN)) == 1
    assert inbox.addressed(CHINESE) == [] and len(inbox.messages) == 2
    assert all("SMTPUTF8" not in options for _, options in inbox.envelopes)
    items = stack.items()
    assert items[("p2", "ch1")].state == State.sent and items[("p3", "ch1")].state == State.sent
    chinese = items[("p1", "ch1")]
    assert chinese.state == State.failed and chinese.last_error == NEEDS_SMTPUTF8
    assert chinese.attempts == 1  # refused at once, not retried: trying again cannot help


def test_a_header_names_exactly_its_one_address_whatever_the_letters() -> None:
    for address in (CHINESE, GERMAN, "user@xn--bcher-kva.example"):
        for name in ("张伟", "Eve <evil@example.org>, 用户", 'Zoë "x" \\ (y)', "A\nB", "x" * 200):
            message = EmailMessage()
            message["To"] = address_header(name, address)
            message.set_content("x")
            for smtputf8 in (True, False) if address.isascii() else (True,):
                sent = fit_for(message, smtputf8=smtputf8)
                raw = sent.as_bytes(policy=sent.policy.clone(utf8=smtputf8)).decode()
                arrived = email.message_from_string(raw, policy=email.policy.default)["To"]
                assert [a.addr_spec for a in arrived.addresses] == [address], (name, address, raw)


# --- the door: the API (above, via stack.post) and the staff form accept them alike -----------------


@pytest.mark.parametrize("address", [CHINESE, GERMAN])
def test_the_staff_form_accepts_international_addresses_as_the_api_does(
    address: str, settings: Settings, event_log: EventLog, engine: Engine
) -> None:
    add_organisation(engine, "mind-leeds")
    client: FlaskClient = create_app(settings, event_log, test_config={"TESTING": True}, engine=engine).test_client()
    sign_in(client, "staff@mind-leeds.example.org")
    fields = {
        "display_name": "Ann Example",
        "participant_id": "p-ann",
        "role": "carer",
        "email": address,
        "consent_to_contact": "yes",
        "preferred_channel": "email",
        "age_band": "prefer_not_to_say",
        "region": "yorkshire_humber",
    }
    response = post(client, "/staff/participants/new", fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    [event] = logged(event_log, settings)
    with engine.connect() as conn:
        payload = opened(event, keys_for(conn, [event]))
    assert payload is not None and payload["contact"]["email"] == address
