"""Downloads: any table of any page as CSV, for the same filters as the page (the guard requires a reader).

`GET /export/<page>/<table>.csv?from=...&to=...&area=...&level=...` builds the page exactly as the
dashboard does and writes the one table: the same rows, counts of people suppressed the same way.
"""

from __future__ import annotations

import logging
from datetime import date

import dash
from flask import Response, abort, render_template, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard import access, report, shell
from dashboard.filters import parse
from dashboard.shell import UNAVAILABLE
from dashboard.tables import to_csv
from impact.settings import Settings

logger = logging.getLogger(__name__)


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    prefix = app.config.routes_pathname_prefix

    @app.server.get(prefix + "export/<slug>/<key>.csv")
    def export_csv(slug: str, key: str) -> Response:
        org_id = access.reader().org_id
        page = shell.BY_SLUG.get(slug)
        if page is None:
            abort(404)
        filters = parse(request.args.to_dict(), date.today())
        try:
            with engine.connect() as conn:
                table = page.build(conn, filters, org_id).table(key)
        except SQLAlchemyError:
            logger.warning("dashboard: %s.csv of %s could not be built", key, slug, exc_info=True)
            message = render_template("message.html", title="Try again later", message=UNAVAILABLE, signed_in=True)
            return Response(message, 503)
        if table is None:
            abort(404)
        body = "\ufeff" + to_csv(table, filters.describe())  # the byte-order mark tells Excel it is UTF-8
        name = f"{slug}-{key}-{filters.start.isoformat()}-to-{filters.end.isoformat()}.csv"
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    report.register(app, engine, settings)
