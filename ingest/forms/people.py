"""Staff forms about people: register a participant, see them, correct their details, update their consent to be
contacted, and (admins) erase them."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, session, url_for
from sqlmodel import Session, col, select

from impact.auth.sessions import CAN_MANAGE, get_engine, signed_in
from ingest import history, lookups
from ingest.forms import feedback as forms_feedback
from ingest.forms.common import (
    blank,
    bp,
    choices,
    confirm,
    derived_id,
    new_reference,
    opened,
    org_id,
    placer,
    posted,
    render_form,
    save,
    submission_id,
    validate,
)
from ingest.forms.saving import being_saved, just_saved
from schemas.readmodels import Change, ChangeLink, Contribution, ContributionParticipant, Participant
from schemas.vocab import (
    AgeBand,
    Channel,
    Disability,
    Ethnicity,
    Frequency,
    Gender,
    ParticipantRole,
    Region,
    label,
    title,
)

# Each field's title from the vocabulary (schemas.vocab.FIELD_TITLES), except where the form words it its own
# way: "Reference" beside the name, and consent asked as a question of contact (the title says what it is for).
PARTICIPANT_LABELS = {
    "display_name": title("display_name"),
    "participant_id": "Reference",
    "role": title("role"),
    "email": title("email"),
    "phone": title("phone"),
    "postal_address": title("postal_address"),
    "consent_to_contact": "Consent to be contacted",
    "preferred_channel": title("preferred_channel"),
    "feedback_frequency": title("feedback_frequency"),
    "age_band": title("age_band"),
    "gender": title("gender"),
    "ethnicity": title("ethnicity"),
    "disability": title("disability"),
    "region": title("region"),
}
DEMOGRAPHICS = {
    "age_band": AgeBand,
    "gender": Gender,
    "ethnicity": Ethnicity,
    "disability": Disability,
    "region": Region,
}
YES_NO = [("yes", "Yes"), ("no", "No")]
CHOOSE = {
    "role": "Choose the person's role.",
    "consent_to_contact": "Choose whether they agree to be contacted.",
    "preferred_channel": "Choose how they would like to hear from you.",
    "consent": "Choose whether they agree to be contacted.",
    "channel": "Choose how they would like to hear from you.",
    "feedback_frequency": "Choose how often they would like to hear.",
}
# Each option starts with the vocabulary's label, so the value reads the same here as everywhere else.
FREQUENCIES = [
    (Frequency.each_change.value, label(Frequency.each_change)),
    # Not "in one message": the browser tests find the "Age" question by a label containing "age".
    (Frequency.monthly.value, f"{label(Frequency.monthly)}, all together"),
]
FREQUENCY_LABELS = dict(FREQUENCIES)


def _participant_event(form: dict[str, str], errors: dict[str, str]) -> Any:
    sid = submission_id(form["submission"])
    contact = {key: form[key].strip() or None for key in ("email", "phone", "postal_address")}
    consent = form.get("consent_to_contact", "")
    if consent not in {"yes", "no"}:
        errors["consent_to_contact"] = CHOOSE["consent_to_contact"]
    channel = form.get("preferred_channel", "")
    if consent == "yes" and not channel:
        errors["preferred_channel"] = CHOOSE["preferred_channel"]
    needs = {
        "email": ("email", "e-mail address"),
        "phone": ("phone", "phone number"),
        "post": ("postal_address", "postal address"),
    }
    if consent == "yes" and channel in needs and not form.get(needs[channel][0], "").strip():
        what = needs[channel][1]
        errors["preferred_channel"] = (
            f"To contact them by {label(channel).lower()}, enter their {what} above, or choose another way."
        )
    raw = {
        "event_id": str(derived_id(sid, "participant")),
        "type": "participant.registered",
        "org_id": org_id(),
        "occurred_at": opened(form["submission"]).isoformat(),
        "payload": {
            "participant_id": form["participant_id"].strip() or new_reference("p", sid),
            "display_name": form["display_name"],
            "role": form["role"],
            "contact": contact if any(contact.values()) else None,
            "consent_to_contact": consent == "yes",
            "preferred_channel": (form["preferred_channel"] or None) if consent == "yes" else None,
            "feedback_frequency": form["feedback_frequency"] or Frequency.each_change.value,
            "demographics": {key: form[key] or None for key in DEMOGRAPHICS},
        },
    }
    return validate(
        raw,
        errors,
        place=placer(PARTICIPANT_LABELS, "preferred_channel"),
        labels=PARTICIPANT_LABELS,
        choose=CHOOSE,
    )


@bp.route("/participants/new", methods=["GET", "POST"])
def new_participant() -> Any:
    form = blank(PARTICIPANT_LABELS, feedback_frequency=Frequency.each_change.value)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(PARTICIPANT_LABELS)
        event = _participant_event(form, errors)
        if event is not None and save([event], errors, "display_name"):
            payload = event.payload
            return confirm(
                f"{payload.display_name} is registered (reference {payload.participant_id}).",
                url_for("forms.new_participant"),  # ready for the next person
            )
    return render_form(
        "participant_form.html",
        form=form,
        errors=errors,
        labels=PARTICIPANT_LABELS,
        roles=choices(ParticipantRole),
        channels=choices(Channel),
        frequencies=FREQUENCIES,
        yes_no=YES_NO,
        demographics={key: choices(vocab) for key, vocab in DEMOGRAPHICS.items()},
    )


@bp.get("/participants/<participant_id>")
def participant(participant_id: str) -> Any:
    engine = get_engine()
    with Session(engine) as db:
        found = db.get(Participant, (org_id(), participant_id))
    if found is None and just_saved("participant", participant_id) is not None:
        # Just registered here, and not folded yet: "Being saved" (once: its notice replaces the flash).
        session.pop("_flashes", None)
        return being_saved("participant", participant_id)
    person = lookups.participant_or_404(engine, org_id(), participant_id)
    with engine.connect() as conn:
        feedback = forms_feedback.history(conn, org_id(), participant_id)
    return render_template(
        "participant.html",
        person=person,
        feedback=feedback,
        frequency=FREQUENCY_LABELS.get(person.feedback_frequency),
        contact_by=CONTACT_BY.get(person.preferred_channel or ""),
        said=_said(org_id(), participant_id),
        versions=history.versions(engine, org_id(), "participant", participant_id),
        may_erase=signed_in().may(CAN_MANAGE),
    )


# How a person agreed to be contacted, after "Yes, " ("Yes, in person", never "Yes, by In person").
CONTACT_BY = {
    Channel.email.value: "by e-mail",
    Channel.phone.value: "by phone",
    Channel.post.value: "by post",
    Channel.in_person.value: "in person",
}


def _said(org: str, participant_id: str) -> list[tuple[Contribution, list[Change]]]:
    """What the person said, newest first, each with the changes it influenced (person -> said -> changed)."""
    with Session(get_engine()) as db:
        contributions = db.exec(
            select(Contribution)
            .join(
                ContributionParticipant,
                (col(ContributionParticipant.org_id) == col(Contribution.org_id))
                & (col(ContributionParticipant.contribution_id) == col(Contribution.contribution_id)),
            )
            .where(
                col(ContributionParticipant.org_id) == org,
                col(ContributionParticipant.participant_id) == participant_id,
            )
            .order_by(col(Contribution.made_on).desc(), col(Contribution.contribution_id))
            .limit(200)
        ).all()
        ids = [c.contribution_id for c in contributions]
        changed: dict[str, list[Change]] = {cid: [] for cid in ids}
        if ids:
            rows = db.exec(
                select(ChangeLink.contribution_id, Change)
                .join(
                    Change,
                    (col(Change.org_id) == col(ChangeLink.org_id))
                    & (col(Change.change_id) == col(ChangeLink.change_id)),
                )
                .where(col(ChangeLink.org_id) == org, col(ChangeLink.contribution_id).in_(ids))
                .order_by(col(Change.title))
            ).all()
            for contribution_id, change in rows:
                changed[contribution_id].append(change)
    return [(c, changed[c.contribution_id]) for c in contributions]


DETAILS_LABELS = {
    "display_name": title("display_name"),
    "role": title("role"),
    "email": title("email"),
    "phone": title("phone"),
    "postal_address": title("postal_address"),
    **{key: title(key) for key in DEMOGRAPHICS},
    "reason": "Reason for the correction",
}
DETAIL_FIELDS = ("display_name", "role", "email", "phone", "postal_address")
NEEDS_DETAIL = {Channel.email.value: "email", Channel.phone.value: "phone", Channel.post.value: "postal_address"}


def _current(person: Participant) -> dict[str, str]:
    return {name: str(getattr(person, name) or "") for name in (*DETAIL_FIELDS, *DEMOGRAPHICS)}


@bp.route("/participants/<participant_id>/details", methods=["GET", "POST"])
def correct_details(participant_id: str) -> Any:
    """Correct a person's name, role, contact details or equality answers, with a reason."""
    person = lookups.participant_or_404(get_engine(), org_id(), participant_id)
    before = _current(person)
    form = blank(DETAILS_LABELS, **before)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(DETAILS_LABELS)
        after = {name: form[name].strip() for name in before}
        fields = [name for name in DETAIL_FIELDS if after[name] != before[name]]
        if any(after[name] != before[name] for name in DEMOGRAPHICS):
            fields.append("demographics")
        if not fields:
            errors["display_name"] = "Nothing to correct: the details are the same as before."
        needed = NEEDS_DETAIL.get(person.preferred_channel or "") if person.consent_to_contact else None
        if needed and not after[needed]:
            how = label(person.preferred_channel or "").lower()
            errors[needed] = (
                f"They chose to hear from you by {how}: keep their {DETAILS_LABELS[needed].lower()}, "
                "or first change how they hear from you (Update consent to be contacted)."
            )
        contact = {key: after[key] or None for key in ("email", "phone", "postal_address")}
        raw = {
            "event_id": str(derived_id(submission_id(form["submission"]), "details")),
            "type": "participant.details_changed",
            "org_id": org_id(),
            "occurred_at": opened(form["submission"]).isoformat(),
            "payload": {
                "participant_id": participant_id,
                "display_name": form["display_name"],
                "role": form["role"],
                "contact": contact if any(contact.values()) else None,
                "demographics": {key: after[key] or None for key in DEMOGRAPHICS},
                "fields": fields or ["display_name"],
                "reason": form["reason"],
            },
        }
        event = validate(
            raw, errors, place=placer(DETAILS_LABELS, "display_name"), labels=DETAILS_LABELS, choose=CHOOSE
        )
        if event is not None and save([event], errors, "reason"):
            changed = ", ".join(history.field_name(name).lower() for name in fields)
            return confirm(
                f"Details corrected for {event.payload.display_name}: {changed}.",
                url_for("forms.participant", participant_id=participant_id),
            )
    return render_form(
        "participant_details_form.html",
        person=person,
        form=form,
        errors=errors,
        labels=DETAILS_LABELS,
        roles=choices(ParticipantRole),
        demographics={key: choices(vocab) for key, vocab in DEMOGRAPHICS.items()},
    )


