"""The words participants read: "you said, we did" summaries, short, warm and in plain English. No I/O here.

A summary tells one person what came of what they said: their own words, quoted; what the organisation
did, or why it could not; and when. One decided change makes one message; several make the monthly
digest, which takes each change in turn. The same content is written twice, from one list of blocks:
as plain text (the e-mail's text part, and what a printed letter says) and as an HTML fragment in which
every piece of free text is escaped. `email_document` wraps the fragment in a complete, accessible
e-mail (impact/feedback/templates/feedback_email.html).

What the words promise:
- only this person's data: the composer reads nothing but its arguments, and never names anyone else;
- influence is a contribution, in plain words, never sole credit (impact evaluation cannot claim it);
- a declined change is explained (the note says why), never hidden;
- our own sentences are short and use common words (tests/impact/test_summaries.py measures them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from html import escape
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from impact.feedback.contact import Contact
from impact.feedback.outcomes import Decision, News, Person

QUOTE_LIMIT = 600  # characters of one contribution quoted in full; a longer one is cut at a word, with "…"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Summary:
    subject: str
    text: str  # the plain-text part of the e-mail, and what a printed letter says
    html: str  # the same as an HTML fragment (every piece of free text escaped)


def day(value: date) -> str:
    """A date as people write it: "5 May 2026"."""
    return f"{value.day} {value:%B %Y}"


def what_happened(decision: Decision) -> str:
    """One plain sentence on what became of a change, with the date it was decided."""
    on = f"On {day(decision.decided_on)}, we" if decision.decided_on else "We"
    match decision.status:
        case "implemented":
            return f"{on} made this change."
        case "agreed":
            return f"{on} agreed to make this change."
        case "declined":
            return f"{on} decided we could not make this change."
    return "We have not decided about this yet."


INFLUENCE = {
    "major": "Your words were a big part of our thinking on this.",
    "moderate": "Your words helped shape our thinking on this.",
    "minor": "Your words were one of the things we thought about.",
}


def influence(strength: str) -> str:
    """How much a person's words shaped a change: a contribution, never sole credit; true whatever the status."""
    return INFLUENCE.get(strength, "Your words were part of our thinking on this.")


# --- building blocks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Link:
    """A link: the HTML part shows `label` (a long address would make a phone scroll sideways); the text part,
    and a printed letter, show `text` (by default the address itself, to type or tap)."""

    href: str
    label: str = ""
    text: str = ""
    before: str = ""  # words before the link in the HTML part ("E-mail: ")


_Line = str | _Link


@dataclass(frozen=True)
class _Block:
    kind: Literal["h", "p", "quote"]
    lines: tuple[_Line, ...]
    close: bool = False  # in the text part, follows the block before it on the next line (no blank line)


def _p(*lines: _Line, close: bool = False) -> _Block:
    return _Block("p", lines, close)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _quoted(text: str) -> str:
    """The person's own words in quotation marks: in full, or cut at a word after QUOTE_LIMIT with "…"."""
    words = text.strip()
    if len(words) > QUOTE_LIMIT:
        cut = words[:QUOTE_LIMIT]
        if not words[QUOTE_LIMIT].isspace() and " " in cut:
            cut = cut.rsplit(" ", 1)[0]
        words = cut.rstrip(" ,;:.-\u2013\u2014\n") + "…"
    return f"“{words}”"


def _greeting(person: Person) -> str:
    name = _one_line(person.display_name or "")
    return f"Hello {name}," if name else "Hello,"


def _change(item: News, heading: str) -> list[_Block]:
    """One change: what the person said, how much it counted, and what became of it."""
    decision = item.decision
    blocks = [_Block("h", (heading,))]
    for said, strength in item.said:
        where = f", at “{_one_line(said.activity_title)}”" if said.activity_title else ""
        blocks += [
            _p(f"On {day(said.made_on)}{where}, you said:"),
            _Block("quote", (_quoted(said.text),), close=True),
            _p(influence(strength), close=True),
        ]
    description = decision.description.strip()
    note = (decision.note or "").strip()
    match decision.status:
        case "declined":
            # the description says what the change would have done, often as if done: not told as news
            reason = f"Why: {note}" if note else "Please ask us why. We will be glad to explain."
            blocks.append(_p("We thought hard about this idea.", what_happened(decision), "We are sorry.", reason))
        case "agreed":
            lines = [f"What we will do: {description}"] if description else []
            blocks.append(_p(*lines, what_happened(decision), *([note] if note else [])))
        case _:
            lines = [f"What we did: {description}"] if description else []
            blocks.append(_p(*lines, what_happened(decision), *([note] if note else [])))
    return blocks


def _title(decision: Decision) -> str:
    return _one_line(decision.title) or "A change we looked at"


PAGE_LINK_LABEL = "Open your page"


def stop_and_ask(contact: Contact, *, medium: Literal["email", "letter"]) -> list[_Line]:
    """How to ask a question or stop the updates, by every way the charity can be reached (no link needed)."""
    lines: list[_Line] = []
    if medium == "email" and contact.reply_email:
        lines.append("To ask us anything, or to stop these updates, reply to this e-mail.")
    else:
        lines.append("To ask us anything, or to stop these updates, get in touch.")
    lines.append("Just say “stop” and we will not send you any more.")
    if contact.phone:
        lines.append(f"Phone: {contact.phone}")
    if contact.reply_email:
        lines.append(
            _Link(f"mailto:{contact.reply_email}", contact.reply_email, f"E-mail: {contact.reply_email}", "E-mail: ")
        )
    if contact.address_lines:
        lines.append(f"Post: {contact.name}, {contact.address_one_line}")
    if contact.website:
        lines.append(_Link(contact.website, contact.website, f"Web: {contact.website}", "Web: "))
    if len(lines) == 2:  # nothing set up yet: the person can still tell whoever they deal with
        lines.append(f"Tell anyone you know at {contact.name}.")
    return lines


