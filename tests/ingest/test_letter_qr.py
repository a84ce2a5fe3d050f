"""Each printed letter carries a QR code of its private link: the squares drawn are exactly the library's code
for that link, and the drawing holds no text of the letter, only a fixed label for screen readers.

No QR decoder is installed here, so the test reads the drawing back into modules and compares them with the
code that `qrcode` makes for the link (same error correction), module by module.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
import qrcode
import qrcode.constants
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.feedback import qr
from impact.feedback.outbox import State
from impact.settings import Settings
from processors.quality import QualityGate
from tests.ingest.feedback_world import BEA_SAID, ORG, World, build_world, page, post

SVG = "{http://www.w3.org/2000/svg}"
_SQUARE = re.compile(r"M(\d+),(\d+)H(\d+)V(\d+)H(\d+)z")


def parsed(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 (our own drawing, made in the test)


def drawn(svg: str) -> set[tuple[int, int]]:
    """The dark modules an SVG from `qr.svg` draws, as (column, row): every subpath one 1x1 square."""
    root = parsed(svg)
    (path,) = root.iter(f"{SVG}path")
    d = path.attrib["d"]
    squares = _SQUARE.findall(d)
    assert "".join(f"M{x},{y}H{r}V{b}H{x2}z" for x, y, r, b, x2 in squares) == d, "nothing but squares"
    dark = set()
    for x, y, right, bottom, back in (tuple(map(int, square)) for square in squares):
        assert (right - x, bottom - y, back) == (1, 1, x), "one module each"
        dark.add((x, y))
    return dark


def library_code(url: str) -> set[tuple[int, int]]:
    """The dark modules `qrcode` itself makes for `url` (quiet zone of 4 included, medium error correction)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(url)
    code.make(fit=True)
    return {(x, y) for y, row in enumerate(code.get_matrix()) for x, dark in enumerate(row) if dark}


URLS = [
    "https://impact.example.org/you/WyJBQkNERUZHSEpLIiwxNzk5NjI1NjAwXQ.sig-nature_0123456789abcdefghij",
    "http://127.0.0.1:8050/you/x",
    "https://a-much-longer-public-address.charity.example.org.uk/impact/you/" + "T" * 120,
    'https://example.org/you/"><script>alert(1)</script>&amp;',  # not a link we make, and still only squares
]


@pytest.mark.parametrize("url", URLS)
def test_the_drawing_is_the_librarys_code_for_the_link(url: str) -> None:
    svg = qr.svg(url)
    dark = drawn(svg)
    assert dark == library_code(url)
    matrix = qr.modules(url)
    assert dark == {(x, y) for y, row in enumerate(matrix) for x, on in enumerate(row) if on}
    size = len(matrix)
    assert parsed(svg).attrib["viewBox"] == f"0 0 {size} {size}", "one unit a module"
    assert {x for x, _ in dark} | {y for _, y in dark} <= set(range(4, size - 4)), "a quiet zone of 4 all round"


@pytest.mark.parametrize("url", URLS)
def test_the_drawing_holds_no_text_only_a_fixed_label(url: str) -> None:
    svg = qr.svg(url)
    root = parsed(svg)
    assert [element.tag for element in root.iter()] == [f"{SVG}svg", f"{SVG}rect", f"{SVG}path"]
    assert all(not (element.text or "").strip() and not (element.tail or "").strip() for element in root.iter())
    assert root.attrib["role"] == "img" and root.attrib["aria-label"] == "QR code of the link to your page"
    assert "width" not in root.attrib and root.attrib["class"] == "letter-qr", "the stylesheet sizes it"
    attributes = {name for element in root.iter() for name in element.attrib}
    assert not attributes & {"id", "style", "href"}, "no ids to repeat on a page of letters; nothing CSP blocks"
    assert "you/" not in svg and "<script" not in svg and "example" not in svg, "the link is in the squares only"


def test_a_longer_link_makes_a_denser_code_not_a_broken_one() -> None:
    short, long = qr.modules(URLS[1]), qr.modules(URLS[2])
    assert len(long) > len(short)
    assert all((len(matrix) - 8 - 17) % 4 == 0 for matrix in (short, long)), "a QR version's size, plus 4 a side"


# --- On the printed letters --------------------------------------------------------------------------------


@pytest.fixture
def world(settings: Settings, engine: Engine, event_log: EventLog, gate: QualityGate) -> World:
    return build_world(settings, engine, event_log, gate)


@pytest.fixture
def staff(world: World) -> FlaskClient:
    return world.client(f"staff@{ORG}.example.org")


def test_each_printed_letter_has_a_qr_code_of_its_own_link(world: World, staff: FlaskClient) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    world.add_item("p-ann", "ch-1", State.letter, channel="post")
    listing = page(staff, "/staff/feedback/letters")
    items = re.findall(r'name="item" value="([^"]+)"', listing)
    response = post(staff, "/staff/feedback/letters/print", {"item": items}, form_on="/staff/feedback/letters")
    assert response.status_code == 303
    batch = page(staff, response.headers["Location"])

    letters = batch.split('<article class="letter"')[1:]
    assert len(letters) == 2
    seen = set()
    for letter in letters:
        (link,) = set(re.findall(rf"{re.escape(world.settings.public_url)}/you/[A-Za-z0-9._-]{{20,}}", letter))
        svgs = re.findall(r"<svg .*?</svg>", letter, re.S)
        assert len(svgs) == 1, "one code a letter"
        assert drawn(svgs[0]) == library_code(link), "the code opens this letter's own link"
        assert "Or scan this code with your phone's camera." in letter
        code = re.search(r"Your code: <strong>([A-Z0-9-]{11})</strong>", letter)
        assert code
        for text in (link, code.group(1), "Bea", "Ann", BEA_SAID, "High Street", "Mind Leeds"):
            assert text not in svgs[0], f"{text!r} is not in the drawing"
        seen.add(link)
    assert len(seen) == 2, "two people, two links, two codes"
    assert batch.count('aria-label="QR code of the link to your page"') == 2
    assert 'id="qr-path"' not in batch
