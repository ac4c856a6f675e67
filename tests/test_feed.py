"""Tests for pipeline/feed.py: the Atom feed of detected changes carries article text as text."""

from __future__ import annotations

from datetime import datetime, timezone
from xml.etree import ElementTree

from pipeline.feed import ATOM, render_feed
from pipeline.models import StoredChange

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
HOSTILE = "Flood <img src=x onerror=alert(1)> & ]]> kills \"19\" \x1b[31m"


def change(**values) -> StoredChange:
    defaults = dict(id=1, article_id=7, url="https://news.example.org/a?b=1&c=<2>", kind="figure",
                    before="at least 12", after="at least 19", detected_at="2026-11-01T11:00:00.000+00:00",
                    article_title=HOSTILE, context=f"{HOSTILE} in the flood.", subject="people killed",
                    detail="value", delta=7.0, from_number=1, to_number=2, source="<Wire>")
    return StoredChange(**{**defaults, **values})


def test_article_text_reaches_a_feed_reader_as_text_never_as_markup():
    document = render_feed([change(), change(id=2, kind="headline", before=HOSTILE, after=HOSTILE + "!")], NOW)

    root = ElementTree.fromstring(document)  # well-formed whatever the text held
    [entry] = root.findall(f"{{{ATOM}}}entry")
    title = entry.find(f"{{{ATOM}}}title").text
    content = entry.find(f"{{{ATOM}}}content")
    assert title.startswith(HOSTILE.replace("\x1b", "")[:5]) and "<img" in title  # the text itself, intact
    assert content.get("type") == "text" and "<img src=x onerror=alert(1)>" in content.text
    assert b"<img" not in document  # escaped in the bytes: no reader can take it for markup
    assert "source: <Wire>" in content.text


def test_a_feed_of_no_changes_is_a_valid_empty_feed():
    root = ElementTree.fromstring(render_feed([], NOW, source="Wire", self_url="https://r.example/feed.xml"))
    assert root.find(f"{{{ATOM}}}updated").text == "2026-11-01T12:00:00.000+00:00"
    assert root.findall(f"{{{ATOM}}}entry") == []


def test_each_entry_links_its_diff_page_in_the_workspace():
    root = ElementTree.fromstring(render_feed([change()], NOW, base_url="https://redline.example"))
    [entry] = root.findall(f"{{{ATOM}}}entry")
    related = [link.get("href") for link in entry.findall(f"{{{ATOM}}}link") if link.get("rel") == "related"]
    assert related == ["https://redline.example/articles/7/diff?from=1&to=2"]
    plain = ElementTree.fromstring(render_feed([change()], NOW)).find(f"{{{ATOM}}}entry")
    assert [link.get("rel") for link in plain.findall(f"{{{ATOM}}}link")] == ["alternate"]
