"""Tests for pipeline.extract: HTML to clean article text, metadata and notices."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from datetime import datetime

import pytest

from demo.newsroom import load_stories, render_article
from pipeline.config import DiffSettings
from pipeline.errors import ExtractionError, WallError
from pipeline.extract import (
    MIN_WORDS,
    WORD,
    WordPattern,
    clean_text,
    count_words,
    describe_extractor,
    ensure_html,
    extract_article,
    find_notices,
    hash_text,
    normalize_text,
    strip_noise,
    visible_text,
)

BASE_URL = "http://127.0.0.1:8000"
STORIES = {story.slug: story for story in load_stories()}
# Every (slug, version index) the demo newsroom publishes.
ALL_VERSIONS = [(story.slug, i) for story in STORIES.values() for i in range(len(story.versions))]
BOILERPLATE = ("Share on", "Share this story", "Related stories", "Morning Briefing", "Sign up",
               "Email address", "All rights reserved", "Privacy policy")


def page_of(slug: str, index: int = 0, **changes) -> tuple[str, str]:
    """The rendered page of one story version (optionally altered) and its URL."""
    version = dataclasses.replace(STORIES[slug].versions[index], **changes)
    return render_article(version, slug, BASE_URL), f"{BASE_URL}/news/{slug}"


def as_datetime(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


# --------------------------------------------------------------------------- extract_article


@pytest.mark.parametrize(("slug", "index"), ALL_VERSIONS)
def test_extract_article_finds_text_and_metadata_of_every_demo_page(slug, index):
    version = STORIES[slug].versions[index]
    html, url = page_of(slug, index)

    page = extract_article(html, url)

    assert page.title == version.title
    assert page.byline == version.byline
    assert as_datetime(page.published) == datetime.fromisoformat(version.published)
    assert as_datetime(page.modified) == datetime.fromisoformat(version.modified)
    # The body is the paragraphs, one per line, normalised (dashes and quotes straightened).
    assert page.text == normalize_text("\n".join(version.paragraphs))
    assert page.text.split("\n")[0] != page.title  # the headline is not repeated in the body
    for boilerplate in BOILERPLATE:
        assert boilerplate not in page.text
    assert page.extractor.startswith("trafilatura")
    assert vars(page)["words"] == count_words(page.text) == page.words  # counted once, by extraction


def test_extract_article_reports_modified_date_of_an_updated_version():
    html, url = page_of("flood-toll", 1)

    page = extract_article(html, url)

    assert as_datetime(page.published) == datetime.fromisoformat("2025-03-11T05:42:00+00:00")
    assert as_datetime(page.modified) == datetime.fromisoformat("2025-03-11T09:15:00+00:00")


def test_extract_article_accepts_bytes():
    html, url = page_of("flood-toll")

    assert extract_article(html.encode("utf-8"), url) == extract_article(html, url)


def test_extract_article_lists_correction_notice_of_the_demo_correction():
    version = STORIES["bridge-contract"].versions[-1]
    html, url = page_of("bridge-contract", len(STORIES["bridge-contract"].versions) - 1)

    page = extract_article(html, url)

    assert len(page.notices) == 1
    assert page.notices[0].startswith("Correction: An earlier version of this story")
    assert page.notices[0] in page.text  # notices stay in the text as well
    assert any(p.startswith("Correction:") for p in version.paragraphs)


def test_extract_article_drops_noise_lines_and_configured_patterns():
    original = STORIES["flood-toll"].versions[0].paragraphs
    noisy = (original[0], "Updated 3:45 PM ET", original[1], "5 minutes ago",
             "Sponsored content from our partners", *original[2:])
    html, url = page_of("flood-toll", paragraphs=noisy)

    page = extract_article(html, url, DiffSettings(ignore=(r"^Sponsored content",)))

    assert page.text == normalize_text("\n".join(original))


def test_extract_article_keeps_a_notice_paragraph_and_lists_it():
    original = STORIES["flood-toll"].versions[0].paragraphs
    note = "Editor\u2019s note: This story has been updated with the latest toll."
    html, url = page_of("flood-toll", paragraphs=(*original, note))

    page = extract_article(html, url)

    assert page.text.endswith("\nEditor's note: This story has been updated with the latest toll.")
    assert page.notices == ("Editor's note: This story has been updated with the latest toll.",)


def test_extract_article_text_is_the_same_when_only_a_relative_time_changed():
    original = STORIES["flood-toll"].versions[0].paragraphs
    first, url = page_of("flood-toll", paragraphs=("Updated 2 hours ago", *original))
    later, _ = page_of("flood-toll", paragraphs=("Updated 3 hours ago", *original))

    assert hash_text(extract_article(first, url).text) == hash_text(extract_article(later, url).text)


def test_extract_article_rejects_page_without_article_text():
    url = "http://127.0.0.1:8000/news/empty"

    with pytest.raises(ExtractionError) as error:
        extract_article("<html><head><title>Empty</title></head><body></body></html>", url)

    assert url in str(error.value)
    assert error.value.source == url


def test_extract_article_rejects_page_with_too_few_words():
    url = "http://127.0.0.1:8000/news/short"
    html = "<html><body><article><p>Only five words are here.</p></article></body></html>"

    with pytest.raises(ExtractionError) as error:
        extract_article(html, url)

    assert url in str(error.value)
    assert "5 words" in str(error.value)
    assert str(MIN_WORDS) in str(error.value)


def test_extract_article_without_url_names_a_placeholder_source():
    with pytest.raises(ExtractionError, match="<html>"):
        extract_article("<html><body></body></html>")


def test_extract_article_with_exactly_min_words_is_accepted():
    words = " ".join(f"word{i}" for i in range(MIN_WORDS))
    html = f"<html><body><article><p>{words}.</p></article></body></html>"

    page = extract_article(html, "http://127.0.0.1/x")

    assert len(page.text.split()) == MIN_WORDS


# --------------------------------------------------------------------------- normalize_text


def test_normalize_text_composes_unicode_to_nfc():
    assert normalize_text("Cafe\u0301") == "Caf\u00e9"


def test_normalize_text_straightens_quotes_and_dashes():
    text = "\u201cWe\u2019re here,\u201d she said \u2014 \u2018twice\u2019 \u2013 \u201eok\u201f"

    assert normalize_text(text) == "\"We're here,\" she said - 'twice' - \"ok\""


def test_normalize_text_turns_special_spaces_into_plain_spaces():
    assert normalize_text("40\u00a0000\u2009people\u202fleft") == "40 000 people left"
    assert normalize_text("zero\u200bwidth") == "zerowidth"


def test_normalize_text_collapses_runs_of_spaces_and_tabs_and_trims_lines():
    assert normalize_text("  a   b\t\tc  \n\t d  ") == "a b c\nd"


def test_normalize_text_drops_blank_lines_but_keeps_paragraph_breaks():
    assert normalize_text("First.\n\n\n   \nSecond.\r\nThird.") == "First.\nSecond.\nThird."


def test_normalize_text_is_idempotent():
    text = " \u201cA\u201d\u00a0 b \n\n c\u2014d "

    once = normalize_text(text)

    assert normalize_text(once) == once


# --------------------------------------------------------------------------- strip_noise


@pytest.mark.parametrize("line", [
    "Updated 3:45 PM ET",
    "Updated: 3:45 p.m. EST",
    "Last updated on March 3, 2025 10:15 a.m.",
    "5 minutes ago",
    "1 hour ago",
    "12 days ago",
])
def test_strip_noise_drops_timestamp_lines(line):
    text = f"The council met on Tuesday.\n{line}\nIt voted 5-4."

    assert strip_noise(text) == "The council met on Tuesday.\nIt voted 5-4."


@pytest.mark.parametrize("line", [
    "The council updated its plan on Tuesday.",
    "Officials updated the toll at 3:45 p.m. on Tuesday, saying 19 people had died.",
    "Updated figures show 300 homes were destroyed.",
    "Crews arrived 5 minutes ago, a witness said.",
])
def test_strip_noise_keeps_real_sentences(line):
    text = f"First paragraph.\n{line}"

    assert strip_noise(text) == text


@pytest.mark.parametrize("line", [
    "Updated 2 hours ago",
    "Posted 5 minutes ago",
    "Last updated 10 mins ago",
])
def test_strip_noise_drops_relative_times_after_a_word(line):
    assert strip_noise(f"The council met on Tuesday.\n{line}") == "The council met on Tuesday."


def test_strip_noise_drops_lines_matching_configured_patterns_case_insensitively():
    text = "Story begins.\nADVERTISEMENT\nStory goes on.\nRead more: other story"

    assert strip_noise(text, (r"^advertisement$", r"^Read more:")) == "Story begins.\nStory goes on."


def test_strip_noise_leaves_text_without_noise_unchanged():
    text = "One.\nTwo.\nThree."

    assert strip_noise(text) == text


# --------------------------------------------------------------------------- find_notices


@pytest.mark.parametrize("line", [
    "Correction: An earlier version misstated the toll.",
    "An earlier version of this story gave the wrong date.",
    "The mayor's office said an earlier version of this article was wrong.",
    "This story has been updated with comment from the mayor.",
    "This article has been corrected.",
    "Editor's note: Names have been changed.",
    "Editor\u2019s note: Names have been changed.",
    "CLARIFICATION: The vote was held on Monday.",
])
def test_find_notices_finds_correction_and_update_notices(line):
    text = f"The council met on Tuesday.\n{line}\nIt voted 5-4."

    assert find_notices(text) == (line,)


@pytest.mark.parametrize("line", [
    "Corrections officers said the prison was calm.",
    "The council corrected its earlier statement.",
    "The story of the bridge has been told many times.",
])
def test_find_notices_ignores_ordinary_sentences(line):
    assert find_notices(line) == ()


def test_find_notices_returns_notices_in_text_order():
    text = "Correction: one.\nBody.\nThis story has been updated to add two."

    assert find_notices(text) == ("Correction: one.", "This story has been updated to add two.")


# --------------------------------------------------------------------------- ensure_html


@pytest.mark.parametrize("body", [b"", b"   \n\t "])
def test_ensure_html_rejects_empty_body(body):
    with pytest.raises(ExtractionError, match="empty body") as error:
        ensure_html(body, "text/html", "http://127.0.0.1/x")

    assert "http://127.0.0.1/x" in str(error.value)


@pytest.mark.parametrize(("body", "content_type"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 binary", "application/pdf"),
    (b'{"title": "A story", "words": 300}', "application/json; charset=utf-8"),
])
def test_ensure_html_rejects_other_content_types_without_markup(body, content_type):
    with pytest.raises(ExtractionError) as error:
        ensure_html(body, content_type, "http://127.0.0.1/doc")

    assert content_type.split(";")[0] in str(error.value)
    assert "http://127.0.0.1/doc" in str(error.value)


@pytest.mark.parametrize("content_type", ["text/plain", None, "text/html"])
def test_ensure_html_rejects_plain_text(content_type):
    with pytest.raises(ExtractionError, match="http://127.0.0.1/t"):
        ensure_html(b"Just some plain text, no markup at all.", content_type, "http://127.0.0.1/t")


@pytest.mark.parametrize(("body", "content_type"), [
    (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", "text/html; charset=utf-8"),
    (b"<html><body><p>Hi</p></body></html>", "application/xhtml+xml"),
    (b"<html><body><p>Hi</p></body></html>", None),
    # A server that mislabels a real page is still read.
    (b"<html><body><p>Hi</p></body></html>", "text/plain"),
])
def test_ensure_html_accepts_html_pages(body, content_type):
    ensure_html(body, content_type, "http://127.0.0.1/x")


def test_ensure_html_accepts_a_rendered_demo_page():
    html, url = page_of("flood-toll")

    ensure_html(html.encode("utf-8"), "text/html; charset=utf-8", url)


# --------------------------------------------------------------------------- hash_text


def test_hash_text_is_equal_for_texts_differing_only_in_quote_style():
    curly = "\u201cWe\u2019re safe,\u201d she said."
    straight = "\"We're safe,\" she said."

    assert curly != straight
    assert hash_text(normalize_text(curly)) == hash_text(normalize_text(straight))


def test_hash_text_differs_for_different_texts():
    assert hash_text("at least 12 people") != hash_text("at least 19 people")


def test_hash_text_is_a_sha256_hex_digest():
    digest = hash_text("text")

    assert len(digest) == 64
    assert int(digest, 16) >= 0


# --------------------------------------------------------------------------- news bodies: headings kept, widgets dropped

BODY = ("Rescuers said on Tuesday that at least 12 people were killed when the Meridian River burst its banks "
        "overnight and swept through low-lying neighbourhoods of this coastal town.",
        "Emergency crews in boats pulled dozens of residents from rooftops as the water rose by more than two "
        "metres in under an hour, the county fire service said.",
        "The county emergency management office said 300 homes had been destroyed and hundreds more damaged.")


def news_page(*body: str, head: str = "", before: str = "", after: str = "", title="Flood kills 12") -> str:
    """A plain article page: title, the given body HTML, and whatever sits before or after the article."""
    paragraphs = "\n".join(body or (f"<p>{p}</p>" for p in BODY))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
            f"<body><header><nav><a href='/'>Home</a></nav></header><main>{before}"
            f"<article><h1>{title}</h1>{paragraphs}</article>{after}</main>"
            "<footer><p>All rights reserved.</p></footer></body></html>")


def built_by_script(data: str) -> str:
    """A page whose markup holds no article: a script holds it as data, for the browser to render."""
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Flood kills 12</title></head>"
            f"<body><div id='root'></div><script>window.__STATE__ = {data};</script></body></html>")


def script_data(body_html: str, escape: bool) -> str:
    data = json.dumps({"article": {"title": "Flood kills 12", "teaser": "<p>See the pictures</p>",
                                   "contentHtml": body_html}})
    return data.replace("<", "\\u003c").replace(">", "\\u003e") if escape else data


@pytest.mark.parametrize("escape", [True, False], ids=["markup escaped", "markup as is"])
def test_a_page_built_by_its_scripts_is_read_from_the_script_data(escape):
    body = "<div class='ad'>$$AD_SLOT$$</div>".join(f"<p>{p}</p>" for p in BODY)

    page = extract_article(built_by_script(script_data(body, escape)), "http://127.0.0.1/flood")

    assert page.text == "\n".join(BODY)
    assert page.title == "Flood kills 12"


def test_a_page_with_a_body_in_its_markup_is_not_read_from_its_scripts():
    other = "".join(f"<p>{p.replace('Rescuers', 'Divers').replace('300', '310')}</p>" for p in BODY)
    page = news_page().replace("</body>", f"<script>window.__STATE__ = {script_data(other, True)};</script></body>")

    assert extract_article(page, "http://127.0.0.1/flood").text == "\n".join(BODY)


@pytest.mark.parametrize("data", [
    '{"menu": "<p>Home</p>", "user": null}',
    json.dumps({"privacyNotice": "".join(f"<p>{p}</p>" for p in BODY)}),  # paragraphs, but under no body's key
], ids=["no paragraphs", "no body's key"])
def test_a_page_whose_scripts_hold_no_article_still_has_no_text(data):
    with pytest.raises(ExtractionError, match="no article text found"):
        extract_article(built_by_script(data), "http://127.0.0.1/flood")


LIVE = [("11.04: Drone strike hits a car near the border", "A drone struck a car near the border on Thursday morning, "
         "killing the driver, local security sources said, and the army declined to comment."),
        ("09.30: Port closes for the season", "The temporary port on the coast will close for the season after storms "
         "damaged its pier twice in a month, the military said on Thursday."),
        ("07.15: Talks resume in the capital", "Negotiators met again in the capital on Thursday to discuss a ceasefire, "
         "two officials briefed on the talks said, without giving details.")]


def live_ticker(aside: str = "") -> str:
    """A live blog whose markup trafilatura reads by its paragraphs alone: each entry's heading is left out."""
    entries = "".join(f"<h5 class='time'><span>{h}</span></h5><p class='text'>{p}</p><div class='ad'></div>"
                      for h, p in LIVE)
    return ("<html><head><title>Live: the war</title></head><body><div class='page'><section class='container'>"
            f"<h1>Live: the war</h1><h2 class='subtitle'>Live ticker</h2>{entries}</section>{aside}</div></body></html>")


