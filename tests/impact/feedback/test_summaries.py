"""The "you said, we did" summaries (impact/feedback/summaries.py): what they say, escaping, privacy, readability.

Pure and fast: the composer reads nothing but its arguments, so every test builds its inputs by hand
(or from the demo data's realistic texts in impact/demo/texts.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from html import escape
from typing import Any

import pytest
import textstat

from impact.demo.texts import AREAS, DECLINED, FIRST
from impact.feedback.outcomes import Decision, News, Person, Said
from impact.feedback.summaries import QUOTE_LIMIT, Summary, compose, day, email_document, influence, what_happened
from schemas.vocab import Area

ORG = "North Helpline Trust"
LINK = "https://impact.example.org/you/Ii0xMjM0NTY3ODkwYWJjZGVmIg.signature-part"
EXPIRES = date(2026, 6, 4)
DECIDED = date(2026, 5, 5)
DEMO = {"service": "helpline", "people": "people with lived experience"}  # as impact/demo/__init__.py fills them


def person(name: str | None = "Amina Begum", pid: str = "p-amina") -> Person:
    return Person("org-1", pid, name, "amina@example.org", None, None, True, "email", "each_change", False)


def said(text: str = "The helpline is hard to reach in the evenings.", *, cid: str = "c-1", **changes: Any) -> Said:
    return replace(Said(cid, date(2026, 3, 3), "support", text, None), **changes)


def decision(status: str = "implemented", *, note: str | None = None, **changes: Any) -> Decision:
    description = "The helpline is now open until 10pm on weekdays."
    plain = Decision("ch-1", "Longer evening hours", description, "support", status, note, DECIDED)
    return replace(plain, **changes)


def one(
    status: str = "implemented",
    *,
    strength: str = "moderate",
    note: str | None = None,
    who: Person | None = None,
    text: str = "The helpline is hard to reach in the evenings.",
    link: str | None = LINK,
) -> Summary:
    news = News(decision(status, note=note), ((said(text), strength),))
    return compose(who or person(), [news], organisation=ORG, link=link, link_expires=EXPIRES if link else None)


# --- what a summary says -------------------------------------------------------------------------------


REASON = "The NHS trust sets this policy, not us. We have passed your views on to them."


@pytest.mark.parametrize(
    ("status", "note", "present", "absent"),
    [
        (
            "implemented",
            "Now in place.",
            [
                "What we did: The helpline is now open until 10pm on weekdays.",
                "On 5 May 2026, we made this change.",
                "Now in place.",
            ],
            ["could not", "Why:"],
        ),
        (
            "agreed",
            None,
            [
                "What we will do: The helpline is now open until 10pm on weekdays.",
                "On 5 May 2026, we agreed to make this change.",
            ],
            ["could not", "What we did:", "Why:"],
        ),
        (
            "declined",
            REASON,
            ["On 5 May 2026, we decided we could not make this change.", "We are sorry.", f"Why: {REASON}"],
            # a declined change's description reads as if done: it is not told as news
            ["What we did:", "What we will do:", "now open until 10pm"],
        ),
        (
            "declined",
            None,  # declined is explained, never hidden: with no note, they are asked to let us explain
            ["we decided we could not make this change.", "Please ask us why. We will be glad to explain."],
            ["Why:"],
        ),
    ],
)
def test_each_status_says_what_became_of_the_change_and_when(
    status: str, note: str | None, present: list[str], absent: list[str]
) -> None:
    summary = one(status, note=note)
    for words in present:
        assert words in summary.text
        assert escape(words) in summary.html
    for words in absent:
        assert words not in summary.text
    assert "Longer evening hours" in summary.text
    assert "“The helpline is hard to reach in the evenings.”" in summary.text  # their own words, quoted
    assert "On 3 March 2026, you said:" in summary.text


@pytest.mark.parametrize(
    ("status", "decided_on", "sentence"),
    [
        ("implemented", DECIDED, "On 5 May 2026, we made this change."),
        ("agreed", DECIDED, "On 5 May 2026, we agreed to make this change."),
        ("declined", DECIDED, "On 5 May 2026, we decided we could not make this change."),
        ("implemented", None, "We made this change."),
        ("declined", None, "We decided we could not make this change."),
        ("proposed", None, "We have not decided about this yet."),
    ],
)
def test_what_happened_is_one_sentence_with_its_date(status: str, decided_on: date | None, sentence: str) -> None:
    assert what_happened(decision(status, decided_on=decided_on)) == sentence


@pytest.mark.parametrize(
    ("strength", "sentence"),
    [
        ("major", "Your words were a big part of our thinking on this."),
        ("moderate", "Your words helped shape our thinking on this."),
        ("minor", "Your words were one of the things we thought about."),
        ("unknown", "Your words were part of our thinking on this."),
    ],
)
def test_influence_is_a_contribution_never_sole_credit(strength: str, sentence: str) -> None:
    assert influence(strength) == sentence
    for overclaim in ("alone", "because of you", "only you", "you made us", "thanks to you"):
        assert overclaim not in sentence.lower()
    assert sentence in one(strength=strength).text


def test_each_contribution_is_quoted_with_its_own_strength_and_where_it_was_said() -> None:
    first = said("Tell callers where they are in the queue.", cid="c-1", activity_title="Helpline review group")
    second = said("A follow-up call a week later would help.", cid="c-2", made_on=date(2026, 4, 1))
    news = News(decision(), ((first, "major"), (second, "minor")))
    text = compose(person(), [news], organisation=ORG, link=LINK, link_expires=EXPIRES).text
    expected = [
        "On 3 March 2026, at “Helpline review group”, you said:",
        "“Tell callers where they are in the queue.”",
        influence("major"),
        "On 1 April 2026, you said:",
        "“A follow-up call a week later would help.”",
        influence("minor"),
        "What we did:",
    ]
    positions = [text.index(line) for line in expected]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("length", "trimmed"), [(QUOTE_LIMIT - 10, False), (QUOTE_LIMIT, False), (QUOTE_LIMIT + 1, True), (2000, True)]
)
def test_long_contributions_are_quoted_in_full_up_to_the_limit_then_trimmed_at_a_word(
    length: int, trimmed: bool
) -> None:
    words = ("waiting " * 400)[:length].rstrip() or "waiting"
    quote = re.search(r"“([^”]*)”", one(text=words).text)
    assert quote is not None
    if trimmed:
        assert quote[1].endswith("waiting…")  # cut at a whole word
        assert len(quote[1]) <= QUOTE_LIMIT + 1
    else:
        assert quote[1] == words


def test_the_digest_takes_each_change_in_turn() -> None:
    changes = [
        decision("implemented", change_id="ch-1", title="Longer evening hours"),
        decision("agreed", change_id="ch-2", title="Buddies for new members", decided_on=date(2026, 5, 9)),
        decision("declined", change_id="ch-3", title="Translated leaflets", note=REASON, decided_on=date(2026, 5, 12)),
    ]
    news = [
        News(change, ((said(f"My point number {n}.", cid=f"c-{n}"), "moderate"),)) for n, change in enumerate(changes)
    ]
    summary = compose(person(), news, organisation=ORG, link=LINK, link_expires=EXPIRES)
    assert summary.subject == f"What came of what you said: 3 updates from {ORG}"
    assert "Here is what came of them, in 3 updates." in summary.text
    headings = ["1. Longer evening hours", "2. Buddies for new members", "3. Translated leaflets"]
    positions = [summary.text.index(f"\n{heading}\n") for heading in headings]
    assert positions == sorted(positions)
    for heading in headings:
        assert f"<h2>{heading}</h2>" in summary.html
    for n in range(3):
        assert f"“My point number {n}.”" in summary.text
    for sentence in (
        "On 5 May 2026, we made this change.",
        "On 9 May 2026, we agreed to make this change.",
        "On 12 May 2026, we decided we could not make this change.",
        f"Why: {REASON}",
    ):
        assert sentence in summary.text
    assert summary.text.count(LINK) == 1  # one page link, one sign-off, however many changes
    assert summary.text.count("With thanks,") == 1


def test_one_change_has_a_specific_subject_and_no_numbering() -> None:
    summary = one()
    assert summary.subject == "What came of what you said about “Longer evening hours”"
    assert "\nLonger evening hours\n" in summary.text
    assert "1. " not in summary.text


def test_subject_is_one_line_whatever_the_title() -> None:
    news = News(decision(title="Longer\r\nBcc: someone@example.org evening hours"), ((said(), "minor"),))
    summary = compose(person(), [news], organisation=ORG, link=None, link_expires=None)
    assert "\n" not in summary.subject and "\r" not in summary.subject


@pytest.mark.parametrize(
    ("name", "greeting"), [("Amina Begum", "Hello Amina Begum,"), (None, "Hello,"), ("", "Hello,"), ("   ", "Hello,")]
)
def test_greets_them_by_name_or_simply_hello(name: str | None, greeting: str) -> None:
    summary = one(who=person(name))
    assert summary.text.startswith(f"{greeting}\n")
    assert summary.html.startswith(f"<p>{greeting}</p>")


def test_thanks_them_and_points_to_their_own_page_until_the_link_expires() -> None:
    summary = one()
    assert "Thank you" in summary.text
    assert f"Your own page shows all you have told us, and what came of it.\n{LINK}\n" in summary.text
    assert "This link works until 4 June 2026." in summary.text
    # the HTML shows short words, not the long address (which would make a phone scroll sideways)
    assert f'<a href="{escape(LINK)}">Open your page</a>' in summary.html
    assert f">{escape(LINK)}<" not in summary.html
    assert f"With thanks,\n{ORG}\n" in summary.text


def test_without_a_link_they_are_told_we_can_send_one() -> None:
    summary = one(link=None)
    assert "We can send you a link to your own page." in summary.text
    assert "Just ask us for one." in summary.text
    assert "works until" not in summary.text
    assert "<a " not in summary.html


def test_only_a_web_address_becomes_a_link() -> None:
    summary = one(link="javascript:alert(1)")
    assert "<a " not in summary.html and "javascript:alert(1)" in summary.html


def test_nothing_to_tell_is_an_error_not_an_empty_message() -> None:
    with pytest.raises(ValueError, match="at least one change"):
        compose(person(), [], organisation=ORG, link=LINK, link_expires=EXPIRES)


def test_day_is_written_as_people_write_it() -> None:
    assert day(date(2026, 5, 5)) == "5 May 2026"
    assert day(date(2026, 12, 25)) == "25 December 2026"


# --- escaping ------------------------------------------------------------------------------------------

EVIL = '<script>alert(1)</script> Tom & Jerry\'s "quote" <b>bold</b>'


@pytest.mark.parametrize("field", ["name", "contribution", "activity", "title", "description", "note", "organisation"])
def test_free_text_is_escaped_in_html_and_verbatim_in_text(field: str) -> None:
    status = "declined" if field == "note" else "implemented"
    change = decision(
        status,
        note=EVIL if field == "note" else None,
        title=EVIL if field == "title" else "Longer evening hours",
        description=EVIL if field == "description" else "The helpline is now open later.",
    )
    contribution = said(
        EVIL if field == "contribution" else "Open later, please.",
        activity_title=EVIL if field == "activity" else None,
    )
    organisation = EVIL if field == "organisation" else ORG
    summary = compose(
        person(EVIL if field == "name" else "Amina"),
        [News(change, ((contribution, "major"),))],
        organisation=organisation,
        link=LINK,
        link_expires=EXPIRES,
    )
    document = email_document(summary, organisation=organisation)
    assert EVIL in summary.text
    for html in (summary.html, document):
        assert "<script>" not in html and "<b>" not in html and EVIL not in html
        assert escape(EVIL) in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Tom &amp; Jerry&#x27;s &quot;quote&quot;" in html


# --- never another participant's data ------------------------------------------------------------------


def test_a_summary_holds_only_the_given_persons_name_and_words() -> None:
    """Two people linked to the same change: each summary names only its own person and quotes only them.

    Composing B's summary first and A's after it would catch a composer that kept state between calls,
    or reached for any name but the one it was given; the markers are in nobody else's inputs.
    """
    change = decision()
    amina, bronwen = person("Amina Begum", "p-a"), person("Bronwen Hughes", "p-b")
    news_a = News(change, ((said("Evenings are hard. MARKER-AMINA-7f3", cid="c-a"), "major"),))
    news_b = News(change, ((said("Weekends too. MARKER-BRONWEN-91c", cid="c-b"), "minor"),))
    for_b = compose(bronwen, [news_b], organisation=ORG, link=LINK, link_expires=EXPIRES)
    for_a = compose(amina, [news_a], organisation=ORG, link=LINK, link_expires=EXPIRES)
    for mine, theirs, me, them in ((for_a, for_b, amina, bronwen), (for_b, for_a, bronwen, amina)):
        own_marker = "MARKER-AMINA-7f3" if me is amina else "MARKER-BRONWEN-91c"
        other_marker = "MARKER-BRONWEN-91c" if me is amina else "MARKER-AMINA-7f3"
        assert me.display_name and them.display_name
        for part in (mine.text, mine.html, mine.subject, email_document(mine, organisation=ORG)):
            assert other_marker not in part
            assert them.display_name not in part
            assert them.display_name.split()[0] not in part
        assert own_marker in mine.text and me.display_name in mine.text
        assert mine != theirs
    # no other first name of the demo register appears (nothing hard-coded, no co-contributor named)
    for name in FIRST:
        if name != "Amina":
            assert not re.search(rf"\b{name}\b", for_a.text), name


# --- the e-mail document -------------------------------------------------------------------------------


def test_email_document_is_complete_accessible_and_plain() -> None:
    summary = one(who=person("Amina <b>&</b>"))
    document = email_document(summary, organisation=ORG)
    assert document.lstrip().lower().startswith("<!doctype html>")
    assert '<html lang="en-GB">' in document
    assert "<title>What came of what you said about “Longer evening hours”</title>" in document
    assert "Hello Amina &lt;b&gt;&amp;&lt;/b&gt;," in document
    assert "“The helpline is hard to reach in the evenings.”" in document
    assert "<body" in document and "</html>" in document
    assert "font-size:18px" in document  # readable: at least 16px everywhere
    assert all(int(size) >= 16 for size in re.findall(r"font-size:\s*(\d+)px", document))
    for absent in ("<img", "<script", "<iframe", "url(", "@import", "<link "):
        assert absent not in document  # no images, no tracking, nothing fetched from elsewhere
    assert re.findall(r'href="([^"]*)"', document) == [escape(LINK)]  # the only link is their own page


# --- readability ---------------------------------------------------------------------------------------


def reading_ease(text: str) -> float:
    """Flesch reading ease of a summary, without its web address (a URL's "syllables" are noise)."""
    return float(textstat.flesch_reading_ease(re.sub(r"https?://\S+", " ", text)))


def demo_news(area: str, say: int, change: int, status: str, *, strength: str = "moderate") -> News:
    texts = AREAS[Area(area)]
    title, did = texts.changes[change]
    note = {"implemented": "Now in place.", "agreed": "Agreed; work starts next month."}.get(status)
    return News(
        decision(
            status,
            change_id=f"{area}-{change}",
            title=title,
            description=did.format(**DEMO),
            area=area,
            note=note or DECLINED[(say + change) % len(DECLINED)],
        ),
        ((said(texts.says[say].format(**DEMO), cid=f"{area}-{say}", area=area), strength),),
    )


def test_every_demo_summary_reads_easily() -> None:
    """Every area's demo words (each thing said, each change, each decided status) in a summary: ease >= 60.

    All of them, not a chosen few: they pass (the lowest was about 84 when written). A few of the demo
    contributions alone score under 60; those are the participants' own words, which we quote as said.
    """
    scores = {}
    for area, texts in AREAS.items():
        for say in range(len(texts.says)):
            for change in range(len(texts.changes)):
                for status in ("implemented", "agreed", "declined"):
                    news = demo_news(area, say, change, status)
                    summary = compose(person(), [news], organisation=ORG, link=LINK, link_expires=EXPIRES)
                    scores[(area, say, change, status)] = reading_ease(summary.text)
    assert len(AREAS) == 16 and len(scores) == 3 * sum(len(t.says) * len(t.changes) for t in AREAS.values())
    assert {key: score for key, score in scores.items() if score < 60} == {}


def test_a_demo_digest_reads_easily() -> None:
    news = [
        demo_news("support", 0, 0, "implemented", strength="major"),
        demo_news("complaints", 0, 0, "agreed", strength="moderate"),
        demo_news("conferences_events", 2, 1, "declined", strength="minor"),
    ]
    summary = compose(person(), news, organisation=ORG, link=LINK, link_expires=EXPIRES)
    assert reading_ease(summary.text) >= 60
    assert reading_ease(compose(person(), news, organisation=ORG, link=None, link_expires=None).text) >= 60


PLACEHOLDER = ("We need more help.", "A change", "We did a thing.", "A reason.")


@pytest.mark.parametrize("status", ["implemented", "agreed", "declined"])
@pytest.mark.parametrize("link", [LINK, None])
@pytest.mark.parametrize("count", [1, 3])
def test_our_own_words_read_very_easily(status: str, link: str | None, count: int) -> None:
    """Our template with short neutral contents: it is our words that are measured, and they must be easy."""
    say, title, did, why = PLACEHOLDER
    change = decision(status, title=title, description=did, note=why)
    news = [News(change, ((said(say), strength),)) for strength in ("major", "moderate", "minor")[:count]]
    summary = compose(person("Sam"), news, organisation="The Trust", link=link, link_expires=EXPIRES)
    assert reading_ease(summary.text) >= 80
    # and each of our sentences is short: no more than 15 words
    ours = re.sub(r"https?://\S+", " ", summary.text)
    for sentence in re.split(r"(?<=[.:?!])\s+|\n+", ours):
        assert len(sentence.split()) <= 15, sentence


def test_the_readability_check_can_fail() -> None:
    convoluted = (
        "Notwithstanding the aforementioned considerations, the organisation's multidisciplinary governance "
        "infrastructure necessitated comprehensive reconsideration of operational prioritisation methodologies, "
        "consequently precipitating substantial reconfiguration of interdepartmental accountability arrangements "
        f"pertaining to the implementation of participatory evaluation frameworks. {LINK}"
    )
    assert reading_ease(convoluted) < 60