def compose(
    person: Person,
    news: Sequence[News],
    *,
    organisation: str | Contact,
    link: str | None,
    link_expires: date | None,
    code: tuple[str, str] | None = None,
    medium: Literal["email", "letter"] = "email",
) -> Summary:
    """The summary for one person about one or more decided changes (more than one: the monthly digest).

    `news` holds only this person's own contributions (impact.feedback.outcomes.news); `link` is their private page
    (None for a preview: the summary then offers to send one) and `link_expires` the last day it works. `code`,
    for a letter, is (where to type it, the short code): a person reading on paper need not type the link.
    `organisation` is the charity's name, or better its contact details, which every summary ends with.
    """
    if not news:
        raise ValueError("a summary needs at least one change to tell the person about")
    contact = organisation if isinstance(organisation, Contact) else Contact(_one_line(organisation))
    name = _one_line(contact.name)
    count = len(news)
    opening = "Here is what came of them." if count == 1 else f"Here is what came of them, in {count} updates."
    blocks = [_p(_greeting(person)), _p("Thank you for sharing your views with us.", opening)]
    for number, item in enumerate(news, start=1):
        title = _title(item.decision)
        blocks += _change(item, title if count == 1 else f"{number}. {title}")
    blocks.append(_p("Thank you again for your time and your ideas."))
    if link:
        until = [f"This link works until {day(link_expires)}."] if link_expires else []
        blocks.append(_Block("h", ("Your own page",)))
        blocks.append(
            _p("Your own page shows all you have told us, and what came of it.", _Link(link, PAGE_LINK_LABEL), *until)
        )
        if code:
            where, short = code
            blocks.append(_p(f"Or go to {where}", f"and type this code: {short}"))
    else:
        blocks.append(
            _p(
                "We can send you a link to your own page.",
                "It shows all you have told us, and what came of it.",
                "Just ask us for one.",
            )
        )
    blocks += [
        _p("With thanks,", name),
        _Block("h", ("Questions, or to stop these updates",)),
        _p(*stop_and_ask(contact, medium=medium)),
    ]
    if count == 1:
        subject = f"What came of what you said about “{_title(news[0].decision)}”"
    else:
        subject = f"What came of what you said: {count} updates from {name}"
    return Summary(subject, _text(blocks), _html(blocks))


# --- rendering -------------------------------------------------------------------------------------


def _text(blocks: Sequence[_Block]) -> str:
    out = ""
    for block in blocks:
        lines = "\n".join((line.text or line.href) if isinstance(line, _Link) else line for line in block.lines)
        out += ("\n" if block.close else "\n\n") + lines if out else lines
    return out + "\n"


def _html_line(line: _Line) -> str:
    if isinstance(line, _Link):
        href = escape(line.href, quote=True)
        shown = escape(line.label or line.href)
        # only a web or mail address becomes a link; anything else is shown, escaped, as words
        if not re.match(r"(https?://|mailto:)", line.href, re.IGNORECASE):
            return href
        return f'{escape(line.before)}<a href="{href}">{shown}</a>'
    return escape(line).replace("\n", "<br>\n")


def _html(blocks: Sequence[_Block]) -> str:
    parts = []
    for block in blocks:
        inner = "<br>\n".join(_html_line(line) for line in block.lines)
        match block.kind:
            case "h":
                parts.append(f"<h2>{inner}</h2>")
            case "quote":
                parts.append(f"<blockquote><p>{inner}</p></blockquote>")
            case _:
                parts.append(f"<p>{inner}</p>")
    return "\n".join(parts) + "\n"


# Inline styles for the e-mail (many mail programs drop a <style> element). The fragment is our own
# markup with all free text escaped, so these tags can only be ours.
_INLINE = {
    "<blockquote><p>": (
        '<blockquote style="margin:0 0 16px;padding:4px 0 4px 16px;border-left:4px solid #505a5f;color:#1a1a1a;">'
        '<p style="margin:0;">'
    ),
    "<h2>": '<h2 style="font-size:22px;line-height:1.3;margin:32px 0 8px;color:#1a1a1a;">',
    "<p>": '<p style="margin:0 0 16px;">',
    "<a ": '<a style="color:#1d4f91;text-decoration:underline;" ',
}


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), keep_trailing_newline=True
    )


def email_document(summary: Summary, *, organisation: str | Contact) -> str:
    """A complete, accessible HTML e-mail around the summary: no images, no tracking, large clear text.

    It fits a 320 px wide screen: links show short words (the address is in the text part), and long words
    in free text wrap rather than widen the page."""
    contact = organisation if isinstance(organisation, Contact) else Contact(_one_line(organisation))
    fragment = summary.html
    for tag, styled in _INLINE.items():
        fragment = fragment.replace(tag, styled)
    return (
        _environment()
        .get_template("feedback_email.html")
        .render(
            subject=_one_line(summary.subject),
            organisation=_one_line(contact.name),
            address=contact.address_one_line,
            fragment=Markup(fragment),  # noqa: S704 (built by compose, every piece of free text escaped)
        )
    )
