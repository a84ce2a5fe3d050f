"""Staff forms for "you said, we did": record a contribution, record a change linked to contributions,
move a change through its statuses (a declined change needs a reason), and correct either record.

A correction records the record's whole new version with a reason (`contribution.corrected`,
`change.corrected`); it never tells a participant again by itself (docs/staff.md, "Correcting a record")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, render_template, request, url_for

from impact.auth.sessions import get_engine
from ingest import history, lookups, records
from ingest.forms.common import (
    area_choices,
    blank,
    bp,
    choices,
    confirm,
    derived_id,
    moment_of,
    new_reference,
    opened,
    org_id,
    parse_day,
    placer,
    posted,
    render_form,
    save,
    submission_id,
    validate,
)
from ingest.forms.saving import being_saved
from schemas.vocab import ChangeStatus, Strength, label, title

NOTHING_CHANGED = "Nothing to correct: the values are the same."
REASON_LABEL = "Reason for the correction"
REASON_MISSING = "Say why you are correcting it: staff will read it in the record's history."
CHOOSE = {
    "area": "Choose the area of work.",
    "status": "Choose the status of the change.",
}

# Titles from the vocabulary (schemas.vocab.FIELD_TITLES) for payload fields the form asks as they are.
CONTRIBUTION_LABELS = {
    "participants": "Who said it",
    "activity_id": "Activity",
    "area": title("area"),
    "made_on": "Date it was said",
    "text": title("text"),
}


@bp.route("/contributions/new", methods=["GET", "POST"])
def new_contribution() -> Any:
    engine = get_engine()
    today = datetime.now(UTC).date().isoformat()
    form = blank(CONTRIBUTION_LABELS, participants=[], activity_id=request.args.get("activity_id", ""), made_on=today)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(CONTRIBUTION_LABELS)
        form["participants"] = [p for p in dict.fromkeys(request.form.getlist("participants")) if p]
        sid = submission_id(form["submission"])
        if not form["participants"]:
            errors["participants"] = "Choose at least one person who said it."
        day = parse_day(form["made_on"], errors, "made_on")
        raw = {
            "event_id": str(derived_id(sid, "contribution")),
            "type": "contribution.made",
            "org_id": org_id(),
            "occurred_at": moment_of(day, opened(form["submission"])).isoformat() if day else "",
            "payload": {
                "contribution_id": new_reference("c", sid),
                "participant_ids": form["participants"] or ["-"],
                "activity_id": form["activity_id"] or None,
                "area": form["area"],
                "text": form["text"],
            },
        }
        labels = CONTRIBUTION_LABELS
        place = placer(labels, "text", {"participant_ids": "participants", "occurred_at": "made_on"})
        event = validate(raw, errors, place=place, labels=labels, choose=CHOOSE)
        if event is not None and save([event], errors, "text"):
            return confirm(
                f"Contribution recorded (reference {event.payload.contribution_id}). "
                "You can link it to a change when the organisation acts on it.",
                url_for("forms.new_contribution"),
            )
    activities = lookups.activities(engine, org_id())
    return render_form(
        "contribution_form.html",
        form=form,
        errors=errors,
        labels=CONTRIBUTION_LABELS,
        people=lookups.participants(engine, org_id()),
        activities=[(a.activity_id, f"{a.held_on:%-d %b %Y}: {a.title}") for a in activities],
        areas=area_choices(),
    )


@bp.get("/contributions/<contribution_id>")
def contribution(contribution_id: str) -> Any:
    engine = get_engine()
    found = records.contribution_or_none(engine, org_id(), contribution_id)
    if found is None:
        # just recorded here, and not folded yet: "Being saved", never "not found"
        return being_saved("contribution", contribution_id) or abort(404)
    versions = history.versions(engine, org_id(), "contribution", contribution_id)
    return render_template("contribution.html", record=found, said=found.contribution, versions=versions)


CORRECT_CONTRIBUTION_LABELS = CONTRIBUTION_LABELS | {"reason": REASON_LABEL}


@bp.route("/contributions/<contribution_id>/correct", methods=["GET", "POST"])
def correct_contribution(contribution_id: str) -> Any:
    """Correct what was said, who said it, where, when or its area: the whole new version, with a reason."""
    engine = get_engine()
    found = records.contribution_or_404(engine, org_id(), contribution_id)
    said = found.contribution
    # Erased people cannot be picked again (their names are gone) but stay linked to what they said.
    erased = [p.participant_id for p in found.people if p.erased]
    labels = CORRECT_CONTRIBUTION_LABELS
    form = blank(
        labels,
        participants=[p.participant_id for p in found.people if not p.erased],
        activity_id=said.activity_id or "",
        area=said.area,
        made_on=said.made_on.isoformat(),
        text=said.text,
    )
    if request.args.get("picked"):
        form["participants"] = []  # back from a picker's search without JavaScript: what was ticked is carried
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(labels)
        form["participants"] = [p for p in dict.fromkeys(request.form.getlist("participants")) if p]
        people = [p for p in form["participants"] if p not in erased] + erased
        if not people:
            errors["participants"] = "Choose at least one person who said it."
        day = parse_day(form["made_on"], errors, "made_on")
        if not form["reason"].strip():
            errors["reason"] = REASON_MISSING
        raw = {
            "event_id": str(derived_id(submission_id(form["submission"]), "contribution.corrected")),
            "type": "contribution.corrected",
            "org_id": org_id(),
            "occurred_at": opened(form["submission"]).isoformat(),
            "payload": {
                "contribution_id": contribution_id,
                "participant_ids": people or ["-"],
                "activity_id": form["activity_id"] or None,
                "area": form["area"],
                "text": form["text"],
                "made_on": day.isoformat() if day else "",
                "reason": form["reason"],
            },
        }
        place = placer(labels, "text", {"participant_ids": "participants"})
        event = validate(raw, errors, place=place, labels=labels, choose=CHOOSE)
        if event is not None:
            new = event.payload
            now = (sorted(new.participant_ids), new.activity_id, new.area.value, new.text, new.made_on)
            if now == (sorted(found.participant_ids), said.activity_id, said.area, said.text.strip(), said.made_on):
                errors["text"] = NOTHING_CHANGED
            elif save([event], errors, "reason"):
                return confirm(
                    f"Contribution corrected (reference {contribution_id}).",
                    url_for("forms.contribution", contribution_id=contribution_id),
                )
    activities = lookups.activities(engine, org_id())
    choices_ = [(a.activity_id, f"{a.held_on:%-d %b %Y}: {a.title}") for a in activities]
    if said.activity_id and said.activity_id not in {a.activity_id for a in activities} and found.activity:
        a = found.activity
        choices_.append((a.activity_id, f"{a.held_on:%-d %b %Y}: {a.title}"))
    return render_form(
        "contribution_form.html",
        mode="correct",
        record=found,
        erased=len(erased),
        form=form,
        errors=errors,
        labels=labels,
        people=lookups.participants(engine, org_id(), including=form["participants"]),
        activities=choices_,
        areas=area_choices(),
    )


CHANGE_LABELS = {name: title(name) for name in ("title", "area", "description", "status", "decided_on", "links")}
# Each option is the value's label, then what it means.
STATUS_CHOICES = [
    (status.value, f"{label(status)}: {meaning}")
    for status, meaning in (
        (ChangeStatus.proposed, "not decided yet"),
        (ChangeStatus.agreed, "the organisation has decided to do it"),
        (ChangeStatus.implemented, "it has been done"),
        (ChangeStatus.declined, "the organisation decided not to do it"),
    )
]
STRENGTH_CHOICES = [
    (strength.value, f"{label(strength)}: {meaning}")
    for strength, meaning in (
        (Strength.major, "it shaped the decision"),
        (Strength.moderate, "it was one of the main inputs"),
        (Strength.minor, "it was taken into account"),
    )
]


@bp.route("/changes/new", methods=["GET", "POST"])
def new_change() -> Any:
    engine = get_engine()
    form = blank(CHANGE_LABELS, links=[], strengths={})
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(CHANGE_LABELS)
        form["links"] = [c for c in dict.fromkeys(request.form.getlist("links")) if c]
        form["strengths"] = {c: request.form.get(f"strength-{c}", "") for c in form["links"]}
        sid = submission_id(form["submission"])
        missing = [c for c in form["links"] if form["strengths"][c] not in set(Strength)]
        if missing:
            errors["links"] = (
                f"Choose how strongly each ticked contribution influenced the change ({len(missing)} without)."
            )
        decided = form["status"] not in {"", ChangeStatus.proposed}
        day = parse_day(form["decided_on"], errors, "decided_on", required=decided) if decided else None
        if not decided and form["decided_on"].strip():
            form["decided_on"] = ""  # a proposed change has no decision date yet; the field is ignored
        raw = {
            "event_id": str(derived_id(sid, "change")),
            "type": "change.recorded",
            "org_id": org_id(),
            "occurred_at": opened(form["submission"]).isoformat(),
            "payload": {
                "change_id": new_reference("ch", sid),
                "area": form["area"],
                "title": form["title"],
                "description": form["description"],
                "status": form["status"] or None,
                "decided_on": day.isoformat() if day else None,
                "links": [{"contribution_id": c, "strength": form["strengths"][c] or "-"} for c in form["links"]],
            },
        }
        labels = CHANGE_LABELS
        place = placer(labels, "description", {"contribution_id": "links", "strength": "links"})
        event = validate(raw, errors, place=place, labels=labels, choose=CHOOSE)
        if event is not None and save([event], errors, "title"):
            count = len(event.payload.links)
            return confirm(
                f"Change recorded: {event.payload.title} (reference {event.payload.change_id}), linked to "
                f"{count} contribution{'' if count == 1 else 's'}.",
                url_for("forms.changes"),
            )
    return render_form(
        "change_form.html",
        form=form,
        errors=errors,
        labels=CHANGE_LABELS,
        areas=area_choices(),
        statuses=STATUS_CHOICES,
        strengths=STRENGTH_CHOICES,
        said=lookups.contributions(engine, org_id()),
    )


@bp.get("/changes/<change_id>")
def change(change_id: str) -> Any:
    engine = get_engine()
    if records.change_or_none(engine, org_id(), change_id) is None and (page := being_saved("change", change_id)):
        return page  # just recorded here, and not folded yet: "Being saved", never "not found"
    found = lookups.change_or_404(engine, org_id(), change_id)
    return render_template(
        "change.html",
        change=found,
        links=lookups.links(engine, org_id(), change_id),
        versions=history.versions(engine, org_id(), "change", change_id),
    )


CORRECT_CHANGE_LABELS = {name: CHANGE_LABELS[name] for name in ("title", "area", "description", "links")} | {
    "reason": REASON_LABEL
}


@bp.route("/changes/<change_id>/correct", methods=["GET", "POST"])
def correct_change(change_id: str) -> Any:
    """Correct a change's title, area, "what we did" text and its links, with a reason (not its status)."""
    engine = get_engine()
    found = lookups.change_or_404(engine, org_id(), change_id)
    linked = records.strengths(engine, org_id(), change_id)
    labels = CORRECT_CHANGE_LABELS
    form = blank(
        labels,
        title=found.title,
        area=found.area,
        description=found.description,
        links=list(linked),
        strengths=dict(linked),
    )
    if request.args.get("picked"):
        form["links"] = []  # back from a picker's search without JavaScript: what was ticked is carried
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(labels)
        form["links"] = [c for c in dict.fromkeys(request.form.getlist("links")) if c]
        form["strengths"] = {c: request.form.get(f"strength-{c}", "") for c in form["links"]}
        missing = [c for c in form["links"] if form["strengths"][c] not in set(Strength)]
        if missing:
            errors["links"] = (
                f"Choose how strongly each ticked contribution influenced the change ({len(missing)} without)."
            )
        if not form["reason"].strip():
            errors["reason"] = REASON_MISSING
        raw = {
            "event_id": str(derived_id(submission_id(form["submission"]), "change.corrected")),
            "type": "change.corrected",
            "org_id": org_id(),
            "occurred_at": opened(form["submission"]).isoformat(),
            "payload": {
                "change_id": change_id,
                "area": form["area"],
                "title": form["title"],
                "description": form["description"],
                "links": [{"contribution_id": c, "strength": form["strengths"][c] or "-"} for c in form["links"]],
                "reason": form["reason"],
            },
        }
        place = placer(labels, "description", {"contribution_id": "links", "strength": "links"})
        event = validate(raw, errors, place=place, labels=labels, choose=CHOOSE)
        if event is not None:
            new = event.payload
            now = (new.title, new.area.value, new.description, {k.contribution_id: k.strength.value for k in new.links})
            if now == (found.title.strip(), found.area, found.description.strip(), linked):
                errors["title"] = NOTHING_CHANGED
            elif save([event], errors, "reason"):
                return confirm(
                    f"Change corrected: {new.title} (reference {change_id}).",
                    url_for("forms.change", change_id=change_id),
                )
    return render_form(
        "change_form.html",
        mode="correct",
        change=found,
        form=form,
        errors=errors,
        labels=labels,
        areas=area_choices(),
        strengths=STRENGTH_CHOICES,
        said=lookups.contributions(engine, org_id(), including=form["links"]),
    )


