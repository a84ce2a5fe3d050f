"""One label per value: every surface (forms, import, dashboard, report, participant page, e-mails, CSV) names
a vocabulary value and a field exactly as `schemas.vocab` does, so no two surfaces disagree."""

from __future__ import annotations

import ast
import csv
import io
import itertools
import re
from datetime import date
from enum import StrEnum
from pathlib import Path

import pytest

from schemas.vocab import (
    EVENT_LABELS,
    FIELD_TITLES,
    VALUE_LABELS,
    VOCABULARIES,
    Area,
    EventType,
    from_label,
    label,
    title,
)

EVERY_VALUE = [(field, member.value) for field, vocabulary in VOCABULARIES.items() for member in vocabulary]
TRICKY = {  # the labels that plain capitalisation gets wrong: the ones surfaces used to disagree on
    "yorkshire_humber": "Yorkshire and the Humber",
    "co_production": "Co-production",
    "user_led": "User-led",
    "18_24": "18 to 24",
    "75_plus": "75 and over",
    "email": "E-mail",
    "in_person": "In person",
    "non_binary": "Non-binary",
    "prefer_not_to_say": "Prefer not to say",
    "pr_marketing": "PR and marketing",
}


def test_every_value_has_one_label_that_reads_back_to_it() -> None:
    for field, value in EVERY_VALUE:
        assert label(value), value
        assert from_label(field, label(value)) == value, (field, value)
        assert from_label(field, label(value).upper()) == value, (field, value)
    for value, text in TRICKY.items():
        assert label(value) == text


def test_labels_within_one_vocabulary_never_collide() -> None:
    for field, vocabulary in VOCABULARIES.items():
        labels = [label(member.value) for member in vocabulary]
        assert len(labels) == len(set(labels)), field


@pytest.mark.parametrize(("field", "value"), EVERY_VALUE)
def test_staff_forms_label_values_as_the_vocabulary(field: str, value: str) -> None:
    from ingest.forms import common

    vocabulary: type[StrEnum] = VOCABULARIES[field]
    assert dict(common.choices(vocabulary))[value] == label(value)
    if field == "area":
        assert dict(common.area_choices())[value] == label(value)


def test_the_staff_templates_use_the_vocabulary_label(tmp_path: pytest.TempPathFactory) -> None:
    from impact.settings import Settings
    from ingest import create_app

    settings = Settings.model_validate({"env": "test", "data_dir": tmp_path, "secret_key": "t" * 40})
    app = create_app(settings)
    assert app.jinja_env.globals["label"] is label


@pytest.mark.parametrize(("field", "value"), EVERY_VALUE)
def test_the_import_accepts_and_describes_every_value_by_its_label(field: str, value: str) -> None:
    from ingest.importing import columns

    assert label(value) in columns.allowed(field)


def test_the_import_templates_show_labels_people_see() -> None:
    from ingest.importing import columns

    for kind in columns.Kind:
        header, example = list(csv.reader(io.StringIO(columns.template_csv(kind).lstrip("\ufeff"))))
        for name, cell in zip(header, example, strict=True):
            if cell and name in VOCABULARIES:
                assert from_label(name, cell) is not None, (kind, name, cell)
                assert cell == label(from_label(name, cell) or ""), (kind, name, cell)


REACH = {"role", "age_band", "gender", "ethnicity", "disability", "region"}


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, v in EVERY_VALUE if f in REACH])
def test_dashboard_people_page_report_and_csv_label_reach_values_alike(field: str, value: str) -> None:
    from dashboard.filters import Filters
    from dashboard.metrics import Headline
    from dashboard.pages import people
    from dashboard.report import sections
    from dashboard.tables import to_csv

    page = people.field_table(field, {value: 7}, 7)
    assert page.columns[0] == title(field)
    assert next(row[0] for row in page.rows if row[1] == "7") == label(value)  # then the total row
    period = Filters(start=date(2026, 1, 1), end=date(2026, 12, 31))
    inclusive = sections.standards(Headline(), {field: {value: 7}}, {}, [], period)[0]
    (reported,) = [table for table in inclusive.tables if table.key == f"reach-{field}"]
    assert reported.columns[0] == title(field)
    assert [row[0] for row in reported.rows if row[1] == "7"] == [label(value)]
    for table in (page, reported):
        exported = list(csv.reader(io.StringIO(to_csv(table, "test"))))
        assert any(line and line[0] == label(value) for line in exported), exported


