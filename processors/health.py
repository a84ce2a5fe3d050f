"""A tiny HTTP health endpoint for the processor, which otherwise serves nothing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from processors.consumer import Health

STALE_AFTER_S = 60.0
CLIENT_TIMEOUT_S = 5.0  # a client that sends nothing (or dribbles) is cut off after this, never holds a thread


def serve_health(
    health: Health, host: str, port: int, feedback: Callable[[], str | None] | None = None
) -> ThreadingHTTPServer:
    """Serve GET /healthz in a daemon thread: 200 while polling recently without errors, else 503.

    It binds `host` (loopback by default: IMPACT_PROCESSOR_HEALTH_HOST), answers one request per connection and
    drops a client that is slower than CLIENT_TIMEOUT_S. `feedback` gives the feedback sender's last problem:
    reported, but e-mail trouble never makes the processor unhealthy (the events still fold;
    staff see each failed message)."""

    class Handler(BaseHTTPRequestHandler):
        timeout = CLIENT_TIMEOUT_S  # the socket's timeout for every read and write of one request

        def do_GET(self) -> None:
            if self.path != "/healthz":
                self.send_error(404)
                return
            age = time.time() - (health.last_poll_at or health.started_at)
            healthy = health.last_error is None and age < STALE_AFTER_S
            body = json.dumps(
                {
                    "status": "ok" if healthy else "unavailable",
                    "seconds_since_poll": round(age, 1),
                    "events_processed": health.events_processed,
                    "last_error": health.last_error,
                    "feedback_error": feedback() if feedback else None,
                }
            ).encode()
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # health probes every few seconds would drown the processor's own log

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
