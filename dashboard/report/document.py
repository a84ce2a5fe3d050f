"""The annual report as data: sections of labelled figures, sentences, tables and examples, already formatted
(counts of people suppressed), for report.html to lay out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dashboard.tables import Table
from schemas.vocab import Strength

EXAMPLES = 5  # "you said, we did": the most recent changes shown
SAID_PER_EXAMPLE = 3  # and at most this many contributions behind each
LONGEST_QUOTE = 400  # characters of free text shown before "…"
STRENGTHS: tuple[str, ...] = tuple(strength.value for strength in Strength)
GOVERNANCE_AREAS = ("governance", "strategy_policy")


@dataclass(frozen=True)
class Figure:
    """One labelled value (already formatted, people suppressed)."""

    label: str
    value: str


@dataclass(frozen=True)
class Example:
    """One "you said, we did": a change the organisation agreed or made, and what people said behind it."""

    title: str
    status: str
    decided: str
    area: str
    description: str
    said: Sequence[str]


@dataclass(frozen=True)
class ReportSection:
    key: str
    number: str  # "Standard 1", "GRIPP2 section 1"
    title: str
    about: str  # what the standard or section asks for
    figures: Sequence[Figure] = ()
    text: Sequence[str] = ()  # sentences with the figures
    tables: Sequence[Table] = ()
    examples: Sequence[Example] | None = None  # None: this section has no examples block
    not_recorded: Sequence[str] = ()  # what the platform holds no data for

    @property
    def heading(self) -> str:
        return f"{self.number}: {self.title}"


@dataclass(frozen=True)
class AnnualReport:
    organisation: str
    period: str
    standards: Sequence[ReportSection]
    gripp2: Sequence[ReportSection]
    notices: Sequence[str] = field(default=())