def test_the_headings_of_a_live_blog_stand_over_their_entries():
    import trafilatura

    assert LIVE[0][0] not in trafilatura.extract(live_ticker(), fast=True)  # what this rule mends

    text = extract_article(live_ticker(), "http://127.0.0.1/live").text

    assert text.split("\n") == ["Live ticker"] + [line for entry in LIVE for line in entry]


def test_a_heading_over_a_paragraph_left_out_is_not_added():
    aside = "<div class='more'><h3>Most read</h3><p>Ferry timetable changes for the holidays</p></div>"

    text = extract_article(live_ticker(aside), "http://127.0.0.1/live").text

    assert "Most read" not in text


LATIN_1 = news_page().replace("<meta charset='utf-8'>", "<meta charset='iso-8859-1'>").replace("Rescuers", "Rettungskräfte")


@pytest.mark.parametrize(("page", "first_word"), [
    (news_page().replace("<!DOCTYPE html>", "<?xml version='1.0' encoding='utf-8'?>\n<!DOCTYPE html>"), "Rescuers"),
    (LATIN_1.encode("iso-8859-1"), "Rettungskräfte"),
    (news_page().encode("utf-16"), "Rescuers"),
], ids=["a string declaring its encoding", "latin-1 bytes", "utf-16 bytes"])
def test_extract_article_decodes_pages_as_trafilatura_does(page, first_word):
    text = extract_article(page, "http://127.0.0.1/x").text

    assert text.split("\n") == [first_word + BODY[0][len("Rescuers"):], *BODY[1:]]


