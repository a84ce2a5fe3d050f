"""The admin contact form: how participants reach the organisation (admins only, their own organisation)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session

from impact.auth.accounts import Organisation
from tests.ingest.admin.helpers import client_for, page, post

GOOD = {
    "phone": " 0113  496 0000 ",
    "postal_address": "Mind in Leeds\n\n  12 Example Street  \nLeeds LS1 1AA\n",
    "reply_email": "Hello@Mind-Leeds.example.org",
    "website": "https://www.mind-leeds.example.org",
}


def _stored(engine: Engine, org_id: str) -> Organisation:
    with Session(engine) as db:
        found = db.get(Organisation, org_id)
        assert found is not None
        db.expunge(found)
        return found


def test_an_admin_sets_the_details_tidied_and_sees_them(app: Flask, engine: Engine, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    response = post(admin, "/admin/contact", "/admin/contact", **GOOD)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/#contact-title")

    saved = _stored(engine, "mind-leeds")
    assert saved.phone == "0113 496 0000"
    assert saved.postal_address == "Mind in Leeds\n12 Example Street\nLeeds LS1 1AA"
    assert saved.reply_email == "hello@mind-leeds.example.org"
    assert saved.website == GOOD["website"]
    index = page(admin.get("/admin/"))
    assert "Your contact details are saved" in index and "0113 496 0000" in index
    assert "hello@mind-leeds.example.org" in index
    form = page(admin.get("/admin/contact"))
    assert 'value="0113 496 0000"' in form and "12 Example Street" in form
    assert _stored(engine, "carers-east").phone == "", "another organisation is untouched"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "call us", "Enter a phone number of 7 to 15 digits"),
        ("phone", "12345", "Enter a phone number of 7 to 15 digits"),
        ("phone", "0113 496 0000 ext 4", "Enter a phone number of 7 to 15 digits"),
        ("reply_email", "not-an-address", "Enter an e-mail address like hello@example.org."),
        ("reply_email", "a@b.org, evil@example.org", "Enter an e-mail address like hello@example.org."),
        ("website", "javascript:alert(1)", "Enter a web address that starts with https://"),
        ("website", "www.example.org", "Enter a web address that starts with https://"),
        ("postal_address", "x" * 301, "Use at most 300 characters for the postal address."),
        ("postal_address", "\n".join("line" for _ in range(9)), "Use at most 8 lines for the postal address."),
    ],
)
def test_a_wrong_detail_is_shown_again_with_a_clear_message_and_nothing_saved(
    app: Flask, engine: Engine, orgs: dict, field: str, value: str, message: str
) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    response = post(admin, "/admin/contact", "/admin/contact", **{**GOOD, field: value})
    body = page(response)
    assert response.status_code == 422
    assert message in body and 'class="error-summary"' in body and f'href="#{field}"' in body
    assert _stored(engine, "mind-leeds").phone == "", "nothing saved"


def test_details_may_be_left_blank(app: Flask, engine: Engine, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    post(admin, "/admin/contact", "/admin/contact", **GOOD)
    response = post(admin, "/admin/contact", "/admin/contact", phone="", postal_address="", reply_email="", website="")
    assert response.status_code == 303
    assert _stored(engine, "mind-leeds").phone == "" and "Not set" in page(admin.get("/admin/"))


@pytest.mark.parametrize("role", ["staff", "leadership"])
def test_only_admins_see_or_change_the_details(app: Flask, engine: Engine, orgs: dict, role: str) -> None:
    someone = client_for(app, orgs["mind-leeds"][role])
    assert someone.get("/admin/contact").status_code == 403
    token = page(someone.get("/feedback/" if role == "staff" else "/")).partition('name="csrf_token" value="')[2]
    response = someone.post("/admin/contact", data={"csrf_token": token.partition('"')[0], **GOOD})
    assert response.status_code in {400, 403}
    assert _stored(engine, "mind-leeds").phone == ""


def test_signed_out_visitors_are_sent_to_sign_in(app: Flask, engine: Engine, orgs: dict) -> None:
    response = app.test_client().get("/admin/contact")
    assert response.status_code in {302, 303} and "login" in response.headers["Location"]


def test_a_post_without_the_csrf_token_is_refused(app: Flask, engine: Engine, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    response = admin.post("/admin/contact", data=GOOD)
    assert response.status_code == 400
    assert _stored(engine, "mind-leeds").phone == ""


def test_an_admin_changes_only_their_own_organisation(app: Flask, engine: Engine, orgs: dict) -> None:
    other = client_for(app, orgs["carers-east"]["admin"])
    post(other, "/admin/contact", "/admin/contact", **{**GOOD, "phone": "01632 960 000"})
    assert _stored(engine, "carers-east").phone == "01632 960 000"
    assert _stored(engine, "mind-leeds").phone == ""
    mine = page(client_for(app, orgs["mind-leeds"]["admin"]).get("/admin/contact"))
    assert "01632 960 000" not in mine
