"""A QR code of a participant's private link, drawn as inline SVG for a printed letter.

The drawing holds nothing but squares: the link is in the pattern of modules, never in the markup as text,
and the only words in it are a fixed label for screen readers. It is made here, on the server, by the
`qrcode` library (pure Python, no images), so the page needs no script and no image request.
"""

from __future__ import annotations

from xml.etree import ElementTree

import qrcode
import qrcode.constants
import qrcode.image.svg
from markupsafe import Markup

LABEL = "QR code of the link to your page"
QUIET_ZONE = 4  # modules of white around the code, as the standard asks, so a camera finds its edges


def _code(url: str) -> qrcode.QRCode:
    # Medium error correction: survives a fold, a smudge or a cheap printer without making the code denser.
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=QUIET_ZONE,
        image_factory=qrcode.image.svg.SvgPathFillImage,
    )
    code.add_data(url)
    code.make(fit=True)
    return code


def modules(url: str) -> list[list[bool]]:
    """The code's modules for `url`, row by row, quiet zone included (True is a dark module)."""
    return [[bool(dark) for dark in row] for row in _code(url).get_matrix()]


def svg(url: str) -> Markup:
    """The code for `url` as an SVG element to put in a page: sized by its class, labelled as an image."""
    drawing = _code(url).make_image()
    root = drawing.get_image()
    for attribute in ("width", "height"):  # the stylesheet sizes it (about 3 cm on paper)
        root.attrib.pop(attribute, None)
    root.set("class", "letter-qr")
    root.set("role", "img")
    root.set("aria-label", LABEL)
    root.set("focusable", "false")
    root.set("shape-rendering", "crispEdges")  # no hairlines between neighbouring squares on a screen
    for path in root.iter("path"):
        path.attrib.pop("id", None)  # the library names every path `qr-path`: one page has many letters
    return Markup(ElementTree.tostring(root, encoding="unicode"))  # noqa: S704 (squares and our own label only)
