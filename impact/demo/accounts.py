"""Sign-in accounts and contact details for the demo organisations, for trying the product on one machine (never
in production)."""

from __future__ import annotations

from sqlmodel import Session, select

from impact.demo.year import ORGS

# Sign-in accounts for the demo organisations, for trying the product on one machine (never in production).
DEMO_PASSWORD = "involvement-demo"  # noqa: S105 (a published demo password, for local demo data only)
DEMO_NAMES = {
    "mind-leeds": "Mind in Leeds",
    "carers-trust-east": "Carers Trust East",
    "stroke-support-sw": "Stroke Support South West",
}
# How participants reach each demo charity (fictional: Ofcom's numbers for drama, example.org addresses).
DEMO_CONTACTS = {
    "mind-leeds": {
        "phone": "0113 496 0123",
        "postal_address": "Mind in Leeds\n12 Example Street\nLeeds\nLS1 4AA",
        "reply_email": "involvement@mind-leeds.example.org",
        "website": "https://mind-leeds.example.org",
    },
    "carers-trust-east": {
        "phone": "01632 960 456",
        "postal_address": "Carers Trust East\n3 Sample Road\nNorwich\nNR1 1AA",
        "reply_email": "hello@carers-trust-east.example.org",
        "website": "",
    },
    "stroke-support-sw": {
        "phone": "0117 496 0789",
        "postal_address": "Stroke Support South West\n40 Demo Lane\nBristol\nBS1 5AA",
        "reply_email": "",
        "website": "https://stroke-support-sw.example.org",
    },
}
# The operator organisation that runs the demo platform: its admin may create organisations from /admin/.
DEMO_OPERATOR = "impact-platform"
DEMO_OPERATOR_NAME = "Involvement Impact (platform)"


def demo_accounts(session: Session) -> list[tuple[str, str]]:
    """Create each demo organisation and one account per role, and the operator organisation with one admin
    (once); returns [(e-mail, role)] for the banner, the member organisations' accounts first."""
    from impact.auth.accounts import Organisation, Role, StaffAccount, create_account, create_organisation
    from impact.feedback.contact import set_contact

    def account(org_id: str, org_name: str, role: Role) -> tuple[str, str]:
        email = f"{role}@{org_id}.example.org"
        if session.exec(select(StaffAccount).where(StaffAccount.email == email)).first() is None:
            name = f"Demo {role}"
            create_account(session=session, org_id=org_id, email=email, name=name, role=role, password=DEMO_PASSWORD)
        return email, str(role)

    made = []
    for org in ORGS:
        name = DEMO_NAMES.get(org.slug, org.slug)
        if session.get(Organisation, org.slug) is None:
            create_organisation(session=session, org_id=org.slug, name=name)
            set_contact(session=session, org_id=org.slug, values=DEMO_CONTACTS.get(org.slug, {}))
        made += [account(org.slug, name, role) for role in Role]
    if session.get(Organisation, DEMO_OPERATOR) is None:
        create_organisation(session=session, org_id=DEMO_OPERATOR, name=DEMO_OPERATOR_NAME, operator=True)
    made.append(account(DEMO_OPERATOR, DEMO_OPERATOR_NAME, Role.admin))
    return made
