"""Tests for pipeline.extract: HTML to clean article text, metadata and notices."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from demo.newsroom import load_stories, render_article
from pipeline.errors import ExtractionError
from pipeline.extract import (
    MIN_WORDS,
    ensure_html,
    extract_article,
    find_notices,
    hash_text,
    normalize_text,
    strip_noise,
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

    page = extract_article(html, url, ignore=(r"^Sponsored content",))

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