def test_extract_article_rejects_what_is_no_html_document():
    with pytest.raises(ExtractionError, match="no HTML document could be parsed"):
        extract_article(b"\x00\x01 not a page", "http://127.0.0.1/x")


def test_extract_article_keeps_subheadings_and_paragraph_breaks():
    html = news_page(f"<p>{BODY[0]}</p>", "<h2>Rescue under way</h2>", f"<p>{BODY[1]}</p>", f"<p>{BODY[2]}</p>")

    page = extract_article(html, "http://127.0.0.1/flood")

    assert page.text.split("\n") == [BODY[0], "Rescue under way", BODY[1], BODY[2]]


def test_extract_article_drops_captions_share_bars_related_stories_newsletter_and_subscribe_boxes_and_bios():
    html = news_page(
        f"<p>{BODY[0]}</p>",
        "<figure><img src='a.jpg' alt=''><figcaption>Residents wade through water on Tuesday. Photo 3 of 12"
        "</figcaption></figure>",
        f"<p>{BODY[1]}</p>",
        "<div class='share-tools'><a href='#'>Facebook</a> <a href='#'>Email this story</a></div>",
        f"<p>{BODY[2]}</p>",
        "<div class='related-stories'><h3>More on the flood</h3><ul><li><a href='/a'>Wildfire season: how to "
        "prepare a go-bag before the evacuation order comes</a></li></ul></div>",
        "<div class='newsletter-signup'><p>Get the Morning Briefing in your inbox every weekday, free.</p></div>",
        "<div class='popular-articles'><p>Ten bridges the state says need urgent repair before the winter storms "
        "arrive, and what each will cost.</p></div>",
        "<div class='trending'><p>The mayor's budget leaves the river defences short again, the opposition says.</p>"
        "</div>",
        "<div class='recommendedStories'><p>Why the dam's spillway was opened at night, and who decided it.</p></div>",
        "<div class='single-cta'><p>Stay informed with The Courier, your source for local news. Subscribe for a "
        "month, free.</p></div>",
        "<div class='author-bio'><p>Maya Lindqvist covers the river towns for The Courier and has written about "
        "floods since 2009.</p></div>",
    )

    assert extract_article(html, "http://127.0.0.1/flood").text == "\n".join(BODY)


def test_the_widget_marks_remembered_between_pages_hold_no_page():
    from pipeline.extract import _WIDGET_MARKS, _parse, _widget_lines

    _WIDGET_MARKS.clear()
    tree = _parse(news_page("<div class='share-tools'><a href='#'>Email this story</a></div>", after=
                            "<div class='Related-Stories'><a href='/a'>A river rises again</a></div>"), "page")

    assert _widget_lines(tree, 1000) == {"Email this story", "A river rises again"}
    # Plain strings: lxml's string results hold their element, and with it the page.
    assert _WIDGET_MARKS and all(type(mark) is str for mark in _WIDGET_MARKS)
    assert _WIDGET_MARKS["share-tools"] and _WIDGET_MARKS["Related-Stories"]
    # A second page with the same marks is read from what was remembered, with the same answer.
    assert _widget_lines(_parse(news_page("<div class='share-tools'><a href='#'>Print</a></div>"), "page"), 1000) == {"Print"}


