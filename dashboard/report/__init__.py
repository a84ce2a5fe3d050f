"""The printable annual involvement report: `GET /report?from=...&to=...&area=...&level=...`.

One HTML page that prints well (dashboard/static/report.css has the print styles; the browser's "Save as
PDF" makes the PDF, so no PDF library is needed). Every figure comes from dashboard.metrics or from the two
small queries of `queries`, for the signed-in reader's organisation only; `sections` builds the `document`
from them section by section (pure, no database, worded by `wording`); `build` here composes the two, and
`register` serves the page.

Privacy: every count of people is shown through `format_people` (1 to 4 become "fewer than 5"); no names
or contact details are read. "You said, we did" quotes contributions, but never one made by a person
whose details were erased. Free text is escaped by Jinja's autoescape.
"""

from __future__ import annotations

import logging
from datetime import date

import dash
from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from dashboard import access, metrics
from dashboard.filters import Filters, long_date, parse
from dashboard.report import queries
from dashboard.report.document import AnnualReport, Example, Figure, ReportSection
from dashboard.report.sections import gripp2, standards
from impact.auth.accounts import Organisation
from impact.settings import Settings

__all__ = ["AnnualReport", "Example", "Figure", "ReportSection", "build", "register"]

logger = logging.getLogger(__name__)

UNAVAILABLE = "The report cannot be made right now. Please try again in a few minutes."


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """`GET {prefix}report` on the dashboard's server (the guard in dashboard/access.py requires a reader)."""
    prefix = app.config.routes_pathname_prefix

    @app.server.get(prefix + "report")
    def annual_report() -> ResponseReturnValue:
        org_id = access.reader().org_id  # never from the request
        filters = parse(request.args.to_dict(), date.today())
        try:
            with Session(engine) as session:
                found = session.get(Organisation, org_id)
                organisation = found.name if found else org_id
            with engine.connect() as conn:
                built = build(conn, filters, org_id, organisation)
        except SQLAlchemyError:
            logger.warning("dashboard: the annual report could not be read", exc_info=True)
            return render_template("message.html", title="The report is unavailable", message=UNAVAILABLE), 503
        back = app.config.requests_pathname_prefix + filters.search()
        return render_template("report.html", report=built, back_url=back, made_on=long_date(date.today()))


# --- Building the report --------------------------------------------------------------------------


def build(conn: Connection, filters: Filters, org_id: str, organisation: str) -> AnnualReport:
    """Every section of the report for one organisation and one set of filters."""
    scope = filters.to_scope(org_id)
    headline = metrics.headline(conn, scope)
    areas = metrics.area_totals(conn, scope)
    reach = metrics.reach(conn, scope)
    months = metrics.trend(conn, scope)
    quality = metrics.data_quality(conn, scope)
    strengths = queries.strengths(conn, scope)
    examples = queries.examples(conn, scope)
    return AnnualReport(
        organisation,
        filters.describe(),
        standards(headline, reach, areas, months, filters),
        gripp2(headline, filters, examples, strengths, quality),
        filters.problems,
    )
