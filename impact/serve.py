"""Serve a WSGI app with gunicorn, the production server, from an app-factory import string."""

from __future__ import annotations

import importlib
import re
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

# A participant's private link is a credential: the access log keeps that a link was opened, not which.
_PRIVATE_LINK = re.compile(r"/you/[^\s/?]+")


def masked(line: str) -> str:
    """ "GET /you/eyJ…xyz HTTP/1.1" -> "GET /you/[link] HTTP/1.1"."""
    return _PRIVATE_LINK.sub("/you/[link]", line)


class AccessLog(Logger):
    """gunicorn's logger, with participants' private links masked in the access log."""

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


def serve(target: str, host: str, port: int, workers: int) -> None:
    _Server(
        target,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 60,
            "graceful_timeout": 10,
            "accesslog": "-",
            "errorlog": "-",
            "logger_class": AccessLog,
        },
    ).run()