def test_a_mark_is_read_as_a_widget_alike_with_and_without_the_search_for_its_letters():
    import itertools

    from pipeline.extract import _CAMEL, _WIDGET, _WIDGET_MARKS, _names_widget

    words = ["share", "sharing", "sharebar", "share-tools", "sharetools", "related", "newsletter", "newsletter-signup",
             "recommended", "recommendations", "read-more", "readmore", "more-stories", "most-read", "mostread",
             "popular", "trending", "outbrain", "taboola", "caption", "has-caption", "reading", "shared", "unrelated",
             "cta", "promo", "bio", "author-bio", "author-box", "about-the-author", "biography", "author-name"]
    forms = [f"{a}{word}{b}" for word in words for a, b in itertools.product(["", "x-", "x_", "x "], ["", "-x", "_x"])]
    camel = ["".join(part.capitalize() if k else part for k, part in enumerate(word.split("-"))) for word in words]
    marks = forms + camel + [f"article{m[0].upper()}{m[1:]}" for m in camel] + ["col-md-8", "headline", "body-text"]
    _WIDGET_MARKS.clear()

    assert [_names_widget(mark) for mark in marks] == [bool(_WIDGET.search(_CAMEL.sub("-", mark).lower()))
                                                         for mark in marks]
    assert sum(map(_names_widget, marks)) > len(words)  # (some are widgets)


def test_extract_article_keeps_an_article_wrapped_in_a_container_named_like_a_widget():
    # Real page (fundus OccupyDemocrats): the whole article sat inside "thb-post-share-container".
    html = news_page("<div class='thb-post-share-container'>" + "".join(f"<p>{p}</p>" for p in BODY) + "</div>")

    assert extract_article(html, "http://127.0.0.1/flood").text == "\n".join(BODY)


# Other stories' cards after the article, under a heading that names them (fundus The Nation, Taipei Times): each
# card's headline is written twice (for screen readers, then as the link), and a card's summary sits inside its link.
TEASERS = ("<section class='collections'><div class='container'><h2>More from <span>The Courier</span></h2>"
           "<div class='row'>" + "".join(
               f"<div class='card'><h3><span class='sr-only'>{headline}</span>\n<a href='/{k}'>\n{headline}\n</a>"
               f"</h3><p>{summary}</p></div>" for k, (headline, summary) in enumerate([
                   ("The council's budget leaves the river defences short", "Opposition members said the plan "
                    "cuts the money for flood walls by a third while the town waits for repairs."),
                   ("Ferry services resume after the storm", "The harbour master said the first boats would sail "
                    "on Thursday morning, weather permitting, with extra crossings at the weekend."),
                   ("What the new bridge will cost", "Engineers put the bill at four times the first estimate, "
                    "and the state has yet to say who will pay the difference.")])) + "</div></div></section>")
LINKED_TEASERS = ("<div class='box'><h1>You might also like</h1><ul>" + "".join(
    f"<li><a href='/{k}'><h4>{headline}</h4><p><b>{label}: </b>\n{summary}\nThe rest of the story follows.</p></a></li>"
    for k, (label, headline, summary) in enumerate([
        ("RISK REMAINS", "Storm season is not over", "Forecasters said two more storms could reach the coast before "
         "the end of the month, and asked residents to keep their sandbags in place."),
        ("COST", "Insurers count the damage", "The industry's first estimate of the flood's cost runs to several "
         "hundred million, most of it for homes along the river.")])) + "</ul></div>")


@pytest.mark.parametrize("after", [TEASERS, LINKED_TEASERS], ids=["cards under 'More from'", "linked summaries"])
def test_extract_article_drops_other_stories_under_a_heading_that_names_them(after):
    import trafilatura

    # No <article> element: trafilatura takes the article's container, with the cards in it.
    html = news_page(*(f"<p>{p}</p>" for p in PIECE)).replace("<article>", "").replace("</article>", after)

    assert any(summary in trafilatura.extract(html) for summary in ("Opposition members said", "Forecasters said"))
    assert extract_article(html, "http://127.0.0.1/flood").text == "\n".join(PIECE)


def test_extract_article_keeps_a_section_of_its_own_under_a_heading_like_a_teaser_label():
    own = ("<section><h2>More from the interview</h2><p>Asked about the warnings, the mayor said the town had done "
           "what it could with the money it had, and that the state had been told of the risk in 2019.</p>"
           "<p>She said the flood walls would be raised before next winter.</p></section>")
    html = news_page(*(f"<p>{p}</p>" for p in PIECE), own)

    assert "She said the flood walls would be raised before next winter." in extract_article(
        html, "http://127.0.0.1/flood").text


def test_extract_article_drops_a_caption_marked_by_its_class():
    # fundus Daily Mail: each picture's caption, a paragraph of its own, repeats a sentence of the body.
    html = news_page(f"<p>{BODY[0]}</p>", "<p class='imageCaption'>Residents wade through the water on Tuesday</p>",
                     *(f"<p>{p}</p>" for p in BODY[1:]))

    assert extract_article(html, "http://127.0.0.1/flood").text == "\n".join(BODY)


def test_extract_article_keeps_a_header_marked_as_holding_a_caption():
    # fundus Dagbladet: the standfirst sits in "articleHeader hasCaption", a header that holds a picture's caption.
    standfirst = "The river rose two metres in an hour, and the town had no warning, residents said."
    html = news_page(f"<div class='articleHeader hasCaption'><h2>{standfirst}</h2></div>", *(f"<p>{p}</p>" for p in BODY))

    assert standfirst in extract_article(html, "http://127.0.0.1/flood").text


