"""The ingest app as `impact ingest` serves it, plus one trivial route: the floor of the same server.

`create_app()` is `ingest.create_app()` (settings from `IMPACT_*`) with `POST /bench/noop`, which answers
204 and touches nothing (no token, no database, no log). Run as a script, it serves that app with
`impact.serve.serve`, the helper behind `impact ingest` (gunicorn, gthread, `IMPACT_WORKERS` workers), on
`IMPACT_HOST:IMPACT_INGEST_PORT`. Used by bench/ingest_wsgi.py and bench/freshness.py.
"""

from __future__ import annotations

from flask import Flask, Response

import ingest
from impact.settings import Settings


def create_app() -> Flask:
    app = ingest.create_app()

    def noop() -> Response:
        return Response(status=204)

    app.add_url_rule("/bench/noop", "bench_noop", noop, methods=["GET", "POST"])
    ingest.csrf.exempt(noop)
    return app


if __name__ == "__main__":
    from impact.serve import serve

    settings = Settings()
    serve("wsgi_noop:create_app()", settings.host, settings.ingest_port, settings.workers)
