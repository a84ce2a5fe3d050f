"""Staff forms about activities: record an activity held, see it, correct it, mark who attended (several at once)
and withdraw attendance recorded by mistake."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, current_app, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from impact.auth.sessions import get_engine
from ingest import history, lookups
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
from schemas.vocab import Level, SessionRole, label
from schemas.vocab import title as field_title  # "title" is also an activity's title below

# Each field's title from the vocabulary (schemas.vocab.FIELD_TITLES); "Reference" is the form's own word.
ACTIVITY_LABELS = {
    "title": field_title("title"),
    "activity_id": "Reference",
    "area": field_title("area"),
    "level": field_title("level"),
    "date": field_title("date"),
    "duration_hours": field_title("duration_hours"),
}
# Each option is the level's label, then what it means.
LEVEL_CHOICES = [
    (level.value, f"{label(level)}: {meaning}")
    for level, meaning in (
        (Level.consultation, "people were asked for their views"),
        (Level.co_production, "people worked in partnership with staff"),
        (Level.user_led, "people with lived experience led it"),
    )
]
CHOOSE = {
    "area": "Choose the area of work.",
    "level": "Choose the level of involvement.",
    "session_role": "Choose their role in the session.",
}


@bp.route("/activities/new", methods=["GET", "POST"])
def new_activity() -> Any:
    form = blank(ACTIVITY_LABELS)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(ACTIVITY_LABELS)
        sid = submission_id(form["submission"])
        day = parse_day(form["date"], errors, "date")
        raw = {
            "event_id": str(derived_id(sid, "activity")),
            "type": "activity.held",
            "org_id": org_id(),
            "occurred_at": moment_of(day, opened(form["submission"])).isoformat() if day else "",
            "payload": {
                "activity_id": form["activity_id"].strip() or new_reference("a", sid),
                "title": form["title"],
                "area": form["area"],
                "level": form["level"],
                "date": day.isoformat() if day else None,
                "duration_hours": form["duration_hours"].strip() or None,
            },
        }
        labels = ACTIVITY_LABELS
        event = validate(
            raw, errors, place=placer(labels, "title", {"occurred_at": "date"}), labels=labels, choose=CHOOSE
        )
        if event is not None and save([event], errors, "title"):
            activity_id = event.payload.activity_id
            return confirm(
                f"Activity recorded: {event.payload.title} (reference {activity_id}). You can now mark who attended.",
                url_for(
                    "forms.attendance",
                    activity_id=activity_id,
                    new=_recorded_token(event.payload),
                ),
            )
    return render_form(
        "activity_form.html",
        form=form,
        errors=errors,
        labels=ACTIVITY_LABELS,
        areas=area_choices(),
        levels=LEVEL_CHOICES,
    )


@bp.get("/activities/<activity_id>")
def activity(activity_id: str) -> Any:
    engine = get_engine()
    if lookups.activity_or_none(engine, org_id(), activity_id) is None and (
        page := being_saved("activity", activity_id)
    ):
        return page  # just recorded here, and not folded yet: "Being saved", never "not found"
    held = lookups.activity_or_404(engine, org_id(), activity_id)
    return render_template(
        "activity.html",
        activity=held,
        attendees=lookups.attendees(engine, org_id(), activity_id),
        versions=history.versions(engine, org_id(), "activity", activity_id),
    )


CORRECTION_LABELS = {name: text for name, text in ACTIVITY_LABELS.items() if name != "activity_id"} | {
    "reason": "Reason for the correction"
}


@bp.route("/activities/<activity_id>/correct", methods=["GET", "POST"])
def correct_activity(activity_id: str) -> Any:
    engine = get_engine()
    held = lookups.activity_or_404(engine, org_id(), activity_id)
    before = {
        "title": held.title,
        "area": held.area,
        "level": held.level,
        "date": held.held_on.isoformat(),
        "duration_hours": f"{held.duration_hours:g}",
    }
    longest = max((row.hours for row, _name in lookups.attendees(engine, org_id(), activity_id)), default=0.0)
    form = blank(CORRECTION_LABELS, **before)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(CORRECTION_LABELS)
        day = parse_day(form["date"], errors, "date")
        same = all(form[name].strip() == value for name, value in before.items() if name != "duration_hours")
        try:
            same = same and float(form["duration_hours"]) == held.duration_hours
        except ValueError:
            same = False
        if same:
            errors["title"] = "Nothing to correct: the activity is the same as before."
        try:
            hours = float(form["duration_hours"])
        except ValueError:
            hours = None
        if hours is not None and 0 < hours < longest:
            errors["duration_hours"] = (
                f"Someone's attendance is recorded as {longest:g} hours: the activity cannot be shorter. "
                "Withdraw that attendance first, or enter at least that length."
            )
        raw = {
            "event_id": str(derived_id(submission_id(form["submission"]), "correct")),
            "type": "activity.corrected",
            "org_id": org_id(),
            "occurred_at": opened(form["submission"]).isoformat(),
            "payload": {
                "activity_id": activity_id,
                "title": form["title"],
                "area": form["area"],
                "level": form["level"],
                "date": day.isoformat() if day else None,
                "duration_hours": form["duration_hours"].strip() or None,
                "reason": form["reason"],
            },
        }
        labels = CORRECTION_LABELS
        event = validate(raw, errors, place=placer(labels, "title"), labels=labels, choose=CHOOSE)
        if event is not None and save([event], errors, "reason"):
            return confirm(
                f"Activity corrected: {event.payload.title}.", url_for("forms.activity", activity_id=activity_id)
            )
    return render_form(
        "activity_form.html",
        correcting=held,
        longest=longest,
        form=form,
        errors=errors,
        labels=CORRECTION_LABELS,
        areas=area_choices(),
        levels=LEVEL_CHOICES,
    )


WITHDRAW_LABELS = {"reason": "Reason for withdrawing it"}


@bp.route("/activities/<activity_id>/attendance/<attendance_id>/withdraw", methods=["GET", "POST"])
def withdraw_attendance(activity_id: str, attendance_id: str) -> Any:
    engine = get_engine()
    held = lookups.activity_or_404(engine, org_id(), activity_id)
    found = [
        (row, name) for row, name in lookups.attendees(engine, org_id(), activity_id) if row.event_id == attendance_id
    ]
    if not found:
        abort(404)
    row, name = found[0]
    form = blank(WITHDRAW_LABELS)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(WITHDRAW_LABELS)
        raw = {
            "event_id": str(derived_id(submission_id(form["submission"]), "withdraw")),
            "type": "attendance.withdrawn",
            "org_id": org_id(),
            "occurred_at": opened(form["submission"]).isoformat(),
            "payload": {
                "attendance_id": attendance_id,
                "activity_id": activity_id,
                "participant_id": row.participant_id,
                "reason": form["reason"],
            },
        }
        event = validate(raw, errors, place=placer(WITHDRAW_LABELS, "reason"), labels=WITHDRAW_LABELS)
        if event is not None and save([event], errors, "reason"):
            return confirm(
                f"Attendance withdrawn: {name} at {held.title}.", url_for("forms.activity", activity_id=activity_id)
            )
    return render_form(
        "attendance_withdraw.html", activity=held, row=row, name=name, form=form, errors=errors, labels=WITHDRAW_LABELS
    )


ATTENDANCE_LABELS = {"participants": "Who attended", "hours": "Hours each", "session_role": "Their role"}


@bp.route("/activities/<activity_id>/attendance", methods=["GET", "POST"])
def attendance(activity_id: str) -> Any:
    engine = get_engine()
    held = lookups.activity_or_none(engine, org_id(), activity_id)
    just_recorded = _just_recorded(activity_id) if held is None else None
    if held is None and just_recorded is None:
        lookups.activity_or_404(engine, org_id(), activity_id)
    title, held_on, duration = (
        (held.title, held.held_on, held.duration_hours) if held is not None else just_recorded  # type: ignore[misc]
    )
    already = {row.participant_id for row, _name in lookups.attendees(engine, org_id(), activity_id)}
    form = blank(ATTENDANCE_LABELS, participants=[], hours=f"{duration:g}", session_role="attendee")
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(ATTENDANCE_LABELS) | {"participants": request.form.getlist("participants")}
        sid = submission_id(form["submission"])
        chosen = [p for p in dict.fromkeys(form["participants"]) if p]
        if not chosen:
            errors["participants"] = "Choose at least one person who attended."
        events = []
        labels = ATTENDANCE_LABELS
        place = placer(labels, "participants", {"participant_id": "participants"})
        for participant_id in chosen or ["-"]:
            raw = {
                "event_id": str(derived_id(sid, f"attended/{participant_id}")),
                "type": "session.attended",
                "org_id": org_id(),
                "occurred_at": moment_of(held_on, opened(form["submission"])).isoformat(),
                "payload": {
                    "activity_id": activity_id,
                    "participant_id": participant_id,
                    "hours": form["hours"].strip() or None,
                    "session_role": form["session_role"],
                },
            }
            event = validate(raw, errors, place=place, labels=labels, choose=CHOOSE)
            if event is not None:
                events.append(event)
        if not errors and save(events, errors, "participants"):
            count = len(events)
            return confirm(
                f"Attendance recorded: {count} {'person' if count == 1 else 'people'} at {title}.",
                url_for("forms.activity", activity_id=activity_id) if held else url_for("forms.activities"),
            )
    return render_form(
        "attendance_form.html",
        title=title,
        held_on=held_on,
        activity_id=activity_id,
        carried={} if held else {"new": request.values.get("new", "")},
        people=lookups.participants(engine, org_id()),
        already=already,
        form=form,
        errors=errors,
        labels=ATTENDANCE_LABELS,
        session_roles=choices(SessionRole),
    )


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="activity-just-recorded")


def _recorded_token(held: Any) -> str:
    """What the attendance page needs of an activity this person has just recorded, signed for their organisation."""
    facts = [org_id(), held.activity_id, held.title, held.date.isoformat(), held.duration_hours]
    return str(_signer().dumps(facts))


def _just_recorded(activity_id: str) -> tuple[str, date, float] | None:
    """An activity this organisation has just recorded, before it reaches the read models (from the signed link)."""
    try:
        org, recorded_id, title, day, hours = _signer().loads(request.values.get("new", ""))
        held_on = date.fromisoformat(day)
    except (BadSignature, ValueError, TypeError):
        return None
    if org != org_id() or recorded_id != activity_id:
        return None
    return str(title), held_on, float(hours)
