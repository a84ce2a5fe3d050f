"""Serve a WSGI app with gunicorn, the production server, from an app-factory import string."""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from impact.logs import handler

# A participant's private link is a credential: the access log keeps that a link was opened, not which.
_PRIVATE_LINK = re.compile(r"/you/[^\s/?]+")
# What staff search for may be a person's name (personal data, which erasure must leave nowhere): the access
# log keeps that a search was made, not what for.
_SEARCH = re.compile(r"([?&](?:q|find-[a-z-]+|term)=)[^&\s]*")


def masked(line: str) -> str:
    """ "GET /you/eyJ…xyz HTTP/1.1" -> "GET /you/[link] HTTP/1.1"; "?q=Amira" -> "?q=[search]"."""
    return _SEARCH.sub(r"\1[search]", _PRIVATE_LINK.sub("/you/[link]", line))


class AccessLog(Logger):
    """gunicorn's logger: its error and access logs as the service's JSON lines on stderr, one access line per
    request with its fields, and participants' private links masked in the access log."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for old in list(log.handlers):
                log.removeHandler(old)
            log.addHandler(handler(cfg.proc_name))
            log.propagate = False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {
            "method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"],
            "status": int(str(atoms["s"]).split()[0]) if str(atoms["s"])[:1].isdigit() else atoms["s"],
            "bytes": atoms["B"],
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "remote": atoms["h"],
            "user_agent": atoms["a"],
            "referer": atoms["f"],
        }
        self.access_log.log(logging.INFO, "%s %s %s", atoms["m"], atoms["U"], fields["status"], extra=fields)

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        found: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        # every atom: the request line, the path, the referrer, and headers and environ values by name
        return {name: masked(value) if isinstance(value, str) else value for name, value in found.items()}


def _load(target: str) -> Any:
    """ "package:factory().attr" -> the object, built in each worker (nothing opens before fork)."""
    module_name, expression = target.split(":", 1)
    module = importlib.import_module(module_name)
    factory, _, attribute = expression.partition("().")
    app = getattr(module, factory.removesuffix("()"))()
    return getattr(app, attribute) if attribute else app


class _Server(BaseApplication):
    def __init__(self, target: str, options: dict[str, Any]) -> None:
        self._target, self._options = target, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return _load(self._target)


def _exit_worker_at_once(_arbiter: Any, worker: Any) -> None:
    """gunicorn's worker_exit hook: end the worker without tearing down every module (with Dash and pandas
    loaded that takes over a second, and a stop waits for it); the worker's exit code is kept."""
    if os.getpid() != worker.pid:
        return  # the arbiter also calls the hook for a worker that is already gone: it carries on
    leaving = sys.exc_info()[1]
    code = leaving.code if isinstance(leaving, SystemExit) and isinstance(leaving.code, int) else 1
    logging.shutdown()
    os._exit(code)


def serve(target: str, host: str, port: int, workers: int, *, service: str = "web") -> None:
    _Server(
        target,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 60,
            # On SIGTERM, requests in flight get 2 s; an idle keep-alive connection is not waited for.
            "graceful_timeout": 2,
            "keepalive": 2,
            "accesslog": "-",
            "errorlog": "-",
            "logger_class": AccessLog,
            "proc_name": service,  # names the service in every log line
            "control_socket_disable": True,
            "worker_exit": _exit_worker_at_once,  # unused, and two services would share one path in $HOME
        },
    ).run()