@pytest.mark.parametrize("line", [
    "Advertisement", "ADVERTISEMENT", "Share this article", "Share on Facebook", "Related stories",
    "Read more:", "Sign up for our newsletter and get the news in your inbox", "Reading time: 4 min",
    "5 min read", "Photo: Maya Lindqvist", "3 of 12", "Follow The Courier on Google News for the latest updates.",
    "Lire aussi :", "À lire aussi", "Sur le même sujet", "Partager", "Publicidad", "Lee también:", "Te puede interesar",
    "Noticias relacionadas", "Compartir",
    "Updated: March 3, 2025",
    "Read more: Storm closes the coast road for a third night", "READ NEXT: Council to vote on harbour plan",
    "Lesen Sie auch: Hochwasser: Was Anwohner jetzt wissen müssen", "Les også: Slik blir været i helgen",
    "Lire aussi : La mairie vote le budget", "See also: Ferry timetable for the holidays",
    "$$AD_SLOT$$", "{{ advert }}",
    "Empfohlener redaktioneller Inhalt", "Externen Inhalt anzeigen", "Ein Klick für den Datenschutz",
    "An dieser Stelle finden Sie einen von unseren Redakteuren ausgewählten, externen Inhalt, der den Artikel ergänzt.",
    "Ich bin damit einverstanden, dass mir der externe Inhalt angezeigt wird. Damit können Daten übermittelt werden.",
    "You must confirm your public display name before commenting",
    "Please logout and then login again, you will then be prompted to enter your display name.",
    "Would you like to comment on this article?", "Log in or create an account to continue",
    "For the latest news from across the region, sign up for our free newsletter.",
    "Der Courier-Newsletter informiert Sie montags bis freitags über das Wichtigste vom Tag.",
    "Get the latest news from the coast in your inbox.", "Invest in journalism - Subscribe Now!",
    "Hat Ihnen dieser Artikel gefallen? Dann unterstützen Sie uns mit einer Spende.",
    "Aktuelle Nachrichten aufs Handy? Hier geht es zur neuen Courier-App - für Android und iOS.",
    "Abonniere den Whatsapp-Kanal des Couriers.", "Do you have a story to tell? Email: news@courier.example",
    "Mehr zur Lage an der Küste lesen Sie in unserem Liveblog:", "Sendung: Radio Courier, 24.04.2024, 15:10 Uhr",
    ">> Hier finden Sie alle Termine im Überblick",
    "Inscrivez-vous à notre newsletter pour recevoir l'essentiel de l'actualité.",
    "Suscríbete a nuestro boletín y recibe las noticias cada mañana.",
    "We independently select everything we recommend. Buying through us may earn us a commission.",
])
def test_strip_noise_drops_widget_boilerplate_lines(line):
    assert strip_noise(f"The council met on Tuesday.\n{line}\nIt voted 5-4.") == "The council met on Tuesday.\nIt voted 5-4."


@pytest.mark.parametrize("line", [
    "Advertisement revenue fell 5% in March, the company said.",
    "Share prices rose after the announcement.",
    "Read more about the plan on the council's website, officials said.",
    "Read more: " + "the council's report runs to forty pages and sets out every cost of the plan, " * 3,
    "The photo: a man on a roof, waving a red towel at the helicopter, went around the world.",
    "The company's newsletter urged staff to subscribe to the pension plan, a memo shows.",
    "Readers wrote in to ask whether the app would work on Android and iOS alike.",
    # a call to the reader inside a paragraph of the story (over CALL_LENGTH characters)
    "The mayor, who urged residents to sign up for our newsletter of flood warnings at a meeting on Tuesday, said "
    "the council had been told of the risk in 2019 and had done what it could with the money it had, while the "
    "state, which owns the embankment, had yet to say when the repairs it promised last spring would begin.",
])
def test_strip_noise_keeps_sentences_that_merely_start_like_boilerplate(line):
    assert strip_noise(f"First paragraph.\n{line}") == f"First paragraph.\n{line}"


# A long piece split around ads into containers of one template; trafilatura keeps the first container it finds.
PIECE = [f"Part {i} of the long piece tells how the river rose over the town and what the people who lived beside "
         "it did over the following days, street by street and house by house." for i in range(1, 10)]


def split_piece(*extra: str, ad: str = "<div class='ad'>Advertisement</div>") -> str:
    def part(paragraphs):
        return ("<div class='grid-item'><div class='body article__body'><div class='body__inner'>"
                + "".join(f"<p>{p}</p>" for p in paragraphs) + "</div></div></div>")

    return ("<html><head><title>River</title></head><body><nav><a href='/'>Home</a></nav><main><article>"
            f"<h1>River</h1>{part(PIECE[:3])}{ad}{part(PIECE[3:6])}{ad}{part(PIECE[6:])}</article>{''.join(extra)}"
            "</main><footer><p>All rights reserved.</p></footer></body></html>")


def test_extract_article_reads_a_body_split_into_containers_of_one_template_whole_and_in_order():
    import trafilatura

    html = split_piece()

    assert sum(part in trafilatura.extract(html) for part in PIECE) == 3  # what the rule is for
    assert extract_article(html, "http://127.0.0.1/river").text.split("\n") == PIECE


@pytest.mark.parametrize("paragraph", [
    "<a href='/{0}'>Another story, number {0}, that readers liked this week, and the reasons they gave for liking it so "
    "much more than all the other stories that the newsroom published in the same week</a>",
    "Short line {0}, unlinked.",
], ids=["link text", "short lines"])
def test_a_container_of_the_body_template_holding_links_or_short_lines_is_not_body(paragraph):
    teasers = ("<div class='grid-item'><div class='body__inner'>"
               + "".join(f"<p>{paragraph.format(i)}</p>" for i in range(4)) + "</div></div>")

    assert extract_article(split_piece(ad=teasers), "http://127.0.0.1/river").text.split("\n") == PIECE


def test_a_container_of_the_body_template_in_another_article_is_not_body():
    elsewhere = ("<aside><article><div class='body__inner'>"
                 + "".join(f"<p>{part.replace('river', 'fire')}</p>" for part in PIECE[:3]) + "</div></article></aside>")

    assert extract_article(split_piece(elsewhere), "http://127.0.0.1/river").text.split("\n") == PIECE


def corpus_text(fundus, name: str) -> str:
    """The text Redline keeps of a page of the shared corpus."""
    import gzip

    return extract_article(gzip.decompress((fundus / name).read_bytes()), "https://example.org/story").text


def test_a_real_body_split_into_containers_of_one_template_is_read_whole(fundus):
    # The New Yorker breaks a long piece into three "body__inner-container" blocks; trafilatura keeps the first.
    text = corpus_text(fundus, "us/TheNewYorker_2023_05_16.html.gz")

    assert text.startswith("On a clear morning in late March, in rural St. Elmo, Minnesota")
    assert text.endswith("The granules had stuck. The ice had a little time left. ♦")
    assert count_words(text) > 4500


def test_the_full_run_does_not_stray_into_a_second_story_on_the_page(fundus):
    # Dagbladet carries a football story whole beside its story on North Korea; trafilatura's full run took both
    # (and, once a sentence or two was added to the body, only the first: a check saw the text collapse).
    text = corpus_text(fundus, "no/Dagbladet_2026_01_06.html.gz")

    assert "Nord-Korea" in text and "Solskjær" not in text


def test_the_stop_words_read_for_trafilatura_s_full_run_are_jusText_s_own(monkeypatch):
    from justext.core import define_stoplist
    from justext.utils import get_stoplist, get_stoplists
    from trafilatura import external

    from pipeline.extract import _lend_stop_words

    monkeypatch.setattr(external, "JT_STOPLIST", None)
    _lend_stop_words.__wrapped__()
    theirs = tuple({word for language in get_stoplists() for word in get_stoplist(language)})  # as trafilatura reads them

    assert define_stoplist(external.JT_STOPLIST) == define_stoplist(theirs)