def test_the_participant_page_and_dashboard_filters_label_areas_alike() -> None:
    from dashboard import participant
    from dashboard.filters import Filters

    described = Filters(start=date(2026, 1, 1), end=date(2026, 2, 1), area="pr_marketing", level="user_led")
    assert "area: PR and marketing" in described.describe()
    assert "level: User-led" in described.describe()
    assert participant.label is label


def test_every_event_type_has_one_label_and_pages_use_it() -> None:
    from ingest.problems import views

    assert set(EVENT_LABELS) == set(EventType)
    for event_type in EventType:
        assert views.kind(event_type.value) == EVENT_LABELS[event_type]
    assert len(set(EVENT_LABELS.values())) == len(EVENT_LABELS)


def test_every_area_label_is_the_domain_table() -> None:
    """DOMAIN.md's table of the sixteen areas, as written there."""
    assert [label(area) for area in Area] == [
        "Campaigning",
        "Complaints and comments",
        "Conferences and events",
        "Fundraising",
        "Governance",
        "Impact",
        "Involvement",
        "Media",
        "Promoting diversity",
        "Publications",
        "PR and marketing",
        "Recruitment and selection",
        "Research",
        "Strategy, policy and planning",
        "Support",
        "Training",
    ]


# --- every label from the vocabulary, and the labels read well ---------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("ingest", "impact", "processors", "dashboard", "schemas")
# Outcome words for the person on their own page, not labels of the status: "Change made", "Not able to make
# this change" (DOMAIN.md: summaries in plain English). Checked here so a new one is a choice, not a slip.
PHRASES_FOR_PARTICIPANTS = {("dashboard/participant.py", "implemented"), ("dashboard/participant.py", "agreed")}


def _source_files(*suffixes: str) -> list[Path]:
    return sorted(
        path
        for package in SOURCES
        for suffix in suffixes
        for path in (ROOT / package).rglob(f"*{suffix}")
        if "migrations" not in path.parts and path != ROOT / "schemas" / "vocab.py"
    )


def _misspelt_labels() -> dict[str, tuple[str, str]]:
    """Spellings of a value other than its label ("Email", "Co production"): {spelling: (value, label)}."""
    wrong = {}
    for vocabulary in VOCABULARIES.values():
        for member in vocabulary:
            words = member.value.replace("_", " ")
            for spelling in {words.capitalize(), words.title(), words.replace(" ", "-").capitalize(), words.title()}:
                if spelling != label(member.value) and member.value not in {"18_24", "75_plus"}:
                    wrong[spelling] = (member.value, label(member.value))
    wrong["Email"] = ("email", label("email"))
    return wrong


def _one_vocabulary(keys: list[object]) -> set[str]:
    """The values of the vocabulary that two or more of `keys` belong to (none: an empty set)."""
    for vocabulary in VOCABULARIES.values():
        values = {member.value for member in vocabulary}
        if len(values & set(keys)) >= 2:
            return values
    return set()


def _label_like(text: str) -> bool:
    """A short capitalised name, as a label is (not a sentence or a phrase in lower case)."""
    return bool(text) and text[0].isupper() and len(text.split()) <= 4 and text[-1] not in ".!?:;"


def test_no_source_labels_a_vocabulary_value_its_own_way() -> None:
    """Dicts from values to labels, and strings or template text spelling a value otherwise than its label."""
    misspelt = _misspelt_labels()
    found = []
    for path in _source_files(".py"):
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in misspelt:
                found.append(f"{where}:{node.lineno}: {node.value!r} is not the label {misspelt[node.value][1]!r}")
            if not isinstance(node, ast.Dict):
                continue
            keys = [key.value if isinstance(key, ast.Constant) else getattr(key, "attr", None) for key in node.keys]
            values = _one_vocabulary(keys)  # a dict keyed by the values of one vocabulary (not form fields)
            for name, value in zip(keys, node.values, strict=True):
                if (
                    name in values
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                    and _label_like(value.value)
                    and value.value != label(str(name))
                    and (where, name) not in PHRASES_FOR_PARTICIPANTS
                ):
                    found.append(f"{where}:{value.lineno}: {name!r} labelled {value.value!r}, not {label(str(name))!r}")
    for path in _source_files(".html", ".js"):
        text = path.read_text(encoding="utf-8")
        for spelling, (_value, right) in misspelt.items():
            for match in re.finditer(rf">\s*{re.escape(spelling)}\s*<", text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT).as_posix()}:{line}: {spelling!r} is not the label {right!r}")
    assert not found


