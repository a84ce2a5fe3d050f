"""The correction form, generated from an event type's payload model: no request, no database.

`sections(event_type)` lays out one labelled field per payload field (a group such as `contact`
becomes a section under a legend); `as_text` and `shown` put a stored value into the form and into
the "as recorded" list; `payload_of` turns the form as posted back into a payload for the schema to
check, and `placer` says which field a schema error belongs to.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any, Union

from pydantic import BaseModel

from ingest.forms.common import area_choices, choices, parse_day
from schemas.events import PAYLOADS, WITHHELD
from schemas.vocab import Area, title

FIELD_HINTS = {
    "participant_id": "The person's reference, as shown on the Participants page.",
    "activity_id": "The activity's reference, as shown on its page.",
    "change_id": "The change's reference, as shown on its page.",
    "hours": "A number more than 0 and at most 24, for example 1.5.",
    "duration_hours": "A number more than 0 and at most 24, for example 1.5.",
    "participant_ids": "One reference per line.",
    "change_ids": "One reference per line.",
    "decided_on": "Needed unless the change is only proposed.",
    "note": "Needed if the change is declined: say why.",
}
OCCURRED = "occurred_on"
OCCURRED_LABEL = "Date it happened"
YES_NO = [("yes", "Yes"), ("no", "No")]
NOT_GIVEN = "Not given"


@dataclass(frozen=True)
class Spec:
    """One field of the correction form: where its value lives in the payload, and how it is typed."""

    name: str  # the form field (and element id): "hours", or "contact-email" inside a group
    path: tuple[str, ...]  # where in the payload: ("hours",) or ("contact", "email")
    label: str
    kind: str  # text | textarea | number | date | select | yesno | lines | rows
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    hint: str = ""
    max_length: int = 4000
    columns: tuple[str, ...] = ()  # for "rows": the fields of each line ("contribution_id", "strength")
    vocab: dict[str, frozenset[str]] = field(default_factory=dict)  # for "rows": each column's allowed values


@dataclass(frozen=True)
class Section:
    """Fields shown together: a whole payload field, or a group of them under a legend."""

    legend: str | None
    name: str | None
    fields: list[Spec]
    optional: bool = False  # the group may be left empty
    nullable: bool = False  # an empty group is sent as None (else as a group of empty answers)


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(the type, whether None is allowed, metadata found in Annotated) of a field's annotation."""
    optional = False
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else str
    metadata: list[Any] = []
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *metadata = typing.get_args(annotation)
    return annotation, optional, metadata


def _max_length(metadata: list[Any]) -> int | None:
    return next((int(m.max_length) for m in metadata if getattr(m, "max_length", None)), None)