STATUS_LABELS = {"status": "New status", "decided_on": title("decided_on"), "note": title("note")}


@bp.route("/changes/<change_id>/status", methods=["GET", "POST"])
def change_status(change_id: str) -> Any:
    found = lookups.change_or_404(get_engine(), org_id(), change_id)
    form = blank(STATUS_LABELS, decided_on=datetime.now(UTC).date().isoformat())
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(STATUS_LABELS)
        if form["status"] == ChangeStatus.declined and not form["note"].strip():
            errors["note"] = "Say why the change was declined: the people who suggested it will be told."
        decided = form["status"] not in {"", ChangeStatus.proposed}
        day = parse_day(form["decided_on"], errors, "decided_on", required=decided) if decided else None
        if not decided:
            form["decided_on"] = ""  # back to proposed: there is no decision date; the field is ignored
        raw = {
            "event_id": str(derived_id(submission_id(form["submission"]), "status")),
            "type": "change.status_changed",
            "schema_version": 2,
            "org_id": org_id(),
            "occurred_at": opened(form["submission"]).isoformat(),
            "payload": {
                "change_id": change_id,
                "status": form["status"],
                "note": form["note"].strip() or None,
                "decided_on": day.isoformat() if day else None,
            },
        }
        labels = STATUS_LABELS
        event = validate(raw, errors, place=placer(labels, "note"), labels=labels, choose=CHOOSE)
        if event is not None and save([event], errors, "status"):
            return confirm(
                f"The status of “{found.title}” is now {event.payload.status}.",
                url_for("forms.change", change_id=change_id),
            )
    return render_form(
        "status_form.html",
        change=found,
        form=form,
        errors=errors,
        labels=STATUS_LABELS,
        statuses=[(value, text) for value, text in STATUS_CHOICES if value != found.status],
        current=choices([found.status])[0][1],
    )