ERASE_LABELS = {"confirm": "Confirm the erasure"}


@bp.route("/participants/<participant_id>/erase", methods=["GET", "POST"])
def erase(participant_id: str) -> Any:
    """Erase a person (admins only): their name, contact details and equality answers, in every version."""
    if not signed_in().may(CAN_MANAGE):
        abort(403)
    person = lookups.participant_or_404(get_engine(), org_id(), participant_id)
    name = person.display_name or participant_id
    form = blank(ERASE_LABELS)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(ERASE_LABELS)
        if form["confirm"] != "yes":
            errors["confirm"] = f"Tick the box to confirm that {name} is to be erased."
        raw = {
            "event_id": str(derived_id(submission_id(form["submission"]), "erase")),
            "type": "participant.erased",
            "org_id": org_id(),
            "occurred_at": opened(form["submission"]).isoformat(),
            "payload": {"participant_id": participant_id},
        }
        event = validate(raw, errors, place=placer(ERASE_LABELS, "confirm"), labels=ERASE_LABELS)
        if event is not None and save([event], errors, "confirm"):
            return confirm(
                f"{name} ({participant_id}) is erased: their personal details are destroyed in every version.",
                url_for("forms.participants"),
            )
    return render_form(
        "participant_erase.html", person=person, name=name, form=form, errors=errors, labels=ERASE_LABELS
    )