ALL_LABELS = [
    *((f"value {key}", text) for key, text in VALUE_LABELS.items()),
    *((f"value {member.value}", label(member.value)) for v in VOCABULARIES.values() for member in v),
    *((f"field {key}", text) for key, text in FIELD_TITLES.items()),
]
# Capitals inside a label are names: places, and the letters of an abbreviation.
PROPER = {"North", "East", "West", "South", "Midlands", "England", "London", "Wales", "Scotland", "Northern",
          "Ireland", "Yorkshire", "Humber", "PR", "E-mail"}  # fmt: skip


@pytest.mark.parametrize(("what", "text"), ALL_LABELS)
def test_labels_are_tidy_and_in_sentence_case(what: str, text: str) -> None:
    assert text == text.strip() and "  " not in text, what
    assert not text.endswith((".", ":", ";")), what
    assert text[0].isupper() or text[0].isdigit(), what
    for word in text.split()[1:]:
        assert word in PROPER or not any(ch.isupper() for ch in word), f"{what}: {text!r} ({word})"


ARTICLE = re.compile(r"\b(a|an)\s+([A-Za-z][\w-]*)", re.IGNORECASE)
# Words whose sound, not their first letter, decides: "a user", "a one-off", "an hour", "an NHS trust".
SOUNDS_LIKE_CONSONANT = ("use", "usu", "uni", "uk", "one", "euro", "uuid", "url", "sha-")  # "a SHA-256 hash"
SOUNDS_LIKE_VOWEL = ("hour", "honest", "honour")


def _agrees(article: str, word: str) -> bool:
    lower = word.lower()
    if lower.startswith(SOUNDS_LIKE_CONSONANT):
        vowel = False
    elif len(word) > 1 and word.isupper():  # an abbreviation is read letter by letter: "an HTML page", "a UK charity"
        vowel = word[0] in "AEFHILMNORSX"
    else:
        vowel = lower[0] in "aeiou" or lower.startswith(SOUNDS_LIKE_VOWEL)
    return (article.lower() == "an") == vowel


def test_a_and_an_agree_in_the_words_people_read() -> None:
    """Strings in the source and text in templates: "an attendance file", never "a attendance file"; and no
    article before a placeholder, whose word the sentence cannot know ("a {kind} file")."""
    from ingest.importing.columns import KIND_FILES

    texts: list[tuple[str, str]] = [("KIND_FILES", phrase) for phrase in KIND_FILES.values()]
    for path in _source_files(".py"):
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append((f"{where}:{node.lineno}", node.value))
            if isinstance(node, ast.JoinedStr):  # f"... a {kind} ...": the article cannot know the word
                for before, after in itertools.pairwise(node.values):
                    if (
                        isinstance(before, ast.Constant)
                        and isinstance(after, ast.FormattedValue)
                        and re.search(r"(^|\s)[Aa]n?\s+$", str(before.value))
                    ):
                        texts.append((f"{where}:{node.lineno}", f"{before.value}{{placeholder}}"))
    for path in _source_files(".html"):
        text = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))  # tags out: "a href", "a {" of CSS
        text = re.sub(r"\{%.*?%\}", " ", text)
        texts.append((path.relative_to(ROOT).as_posix(), text.replace("{{", " {placeholder} ")))
    wrong = []
    for where, text in texts:
        if re.search(r"(^|[\s(])[Aa]n?\s+\{placeholder\}", text):
            wrong.append(f"{where}: an article before a placeholder in {text.strip()[:80]!r}")
        for article, word in ARTICLE.findall(text):
            if word.startswith("{") or not word[0].isalpha() or len(word) == 1:
                continue
            if not _agrees(article, word):
                wrong.append(f"{where}: {article} {word}")
    assert not wrong
