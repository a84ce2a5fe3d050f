"""Staff forms about people: register a participant, see them, update their consent to be contacted."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from impact.auth.sessions import get_engine
from ingest import lookups
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
                url_for("forms.new_participant"),
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
    person = lookups.participant_or_404(engine, org_id(), participant_id)
    with engine.connect() as conn:
        feedback = forms_feedback.history(conn, org_id(), participant_id)
    return render_template(
        "participant.html", person=person, feedback=feedback, frequency=FREQUENCY_LABELS.get(person.feedback_frequency)
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