def test_the_stop_words_are_read_only_when_jusText_asks(monkeypatch):
    import pkgutil

    from trafilatura import external

    from pipeline.extract import _lend_stop_words

    read = []
    monkeypatch.setattr(pkgutil, "get_data", lambda *args: read.append(args) or b"word")
    monkeypatch.setattr(external, "JT_STOPLIST", None)
    _lend_stop_words.__wrapped__()

    assert external.JT_STOPLIST and not read
    assert list(external.JT_STOPLIST) == ["word"] * len(read) and read


def test_clean_text_is_the_text_extract_article_keeps():
    html, url = page_of("flood-toll", 2)

    assert clean_text(html, url) == extract_article(html, url).text


# --------------------------------------------------------------------------- dates, banners, extractor


def test_extract_article_prefers_the_json_ld_article_dates_over_other_markup():
    head = ('<meta property="article:modified_time" content="2025-03-11T07:00:00+00:00">'
            '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [{"@type": "WebSite"},'
            '{"@type": "WebPage", "datePublished": "2025-01-01T00:00:00Z", "dateModified": "2025-01-02T00:00:00Z"},'
            '{"@type": ["NewsArticle"], "datePublished": "2025-03-11T05:42:00Z", '
            '"dateModified": "2025-03-11T09:15:00+00:00"}]}</script>')

    page = extract_article(news_page(head=head), "http://127.0.0.1/flood")

    assert (page.published, page.modified) == ("2025-03-11T05:42:00+00:00", "2025-03-11T09:15:00+00:00")


def test_extract_article_survives_broken_json_ld():
    head = '<script type="application/ld+json">{"@type": "NewsArticle", "dateModified": </script>'

    assert extract_article(news_page(head=head), "http://127.0.0.1/flood").text == "\n".join(BODY)


def test_extract_article_reads_the_byline_of_json_ld_that_trafilatura_would_clean_into_broken_json():
    # trafilatura's clean-up turns the escaped quote (\\u0022) into a bare one and can no longer parse the
    # block; its regex fallback takes only names of two words or more, so the byline was lost.
    head = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
            '"description": "The \\u0022worst\\u0022 '
            'flood", "author": {"@type": "Person", "name": "Reuters"}}</script>')

    assert extract_article(news_page(head=head), "http://127.0.0.1/flood").byline == "Reuters"


# Each test of trafilatura's markup byline search (extract_author's three XPaths), on a page whose metadata
# names no author: Redline skips that search on pages without any of its marks.
BYLINE_MARKS = [
    "<a rel='author' href='/staff/jane-doe'>Jane Doe</a>", "<span id='author'>Jane Doe</span>",
    "<span class='author'>Jane Doe</span>", "<p itemprop='author name'>Jane Doe</p>",
    "<div data-testid='AuthorCard'>Jane Doe</div>", "<div data-testid='AuthorURL'>Jane Doe</div>",
    "<span class='c-author-name'>Jane Doe</span>", "<span class='AuthorName'>Jane Doe</span>",
    "<author>Jane Doe</author>", "<div><rel>me</rel> Jane Doe</div>",
    "<span class='byline'>Jane Doe</span>", "<span class='username'>Jane Doe</span>", "<span class='byl'>Jane Doe</span>",
    "<span class='BBL'>Jane Doe</span>", "<span itemprop='authors'>Jane Doe</span>", "<h4 id='xiaobian'>Jane Doe</h4>",
    "<div id='zuozhe'>Jane Doe</div>", "<div id='bianji'>Jane Doe</div>", "<p class='channel-name'>Jane Doe</p>",
    "<p class='submitted-by'>Jane Doe</p>", "<p class='posted-by'>Jane Doe</p>", "<p class='journalist-name'>Jane Doe</p>",
    "<section data-component='Byline'>Jane Doe</section>", "<section id='Author'>Jane Doe</section>",
    "<section class='screenname'>Jane Doe</section>", "<section class='writer'>Jane Doe</section>",
    "<section class='Byline'>Jane Doe</section>",
]


@pytest.mark.parametrize("mark", BYLINE_MARKS)
def test_extract_article_finds_each_kind_of_byline_trafilatura_finds_in_the_markup(mark):
    from trafilatura.metadata import extract_author

    from pipeline.extract import _parse

    page = news_page(before=mark)
    expected = normalize_text(extract_author(_parse(page, "page")) or "")

    assert expected and extract_article(page, "http://127.0.0.1/flood").byline == expected


def test_the_markup_byline_search_is_skipped_only_where_it_finds_nothing(fundus):
    import csv
    import gzip

    from trafilatura.metadata import extract_author

    from pipeline.extract import _may_name_author, _parse

    with open(fundus / "mapping.csv", newline="", encoding="utf-8") as mapping:
        names = [row["html"] for row in csv.DictReader(mapping)]
    trees = [_parse(gzip.decompress((fundus / name).read_bytes()), name) for name in names]
    skipped = [tree for tree in trees if not _may_name_author(tree)]

    assert skipped and all(extract_author(tree) is None for tree in skipped)


# Pages that need trafilatura's repair before libxml2 reads them: a control character and U+FFFE (dropped),
# an XHTML doctype on the first line, a self-closing <html/>, a doctype on a page of one line.
_NEEDS_REPAIR = [
    b"<html><body><p>One\x01 two</p></body></html>",
    b"<html><body><p>One \xef\xbf\xbe two</p></body></html>",
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
    b"\n<html><body><p>One two</p></body></html>",
    b"<!doctype html>\n<html lang='en'/>\n<body><p>One two</p></body></html>",
    b"<!doctype html><html><body><p>One two</p></body></html>",
]


def test_a_page_is_read_into_the_tree_trafilatura_reads(fundus):
    import gzip

    from lxml import etree
    from trafilatura.utils import load_html

    from pipeline.extract import _parse

    # Decoded pages that declare another encoding than the UTF-8 they are parsed in, one in an XML declaration.
    declaring = ['<html><head><meta charset="windows-1252"></head><body><p>Café déjà vu – “quoted” 東京</p></body></html>',
                 '<?xml version="1.0" encoding="iso-8859-1"?><html><body><p>Café über</p></body></html>',
                 '<html><head><meta http-equiv="Content-Type" content="text/html; charset=shift_jis"></head>'
                 '<body><p>日本語のテキスト</p></body></html>']
    pages = [gzip.decompress(path.read_bytes()) for path in sorted(fundus.rglob("*.html.gz"))] + _NEEDS_REPAIR + declaring

    assert [etree.tostring(_parse(page, "page")) for page in pages] == [etree.tostring(load_html(page))
                                                                        for page in pages]


@pytest.mark.parametrize("page", _NEEDS_REPAIR)
def test_only_a_page_that_needs_it_is_repaired(page, monkeypatch):
    import trafilatura.utils

    from pipeline.extract import _parse

    repaired = []
    repair = trafilatura.utils.repair_faulty_html
    monkeypatch.setattr(trafilatura.utils, "repair_faulty_html", lambda *args: repaired.append(1) or repair(*args))
    _parse(page, "page")
    _parse(b"<!doctype html>\n<html><body><p>One two</p></body></html>", "page")

    assert repaired == [1]


