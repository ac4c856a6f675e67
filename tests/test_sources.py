"""Tests for pipeline/sources.py: URL canonicalisation and feed / URL-list discovery."""

from __future__ import annotations

import pytest

from pipeline.errors import FeedError
from pipeline.sources import canonicalize_url, discover_entries, parse_feed, parse_url_list

FEED_URL = "https://news.example.org/section/feed.xml"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>Example News</title>
    <link>https://news.example.org/</link>
    <description>Latest</description>
    <item>
      <title>Flood toll rises</title>
      <link>https://News.Example.org/2026/flood-toll/?utm_source=rss&amp;utm_medium=feed#comments</link>
      <description>The toll rose overnight.</description>
      <pubDate>Sun, 01 Nov 2026 08:00:00 GMT</pubDate>
    </item>
    <item>
      <title>Council vote</title>
      <link>/2026/council-vote</link>
    </item>
    <item>
      <title>No link at all</title>
      <description>An item with nothing to follow.</description>
      <guid isPermaLink="false">tag:news.example.org,2026:42</guid>
    </item>
  </channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Example Atom</title>
  <id>urn:example:feed</id>
  <updated>2026-11-01T08:00:00Z</updated>
  <entry>
    <title>Bridge contract</title>
    <id>urn:example:1</id>
    <updated>2026-11-01T08:00:00Z</updated>
    <link rel="alternate" href="https://news.example.org:443/2026/bridge?id=7&amp;fbclid=abc"/>
  </entry>
  <entry>
    <title>Library reopens</title>
    <id>urn:example:2</id>
    <updated>2026-11-01T09:00:00Z</updated>
    <link rel="alternate" href="library-reopens"/>
  </entry>
</feed>
"""


def rss_items(*links: str) -> bytes:
    items = "".join(f"<item><title>t{i}</title><link>{link}</link></item>" for i, link in enumerate(links))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
            f"<link>https://x.example/</link><description>d</description>{items}</channel></rss>").encode()


# canonicalize_url -------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("https://x.example/a?utm_source=tw&utm_medium=social&utm_campaign=c", "https://x.example/a"),
    ("https://x.example/a?fbclid=IwAR0&gclid=EAIa", "https://x.example/a"),
    ("https://x.example/a#section-2", "https://x.example/a"),
    ("http://x.example:80/a", "http://x.example/a"),
    ("https://x.example:443/a", "https://x.example/a"),
    ("https://x.example:8443/a", "https://x.example:8443/a"),
    ("HTTPS://News.EXAMPLE.org/Story", "https://news.example.org/Story"),
    ("https://x.example/a/b/", "https://x.example/a/b"),
    ("https://x.example/", "https://x.example/"),
    ("https://x.example", "https://x.example/"),
    ("  https://x.example/a  ", "https://x.example/a"),
])
def test_canonicalize_url(url, expected):
    assert canonicalize_url(url) == expected


def test_canonicalize_keeps_meaningful_query_params_in_order():
    url = "https://x.example/story.php?id=42&utm_source=x&page=2&lang=en"
    assert canonicalize_url(url) == "https://x.example/story.php?id=42&page=2&lang=en"


def test_canonicalize_is_idempotent():
    once = canonicalize_url("HTTP://X.example:80/a/?b=1&utm_x=2#f")
    assert canonicalize_url(once) == once


def test_canonicalize_keeps_params_that_only_start_like_a_tracking_name():
    assert canonicalize_url("https://x.example/case?reference=C-12") == "https://x.example/case?reference=C-12"


def test_canonicalize_keeps_ipv6_brackets():
    assert canonicalize_url("http://[2001:db8::1]:8080/a") == "http://[2001:db8::1]:8080/a"


# parse_feed -------------------------------------------------------------------------------

def test_parse_rss():
    entries = parse_feed(RSS, FEED_URL)
    assert [(e.url, e.title) for e in entries] == [
        ("https://news.example.org/2026/flood-toll", "Flood toll rises"),
        ("https://news.example.org/2026/council-vote", "Council vote"),
    ]
    assert entries[0].summary == "The toll rose overnight."
    assert entries[0].published == "Sun, 01 Nov 2026 08:00:00 GMT"


def test_parse_atom_resolves_relative_links_against_the_feed_url():
    entries = parse_feed(ATOM, FEED_URL)
    assert [(e.url, e.title) for e in entries] == [
        ("https://news.example.org/2026/bridge?id=7", "Bridge contract"),
        ("https://news.example.org/section/library-reopens", "Library reopens"),
    ]
    assert entries[1].updated == "2026-11-01T09:00:00.000+00:00"  # ISO UTC, as Redline stores times


def test_entry_without_a_link_is_skipped():
    titles = [e.title for e in parse_feed(RSS, FEED_URL)]
    assert "No link at all" not in titles


def test_valid_feed_with_no_items_is_empty():
    assert parse_feed(rss_items(), FEED_URL) == []


@pytest.mark.parametrize("body", [b"<html>nope", bytes(range(256)) * 4, b'{"items": [1]}', b"Not found"])
def test_unreadable_body_raises_feed_error_naming_the_location(body):
    with pytest.raises(FeedError) as caught:
        parse_feed(body, FEED_URL)
    assert caught.value.location == FEED_URL
    assert str(caught.value).startswith(FEED_URL + ":")


def test_well_formed_html_page_is_not_a_feed():
    page = b"<!DOCTYPE html><html><head><title>Moved</title></head><body><p>Our feed moved.</p></body></html>"
    with pytest.raises(FeedError):
        parse_feed(page, FEED_URL)


# discover_entries -------------------------------------------------------------------------

def test_discover_entries_deduplicates_one_story():
    body = rss_items("https://x.example/story", "https://x.example/story?utm_source=homepage",
                     "https://x.example/other")
    entries = discover_entries(body, "rss", FEED_URL)
    assert [e.url for e in entries] == ["https://x.example/story", "https://x.example/other"]
    assert entries[0].title == "t0"  # the first mention wins


def test_discover_entries_reads_atom_too():
    assert len(discover_entries(ATOM, "atom", FEED_URL)) == 2


def test_discover_entries_reads_url_lists():
    body = b"https://x.example/a\nhttps://x.example/a#again\nhttps://x.example/b\n"
    assert [e.url for e in discover_entries(body, "urls", "https://x.example/list.txt")] == [
        "https://x.example/a", "https://x.example/b"]


# parse_url_list ---------------------------------------------------------------------------

def test_parse_url_list_with_comments_and_blank_lines():
    body = b"""# stories to watch

https://x.example/one?utm_campaign=x
   https://X.example/two/   # trailing comment

/three
# done
"""
    entries = parse_url_list(body, "https://x.example/lists/urls.txt")
    assert [e.url for e in entries] == ["https://x.example/one", "https://x.example/two", "https://x.example/three"]
    assert all(e.title is None for e in entries)


@pytest.mark.parametrize("line", ["ftp://x.example/file", "mailto:desk@x.example", "javascript:alert(1)"])
def test_parse_url_list_rejects_non_http_lines(line):
    body = f"https://x.example/ok\n{line}\n".encode()
    with pytest.raises(FeedError, match="not an http") as caught:
        parse_url_list(body, "https://x.example/urls.txt")
    assert caught.value.location == "https://x.example/urls.txt"
    assert line in str(caught.value)


def test_parse_url_list_rejects_non_utf8():
    with pytest.raises(FeedError, match="UTF-8"):
        parse_url_list(b"https://x.example/\xff\xfe", "list.txt")