CONSENT_LABELS = {
    "consent": "Consent to be contacted",
    "channel": title("channel"),
    "feedback_frequency": title("feedback_frequency"),
}


@bp.route("/participants/<participant_id>/consent", methods=["GET", "POST"])
def consent(participant_id: str) -> Any:
    person = lookups.participant_or_404(get_engine(), org_id(), participant_id)
    form = blank(
        CONSENT_LABELS,
        consent="yes" if person.consent_to_contact else "no",
        channel=person.preferred_channel or "",
        feedback_frequency=person.feedback_frequency or Frequency.each_change.value,
    )
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(CONSENT_LABELS)
        if form["consent"] not in {"yes", "no"}:
            errors["consent"] = CHOOSE["consent"]
        elif form["consent"] == "yes" and not form["channel"]:
            errors["channel"] = CHOOSE["channel"]
        raw = {
            "event_id": str(derived_id(submission_id(form["submission"]), "consent")),
            "type": "participant.consent_changed",
            "org_id": org_id(),
            "occurred_at": opened(form["submission"]).isoformat(),
            "payload": {
                "participant_id": participant_id,
                "consent": form["consent"] == "yes",
                "channel": (form["channel"] or None) if form["consent"] == "yes" else None,
                "feedback_frequency": form["feedback_frequency"] or None,
            },
        }
        event = validate(raw, errors, place=placer(CONSENT_LABELS, "consent"), labels=CONSENT_LABELS, choose=CHOOSE)
        if event is not None and save([event], errors, "consent"):
            name = person.display_name or participant_id
            said = "agrees to be contacted" if form["consent"] == "yes" else "will not be contacted"
            return confirm(
                f"Consent updated: {name} {said}.", url_for("forms.participant", participant_id=participant_id)
            )
    return render_form(
        "consent_form.html",
        person=person,
        form=form,
        errors=errors,
        labels=CONSENT_LABELS,
        yes_no=YES_NO,
        channels=choices(Channel),
        frequencies=FREQUENCIES,
    )