def test_extract_article_finds_the_update_banner_of_the_demo_dateline():
    assert extract_article(*page_of("flood-toll", 1)).banner == "Updated 11 March 2025, 09:15 UTC"
    assert extract_article(*page_of("flood-toll", 0)).banner is None


def test_extract_article_finds_a_banner_but_keeps_it_out_of_the_text():
    html = news_page(f"<p>{BODY[0]}</p>", "<p class='stamp'>Updated 3:45 PM ET</p>", f"<p>{BODY[1]}</p>",
                     f"<p>{BODY[2]}</p>")

    page = extract_article(html, "http://127.0.0.1/flood")

    assert page.banner == "Updated 3:45 PM ET"
    assert page.text == "\n".join(BODY)


def test_extract_article_ignores_update_times_of_other_stories_outside_the_article():
    html = news_page(after="<aside><ul><li>Council vote (Updated 2 hours ago)</li></ul></aside>")

    assert extract_article(html, "http://127.0.0.1/flood").banner is None


def test_the_extractor_name_carries_a_fingerprint_of_the_ignore_patterns():
    html, url = page_of("flood-toll")

    assert extract_article(html, url).extractor == describe_extractor()
    with_ignore = extract_article(html, url, DiffSettings(ignore=("^Sponsored",))).extractor
    assert with_ignore.startswith(describe_extractor() + "; ignore ")
    assert with_ignore != describe_extractor(("^Advertorial",))
    assert with_ignore == describe_extractor(("^Sponsored",))


# --------------------------------------------------------------------------- walls


@pytest.mark.parametrize(("title", "body", "kind"), [
    ("Just a moment...", "<p>Checking if the site connection is secure</p>", "bot check"),
    ("Access denied", "<p>Please enable JS and disable any ad blocker</p>", "bot check"),
    ("Harlow Bay Courier", "<p>Please verify you are a human. Press and hold the button.</p>", "bot check"),
    ("Before you continue", "<p>Before you continue to Google, we use cookies and data to deliver our services.</p>"
     "<button>Accept all</button>", "consent wall"),
])
def test_extract_article_refuses_bot_checks_and_consent_walls(title, body, kind):
    html = f"<html><head><title>{title}</title></head><body>{body}</body></html>"

    with pytest.raises(WallError) as error:
        extract_article(html, "http://127.0.0.1/flood")

    assert kind in str(error.value) and "http://127.0.0.1/flood" in str(error.value)


@pytest.mark.parametrize("city", ["Harlow", "İzmir"])  # "İ" lowered is two characters: the offsets move
def test_a_wall_is_quoted_as_the_page_writes_it(city):
    html = f"<html><head><title>{city} Courier</title></head><body><p>{city}: Please Verify You Are Human.</p></body></html>"

    with pytest.raises(WallError) as error:
        extract_article(html, "http://127.0.0.1/flood")

    assert "bot check ('Verify You Are Human')" in str(error.value)


def test_a_wall_phrase_broken_over_lines_and_elements_is_found():
    html = ("<html><head><title>Courier</title></head><body><p>Please\n   verify that\n<b>you are</b>\u00a0human"
            "</p></body></html>")

    with pytest.raises(WallError, match="bot check \\('verify that you are human'\\)"):
        extract_article(html, "http://127.0.0.1/flood")


def test_extract_article_refuses_a_paywall_teaser():
    html = news_page(f"<p>{BODY[0]}</p>", f"<p>{BODY[1]}</p>",
                     "<p>You have 80% of this article left to read. Subscribe to continue reading.</p>")

    with pytest.raises(WallError, match="paywall"):
        extract_article(html, "http://127.0.0.1/flood")


def test_extract_article_refuses_a_paywall_page_without_article_text():
    html = news_page("<div class='wall'><p>This article is reserved for subscribers.</p></div>")

    with pytest.raises(WallError, match="paywall"):
        extract_article(html, "http://127.0.0.1/flood")


def test_a_subscribe_banner_beside_a_full_article_is_not_a_wall():
    # Real pages (fundus Postmedia sites) carry this banner next to the whole article.
    html = news_page(before="<div class='promo'><p>THIS CONTENT IS RESERVED FOR SUBSCRIBERS</p></div>")

    assert extract_article(html, "http://127.0.0.1/flood").text == "\n".join(BODY)


def test_extract_article_refuses_a_page_matching_a_configured_wall_pattern():
    html = news_page(before="<div class='gate'>Courier Plus: log in to keep reading</div>")

    with pytest.raises(WallError, match="Courier Plus"):
        extract_article(html, "http://127.0.0.1/flood", DiffSettings(walls=(r"Courier Plus: log in",)))
    assert extract_article(html, "http://127.0.0.1/flood").text == "\n".join(BODY)


def test_the_demo_pages_are_not_walls():
    for slug, index in ALL_VERSIONS:
        extract_article(*page_of(slug, index))


# --------------------------------------------------------------------------- other scripts, more normalisation


def test_extract_article_counts_japanese_characters_as_words():
    body = ["<p>宮崎県で震度5弱の地震があり、高知県と宮崎県に津波注意報が出された。気象庁が発表した。</p>",
            "<p>気象庁によると、震源は日向灘で、地震の規模を示すマグニチュードは6.9と推定される。</p>",
            "<p>宮崎市では午後9時すぎから避難を呼びかけ、多くの住民が高台へ向かった。</p>"]

    page = extract_article(news_page(*body, title="地震"), "http://127.0.0.1/jishin")

    assert page.text.startswith("宮崎県で震度5弱")
    assert count_words(page.text) >= MIN_WORDS


def test_count_words_counts_numbers_and_words_not_punctuation():
    assert count_words("At least 40,000 people - the U.S. said.") == 8  # U and S


TOKENS = r"|\s+|[^\w\s]"  # the word diff's tokens


def assert_read_as_word_reads(text: str) -> None:
    assert WordPattern().findall(text) == re.findall(WORD, text)
    assert WordPattern(TOKENS).findall(text) == re.findall(WORD + TOKENS, text)


@pytest.mark.parametrize("text", [
    "At least 40,000 people - the U.S. said.", "Zürich's café: 3,5 % of Ørsted's 1.5m", "宮崎県で震度5弱の地震",
    "Tokyo東京's 2.5km run", "北緯31.8度、東経131.6度", "emoji 🙂 and ½, ㄅ and ꀀ", "",
])
def test_a_word_pattern_reads_words_as_word_does(text):
    assert_read_as_word_reads(text)


def test_a_text_without_chinese_or_japanese_is_read_without_compiling_their_ranges():
    pattern = WordPattern()
    pattern.findall("Zürich's café: 3,5 % of 1.5m – all ½")

    assert "_whole" not in vars(pattern)
    pattern.findall("震度5弱")
    assert "_whole" in vars(pattern)


def test_a_word_pattern_reads_every_text_of_the_corpus_as_word_does(fundus):
    with open(fundus / "mapping.csv", newline="", encoding="utf-8") as mapping:
        truths = {row["ground_truth_json"] for row in csv.DictReader(mapping)}
    for truth in sorted(truths):
        for article in json.loads((fundus / truth).read_text(encoding="utf-8")).values():
            sections = article["body"]["sections"]
            assert_read_as_word_reads("\n".join(p for section in sections for p in section["paragraphs"]))


