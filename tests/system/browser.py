"""Helpers for the headless-browser tests: serve WSGI apps on free ports, launch Chromium, run axe-core.

Without Playwright the browser tests are skipped on a developer's machine and fail in CI.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.factories import IN_CI, PASSWORD, free_port

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # a failure in CI, a skip on a developer's machine (as conftest.unavailable, for a module)
    if IN_CI:
        raise
    pytest.skip("playwright is not installed (pip install -e '.[dev]')", allow_module_level=True)

__all__ = [
    "ARTIFACTS",
    "CHROMIUM",
    "Browser",
    "Page",
    "axe_script",
    "axe_violations",
    "describe",
    "expect",
    "launch",
    "screenshot",
    "serve",
    "sign_in",
    "sign_out",
    "summary_links",
]

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium; Playwright's own downloads are never used
# The browser resolves no host but this machine, so a page cannot reach the network.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",  # CI containers often have a 64 MB /dev/shm
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe has no wcag22a tag: 2.2's new A rules are tagged wcag22aa)
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a free local port in a background thread; yields its base URL."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"wsgi-{port}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def launch() -> Iterator[Browser]:
    """Debian's Chromium, headless, reaching nothing but this machine."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG into test-artifacts/ (at the repository root) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_script() -> str:
    """axe-core as bundled by axe-playwright-python (no network, no npm)."""
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("axe-playwright-python is not installed")
    return (Path(spec.origin).parent / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page, script: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now: the violations of WCAG 2.x A and AA rules."""
    page.evaluate(script)
    options = {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)}, "resultTypes": ["violations"]}
    results: dict[str, Any] = page.evaluate("options => axe.run(document, options)", options)
    return list(results["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    """Violations as an actionable message: rule, what to do, and the selector of every element."""
    lines = [f"{len(violations)} accessibility violation(s):"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"    {target}: {node.get('failureSummary', '').replace(chr(10), ' ')}")
    return "\n".join(lines)


# --- Signing in and out, as a person would ------------------------------------------------------


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the `/login` form of the app at `base_url`; it then shows its start page."""
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    expect(page).not_to_have_url(re.compile(r"/login\b"))


def sign_out(page: Page) -> None:
    """Press the "Sign out" button in the page's header (a POST form)."""
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def summary_links(page: Page) -> list[str]:
    """The fragment each link of the error summary points to, in the summary's order."""
    links = page.get_by_role("alert").get_by_role("link")
    return [str(link.get_attribute("href")) for link in links.all()]
