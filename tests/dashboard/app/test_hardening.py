"""Forged and oversized requests to the dashboard: a 4xx with a sentence each, never a 5xx, never a traceback.

Issue 17: every route has a body limit (a lower one for the forms and the callback), refused before the
body is read; the callback's inputs of the wrong type and unknown script files are the client's mistakes.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from dashboard import NO_SUCH_SCRIPT, access, shell
from dashboard.metrics import AREAS, LEVELS
from tests.dashboard.app.helpers import callback_body, post_page

CALLBACK = "/_dash-update-component"
WRONG_TYPES: tuple[Any, ...] = (0, -1, 1.5, 10**30, True, False, [], ["/"], {}, {"value": "/"}, [[{"a": None}]])


class CountingStream:
    """A request body that counts what the server read of it: the limit must refuse before reading."""

    def __init__(self, size: int) -> None:
        self.size, self.position, self.read_bytes = size, 0, 0

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.position if n is None or n < 0 else min(n, self.size - self.position)
        self.position += n
        self.read_bytes += n
        return b"a" * n

    def readline(self, n: int = -1) -> bytes:
        return self.read(n)

    def tell(self) -> int:  # the test client measures the body by seeking to its end and back
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.size if whence == 2 else offset
        return self.position


@pytest.fixture
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Client mistakes are logged at INFO at most: no ERROR record, no traceback."""
    caplog.set_level(logging.INFO)
    yield
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not errors, [record.getMessage() for record in errors]