def _spec(name: str, path: tuple[str, ...], info: Any) -> Spec:
    kind_of, optional, metadata = _unwrap(info.annotation)
    metadata = [*info.metadata, *metadata]
    required = info.is_required() and not optional
    common: dict[str, Any] = {
        "name": name,
        "path": path,
        "label": title(path[-1]),
        "required": required,
        "hint": FIELD_HINTS.get(path[-1], ""),
    }
    if isinstance(kind_of, type) and issubclass(kind_of, Enum):
        options = area_choices() if kind_of is Area else choices(kind_of)
        return Spec(kind="select", options=options, **common)
    if kind_of is bool:
        return Spec(kind="yesno", options=YES_NO, **common)
    if kind_of in (float, int):
        return Spec(kind="number", **common)
    if kind_of is date:
        return Spec(kind="date", **common)
    if typing.get_origin(kind_of) is list:
        item, _optional, _metadata = _unwrap(typing.get_args(kind_of)[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            columns = tuple(item.model_fields)
            vocab = {}
            for column, column_info in item.model_fields.items():
                column_type = _unwrap(column_info.annotation)[0]
                if isinstance(column_type, type) and issubclass(column_type, Enum):
                    vocab[column] = frozenset(str(value) for value in column_type)
            example = " ".join(sorted(vocab[c])[0] if c in vocab else f"{c.split('_')[0][:1]}-1a2b3c" for c in columns)
            words = " then ".join(
                f"the {title(c).lower()}" + (f" ({', '.join(sorted(vocab[c]))})" if c in vocab else "") for c in columns
            )
            common["hint"] = f"One per line: {words}, separated by a space. For example: {example}"
            return Spec(kind="rows", columns=columns, vocab=vocab, **common)
        return Spec(kind="lines", **common)
    length = _max_length(metadata)  # references have none: they are short
    if length is not None and length >= 400:
        return Spec(kind="textarea", max_length=length, **common)
    return Spec(kind="text", max_length=length or 200, **common)


def sections(event_type: str) -> list[Section]:
    """The correction form of an event type: its payload fields in the model's order, groups flattened."""
    out = []
    for name, info in PAYLOADS[event_type].model_fields.items():
        kind_of, optional, _metadata = _unwrap(info.annotation)
        if isinstance(kind_of, type) and issubclass(kind_of, BaseModel):
            specs = [_spec(f"{name}-{child}", (name, child), sub) for child, sub in kind_of.model_fields.items()]
            out.append(Section(title(name), name, specs, optional or not info.is_required(), optional))
        else:
            out.append(Section(None, None, [_spec(name, (name,), info)]))
    return out


def specs_of(parts: list[Section]) -> list[Spec]:
    """Every field of the form, in the order of the page."""
    return [spec for section in parts for spec in section.fields]


def labels_of(parts: list[Section]) -> dict[str, str]:
    """Each form field's label, in the order of the page (the error summary follows it)."""
    return {spec.name: spec.label for spec in specs_of(parts)} | {OCCURRED: OCCURRED_LABEL}


# --- Stored values into the form, and the form into a payload ---------------------------------


def stored_value(payload: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at `path` in a stored payload (WITHHELD if a group on the way was withheld)."""
    value: Any = payload
    for part in path:
        if value == WITHHELD:
            return WITHHELD
        value = value.get(part) if isinstance(value, dict) else None
    return value


def as_text(spec: Spec, value: Any) -> str:
    """A stored value as the form's field shows it."""
    if value is None or value == WITHHELD:
        return ""
    if spec.kind == "yesno" and isinstance(value, bool):
        return "yes" if value else "no"
    if spec.kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    if spec.kind == "lines" and isinstance(value, list):
        return "\n".join(str(item) for item in value)
    if spec.kind == "rows" and isinstance(value, list):
        lines = [
            " ".join(str(row.get(c, "")) for c in spec.columns) if isinstance(row, dict) else str(row) for row in value
        ]
        return "\n".join(lines)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def shown(spec: Spec, value: Any) -> str:
    """A stored value as the page shows what was recorded."""
    if value == WITHHELD:
        return "Withheld (personal data)"
    if value is None or value in ("", []):
        return NOT_GIVEN
    if spec.kind == "select":
        return dict(spec.options).get(str(value), str(value))
    if spec.kind == "yesno" and isinstance(value, bool):
        return "Yes" if value else "No"
    if spec.kind == "rows" and isinstance(value, list):
        rows = [
            f"{row.get(spec.columns[0], '')} ({', '.join(str(row.get(c, '')) for c in spec.columns[1:])})"
            if isinstance(row, dict) and spec.columns
            else str(row)
            for row in value
        ]
        return "; ".join(rows)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return as_text(spec, value)


def value_of(spec: Spec, text: str, errors: dict[str, str]) -> Any:
    """What the payload gets from a field as typed (the schema then checks it)."""
    what = spec.label.lower()
    if spec.kind in {"textarea"}:
        if not text.strip():
            if spec.required:
                errors.setdefault(spec.name, f"Enter {what}.")
                return ""
            return None
        return text
    text = text.strip()
    if spec.kind == "lines":
        items = [line.strip() for line in text.splitlines() if line.strip()]
        if spec.required and not items:
            errors.setdefault(spec.name, f"Enter at least one of the {what}, one per line.")
        return items
    if spec.kind == "rows":
        return _rows(spec, text, errors)
    if not text:
        if spec.required:
            choose = spec.kind in {"select", "yesno"}
            errors.setdefault(spec.name, f"Choose {what}." if choose else f"Enter {what}.")
            return ""
        return None
    if spec.kind == "yesno":
        return {"yes": True, "no": False}.get(text, text)
    if spec.kind == "date":
        day = parse_day(text, errors, spec.name, required=spec.required)
        return day.isoformat() if day else text
    if spec.kind == "number":
        try:
            return float(text)
        except ValueError:
            return text  # the schema says how to write it
    return text


def _rows(spec: Spec, text: str, errors: dict[str, str]) -> list[dict[str, str]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) != len(spec.columns):
            errors.setdefault(spec.name, f"Line {number} does not fit. {spec.hint}")
            continue
        row = dict(zip(spec.columns, parts, strict=True))
        for column, allowed in spec.vocab.items():
            if row[column] not in allowed:
                words = title(column).lower()
                errors.setdefault(spec.name, f"Line {number}: the {words} must be one of {', '.join(sorted(allowed))}.")
        rows.append(row)
    return rows


def payload_of(parts: list[Section], form: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The payload the form as posted makes; problems the schema cannot see go to `errors`."""
    payload: dict[str, Any] = {}
    for section in parts:
        values = {spec.path[-1]: value_of(spec, form[spec.name], errors) for spec in section.fields}
        if section.name is None:
            spec = section.fields[0]
            if values[spec.path[-1]] is None and not spec.required and spec.kind in {"yesno", "select", "rows"}:
                continue  # unanswered: the schema's default
            payload.update(values)
        elif section.nullable and all(value is None for value in values.values()):
            payload[section.name] = None
        else:
            payload[section.name] = values
    return payload


def placer(parts: list[Section], fallback: str) -> Callable[[tuple[int | str, ...]], str]:
    """Where a schema error belongs: the payload field (or group member) its location names."""
    names = {spec.path: spec.name for spec in specs_of(parts)}

    def place(loc: tuple[int | str, ...]) -> str:
        if "occurred_at" in loc:
            return OCCURRED
        if "payload" not in loc:
            return fallback
        path = tuple(part for part in loc[loc.index("payload") + 1 :] if isinstance(part, str))
        for length in (2, 1):
            if path[:length] in names:
                return names[path[:length]]
        return fallback

    return place