@pytest.mark.parametrize(("raw", "normal"), [
    ("Wait\u2026 what?", "Wait... what?"),
    ("\u00abNon,\u00bb dit-il. \u2039oui\u203a", "\"Non,\" dit-il. 'oui'"),
    ("co\u00adoperate", "cooperate"),
    ("2010\u20122020 \u2015 a decade", "2010-2020 - a decade"),
    ("Tokyo\u3000Japan\u2002now", "Tokyo Japan now"),
    ("\ufeffByte order mark", "Byte order mark"),
])
def test_normalize_text_handles_more_typography(raw, normal):
    assert normalize_text(raw) == normal


def test_normalize_text_breaks_lines_at_vertical_tabs_and_form_feeds_as_splitlines_does():
    assert normalize_text("one\vtwo  three\ffour \u2019five\u2019") == "one\ntwo three\nfour 'five'"


def test_visible_text_is_the_body_without_scripts_styles_noscript_or_templates():
    from concurrent.futures import ThreadPoolExecutor

    import lxml.html

    tree = lxml.html.fromstring(
        "<html><head><title>T</title><script>head()</script></head><body>Intro <b>bold</b> tail"
        "<script>var hidden = 1;</script>after script<style>p {}</style><noscript>enable JS<template>x</template>"
        "</noscript>after noscript<!-- a comment -->after comment<div>In <span>div</span></div></body></html>")
    assert visible_text(tree) == "Intro  bold  tail after script after noscript after comment In  div"
    with ThreadPoolExecutor(2) as pool:  # check threads read pages too, each with its own transform
        assert set(pool.map(visible_text, [tree] * 4)) == {visible_text(tree)}
    # the same pieces as asking each text node for a hidden ancestor
    xpath = "//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template)]"
    assert normalize_text(visible_text(tree)) == normalize_text(" ".join(tree.xpath(xpath)))
    fragment = lxml.html.fromstring("<p>a fragment, put in a body by the parser</p>")
    assert visible_text(fragment) == " ".join(fragment.xpath(xpath)) == "a fragment, put in a body by the parser"


# --------------------------------------------------------------------------- the page's language (issue 12)


@pytest.mark.parametrize("html, expected", [
    ("<html lang='de-AT'><body><p>x</p></body></html>", "de"),
    ("<html xml:lang='fr'><body><p>x</p></body></html>", "fr"),
    ("<html><head><meta property='og:locale' content='es_ES'></head><body><p>x</p></body></html>", "es"),
    ("<html><head><meta http-equiv='Content-Language' content='nl'></head><body><p>x</p></body></html>", "nl"),
    ("<html lang=''><body><p>x</p></body></html>", None),
    ("<html lang='not a language'><body><p>x</p></body></html>", None),
])
def test_find_language_reads_what_the_page_declares(html, expected):
    from pipeline.extract import _parse, find_language

    assert find_language(_parse(html, "<test>")) == expected


@pytest.mark.parametrize("text, expected", [
    ("Die Polizei teilte mit, dass die Straße nicht gesperrt wurde und auch der Verkehr von der Baustelle frei ist.",
     "de"),
    ("Le maire a annoncé que les travaux dans le centre seront terminés pour la rentrée, et qui paiera est une "
     "question.", "fr"),
    ("El alcalde dijo que las obras del centro se terminarán antes del verano y que los vecinos fueron informados.",
     "es"),
    ("The mayor said that the works in the centre will be finished by the summer and that it has been paid for.",
     "en"),
    ("Il sindaco ha detto che i lavori nel centro saranno finiti prima dell'estate.", None),
    ("12 000", None),
])
def test_guess_language_needs_a_good_share_of_common_words(text, expected):
    from pipeline.extract import guess_language

    assert guess_language(text) == expected


def test_extract_article_reads_the_pages_language_or_guesses_it():
    german = ("Die Polizei teilte am Montag mit, dass bei dem Brand in der Altstadt niemand verletzt wurde. "
              "Das Feuer war nach Angaben der Feuerwehr in einer Küche ausgebrochen und wurde schnell gelöscht.")
    declared = news_page(f"<p>{german}</p>").replace("lang='en'", "lang='de-DE'")
    undeclared = news_page(f"<p>{german}</p>").replace(" lang='en'", "")

    assert extract_article(declared, "http://127.0.0.1/brand").language == "de"
    assert extract_article(undeclared, "http://127.0.0.1/brand").language == "de"


@pytest.mark.parametrize("line", [
    "Aktualisiert am 3. März 2025, 14:30 Uhr", "Stand: 03.03.2025 14:30 Uhr", "vor 5 Minuten",
    "Mis à jour le 3 mars 2025 à 14h30", "il y a 5 minutes", "Actualizado: 03/03/2025 14:30", "hace 5 minutos",
])
def test_strip_noise_drops_timestamp_lines_in_german_french_and_spanish(line):
    assert strip_noise(f"Die Straße ist frei.\n{line}\nDas sagte die Polizei.") == \
        "Die Straße ist frei.\nDas sagte die Polizei."


# --------------------------------------------------------------------------- dates


def _dated_page(head: str, body: str) -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in [
        "The council approved the new flood barrier on Tuesday after a long debate about its cost to the town.",
        "Engineers said the barrier would protect about 300 homes along the river when it is finished next year.",
        "Residents who spoke at the meeting asked for a second exit road before the work begins in the spring.",
    ])
    return f"<html><head><title>Barrier approved</title>{head}</head><body><article><h1>Barrier approved</h1>" \
           f"{body}{paragraphs}</article></body></html>"


def test_a_publication_date_the_markup_declares_wins_over_one_in_the_text():
    page = extract_article(_dated_page('<meta property="article:published_time" content="2025-03-11T15:48:15+00:00">',
                                       "<p class='note'>First published 2 March 2025.</p>"), "http://127.0.0.1/barrier")

    assert as_datetime(page.published) == datetime.fromisoformat("2025-03-11T15:48:15+00:00")


def test_without_a_declared_date_the_text_is_searched_for_the_publication_date_only():
    page = extract_article(_dated_page("", "<p>Published on March 2, 2025</p>"), "http://127.0.0.1/barrier")

    assert page.published and page.published.startswith("2025-03-02")
    assert page.modified is None  # a modified date must be declared


def test_a_real_page_s_declared_publication_time_is_kept_to_the_second(fundus):
    # Börsen-Zeitung names no date in JSON-LD; searching its text gave midnight, its markup gives the time.
    import gzip

    html = gzip.decompress((fundus / "de/BoersenZeitung_2024_10_23.html.gz").read_bytes())
    page = extract_article(html, "https://www.boersen-zeitung.de/")

    assert as_datetime(page.published) == datetime.fromisoformat("2024-10-23T15:48:15+00:00")