# --- body limits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/login", access.FORM_BODY_BYTES),
        ("/logout", access.FORM_BODY_BYTES),
        ("/you/", access.FORM_BODY_BYTES),
        ("/", access.MAX_BODY_BYTES),
        ("/areas", access.MAX_BODY_BYTES),
        ("/healthz", access.MAX_BODY_BYTES),
    ],
)
def test_a_form_larger_than_its_limit_is_refused_unread_with_a_page(
    visitor: FlaskClient, path: str, limit: int, no_errors_logged: None
) -> None:
    body = CountingStream(300 * 1024 * 1024)  # the 300 MB upload of the report
    response = visitor.post(
        path,
        input_stream=body,
        content_length=body.size,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert body.read_bytes == 0
    assert response.mimetype == "text/html"
    assert access.TOO_LARGE_FORM in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/login", "/you/"])
def test_a_form_just_under_its_limit_is_read(visitor: FlaskClient, path: str) -> None:
    response = visitor.post(path, data={"email": "a" * (access.FORM_BODY_BYTES - 200)})
    assert response.status_code == 400  # no CSRF token: the form was read, and refused for that
    assert access.TOO_LARGE_FORM not in response.get_data(as_text=True)


def test_a_chunked_body_without_a_length_stops_at_the_limit(visitor: FlaskClient) -> None:
    body = CountingStream(50 * 1024 * 1024)
    response = visitor.post(
        "/login",
        input_stream=body,
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert body.read_bytes <= access.FORM_BODY_BYTES + 65536


@pytest.mark.parametrize("signed_in", [True, False])
def test_a_callback_body_larger_than_its_limit_is_refused_with_json(
    client: FlaskClient, visitor: FlaskClient, signed_in: bool, no_errors_logged: None
) -> None:
    body = CountingStream(150 * 1024 * 1024)  # the 150 MB of JSON of the report
    response = (client if signed_in else visitor).post(
        CALLBACK, input_stream=body, content_length=body.size, content_type="application/json"
    )
    assert response.status_code == 413
    assert body.read_bytes == 0
    assert response.get_json() == {"status": 413, "message": access.TOO_LARGE_CALLBACK}


def test_the_largest_legitimate_callback_body_fits_with_room_to_spare(client: FlaskClient) -> None:
    """The longest address the pages make (every filter, the longest area and level) and a long bookmark."""
    area, level = max(AREAS, key=len), max(LEVELS, key=len)
    search = f"?from=2025-01-01&to=2025-12-31&area={area}&level={level}"
    body = shell.callback_body("/" + max((page.slug for page in shell.PAGES), key=len), search)
    body["inputs"][2:] = [
        {"id": "period", "property": "start_date", "value": "2025-01-01"},
        {"id": "period", "property": "end_date", "value": "2025-12-31"},
        {"id": "area", "property": "value", "value": area},
        {"id": "level", "property": "value", "value": level},
    ]
    size = len(json.dumps(body).encode())
    assert size < 2048  # measured: about 1 KB
    assert size * 16 < access.CALLBACK_BODY_BYTES
    post_page(client, body)
    # a mistyped bookmark of 8 KB (longer than most browsers keep) still opens, with its problems named
    long = shell.callback_body("/", "?area=" + "x" * 8000)
    assert len(json.dumps(long)) < access.CALLBACK_BODY_BYTES
    post_page(client, long)


# --- the callback's inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("position", range(len(shell.INPUTS)))
@pytest.mark.parametrize("value", WRONG_TYPES, ids=repr)
def test_an_input_that_is_not_text_is_a_400_with_a_sentence(
    client: FlaskClient, position: int, value: Any, no_errors_logged: None
) -> None:
    body = callback_body("2025-01-01", "2025-03-31")
    body["inputs"][position]["value"] = value
    response = client.post(CALLBACK, json=body)
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert message.startswith("The dashboard's request gave its " + shell.INPUT_NAMES[position])
    assert message.endswith("not as text, so it was not read.")


def _forged_bodies(count: int, seed: int = 17) -> Iterator[tuple[str, Any]]:
    """Callback bodies as a forger would send them: each input, and each part of the body, of the wrong type."""
    rng = random.Random(seed)
    junk: list[Any] = [*WRONG_TYPES, None, "", "x" * 500, "\x00", "../../etc", "{}", -0.0, 2**63, {"id": "url"}]
    ids = [str(i.component_id) + "." + i.component_property for i in shell.INPUTS]
    for n in range(count):
        body: Any = copy.deepcopy(callback_body("2025-01-01", "2025-03-31"))
        kind = n % 6
        if kind in (0, 1):  # one or more inputs' values
            for item in rng.sample(body["inputs"], rng.randint(1, len(body["inputs"]))):
                item["value"] = rng.choice(junk)
            body["changedPropIds"] = [rng.choice(ids)]
        elif kind == 2:  # an input without its value, or with extra keys
            item = rng.choice(body["inputs"])
            if rng.random() < 0.5:
                del item["value"]
            else:
                item[rng.choice(["value_", "property_", "__proto__"])] = rng.choice(junk)
        elif kind == 3:  # what changed, of the wrong type
            body[rng.choice(["changedPropIds", "parsedChangedPropsIds"])] = rng.choice([*junk, [rng.choice(junk)]])
        elif kind == 4:  # the outputs, state or inputs list, of the wrong type
            body[rng.choice(["output", "outputs", "inputs", "state"])] = rng.choice(junk)
        else:  # the whole body
            body = rng.choice([*junk, [body], "not json at all"])
        yield f"{n}-{kind}", body


@pytest.mark.parametrize(("case", "body"), list(_forged_bodies(240)))
def test_no_forged_callback_body_is_a_5xx(client: FlaskClient, case: str, body: Any, no_errors_logged: None) -> None:
    data = body if isinstance(body, str) and body == "not json at all" else json.dumps(body)
    response = client.post(CALLBACK, data=data, content_type="application/json")
    assert response.status_code < 500, (case, response.get_data(as_text=True)[:500])
    if response.status_code >= 400:
        assert response.get_json()["message"]


# --- Dash's script files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "sentence"),
    [
        ("/_dash-component-suites/no_such_package/thing.js", 404, NO_SUCH_SCRIPT),
        ("/_dash-component-suites/dash/no-such-file.v1_0_0m1.js", 404, NO_SUCH_SCRIPT),
        ("/_dash-component-suites/dash/../../../etc/passwd", 404, NO_SUCH_SCRIPT),
        ("/_dash-component-suites/plotly/package_data/plotly.min.css", 404, NO_SUCH_SCRIPT),
        ("/_dash-component-suites/os/path.py", 404, NO_SUCH_SCRIPT),
        ("/_dash-component-suites/dash/dcc/%00.js", 400, "Remove the NUL character"),
    ],
)
def test_an_unknown_script_is_a_4xx_with_a_sentence_without_sign_in(
    visitor: FlaskClient, path: str, status: int, sentence: str, no_errors_logged: None
) -> None:
    response = visitor.get(path)
    assert response.status_code == status
    assert response.get_data(as_text=True).startswith(sentence)


def test_the_scripts_the_page_names_are_still_served(visitor: FlaskClient) -> None:
    page = visitor.get("/_dash-component-suites/dash/dash-renderer/build/dash_renderer.v4_4_1m1.min.js")
    assert page.status_code in (200, 404)  # the fingerprint follows Dash's version; the index names the real one
    index = visitor.get("/", follow_redirects=True).get_data(as_text=True)
    scripts = [part.split('"')[0] for part in index.split('src="')[1:] if "component-suites" in part.split('"')[0]]
    for script in scripts:
        assert visitor.get(script).status_code == 200, script


def test_a_chunked_callback_body_within_the_limit_is_answered(client: FlaskClient) -> None:
    data = json.dumps(callback_body("2025-01-01", "2025-03-31")).encode()
    response = client.post(
        CALLBACK,
        input_stream=io.BytesIO(data),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
