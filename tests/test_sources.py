"""Tests for pipeline/sources.py: URL canonicalisation and feed / URL-list discovery."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import FeedError, InvalidURLError
from pipeline.models import Entry
from pipeline.sources import (
    canonicalize_url, feed_text, filter_entries, find_canonical_link,
    needs_resolving, parse_feed, parse_sitemap, parse_url_list, read_source, same_site, unwrap_url,
)

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
    # courlan does host, port and punycode; Redline the path's escapes and the query
    ("https://x.example//a//b", "https://x.example/a/b"),
    ("https://xn--mnchen-3ya.example/a", "https://münchen.example/a"),
    ("https://x.example/caf\u00e9", "https://x.example/caf%C3%A9"),
    ("https://x.example/caf%c3%a9/%7Euser/a%2Bb", "https://x.example/caf%C3%A9/~user/a%2Bb"),
    ("https://x.example/a+b@c;d=(1)", "https://x.example/a+b@c;d=(1)"),  # reserved characters stay
    ("https://x.example/a?utm_source=x&igshid=1&_ga=2&mtm_campaign=c&story=5", "https://x.example/a?story=5"),
    ("https://x.example/a?source=rss&uid=9", "https://x.example/a?source=rss&uid=9"),  # these can name the story
    ("https://x.example/a?x=1&amp;b=2", "https://x.example/a?x=1&b=2"),  # feed debris, cleaned by courlan
])
def test_canonicalize_url(url, expected):
    assert canonicalize_url(url) == expected


# What courlan's URL scrubbing looks for (white space, markup, quotes, braces, "&amp;", a second scheme, slashes),
# among the characters of plain URLs.
_TRICKY = st.sampled_from(["/", "//", "&", "&amp;", "a", "x", "xn--", "-", ".", ":", ";", "?", "=", "#", "%2F",
                           "http://", "https://", '"', "'", "<", ">", "<b>", "{", "}", "{x}", " ", "\t", "\n",
                           "\x00", "é", "\u00a0", "[", "]", "|", "~", "1"])


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["http://", "https://", "HTTP://", "ftp://", ""]), st.lists(_TRICKY, max_size=12))
def test_urls_canonicalised_without_courlan_are_those_courlan_leaves_as_they_are(scheme, parts):
    import courlan

    from pipeline.sources import _scrubbed

    url = scheme + "".join(parts)
    assert _scrubbed(url) == courlan.scrub_url(url)


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}(?::[0-9]{1,5})?", fullmatch=True), st.sampled_from(["http", "https"]))
def test_courlan_leaves_a_host_without_punycode_as_it_is(netloc, scheme):
    # (which is why canonicalize_url only asks courlan about hosts with "xn--" labels)
    import courlan
    from urllib.parse import urlsplit, urlunsplit

    try:
        port = urlsplit(f"{scheme}://{netloc}").port
    except ValueError:
        return  # not a port: canonicalize_url refuses such a URL before
    if port in (80, 443):
        return  # a default port is dropped before too
    assert urlsplit(courlan.normalize_url(urlunsplit((scheme, netloc, "", "", "")))).netloc == netloc


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


# read_source + filter_entries (what a poll does) ---------------------------------------------

def test_discover_entries_deduplicates_one_story():
    body = rss_items("https://x.example/story", "https://x.example/story?utm_source=homepage",
                     "https://x.example/other")
    entries = filter_entries(read_source(body, "rss", FEED_URL).entries)
    assert [e.url for e in entries] == ["https://x.example/story", "https://x.example/other"]
    assert entries[0].title == "t0"  # the first mention wins


def test_discover_entries_reads_atom_too():
    assert len(filter_entries(read_source(ATOM, "atom", FEED_URL).entries)) == 2


def test_discover_entries_reads_url_lists():
    body = b"https://x.example/a\nhttps://x.example/a#again\nhttps://x.example/b\n"
    assert [e.url for e in filter_entries(read_source(body, "urls", "https://x.example/list.txt").entries)] == [
        "https://x.example/a", "https://x.example/b"]


# parse_url_list ---------------------------------------------------------------------------

def test_parse_url_list_with_comments_and_blank_lines():
    body = b"""# stories to watch

https://x.example/one?utm_campaign=x
   https://X.example/two/   # trailing comment

/three
# done
"""
    entries = parse_url_list(body, "https://x.example/lists/urls.txt").entries
    assert [e.url for e in entries] == ["https://x.example/one", "https://x.example/two", "https://x.example/three"]
    assert all(e.title is None for e in entries)


@pytest.mark.parametrize("line", ["ftp://x.example/file", "mailto:desk@x.example", "javascript:alert(1)",
                                  "http://[::1/broken"])
def test_parse_url_list_skips_a_line_that_is_no_http_url_and_says_why(line):
    body = f"https://x.example/ok\n{line}\nhttps://x.example/also-ok\n".encode()
    listing = parse_url_list(body, "https://x.example/urls.txt")
    assert [e.url for e in listing.entries] == ["https://x.example/ok", "https://x.example/also-ok"]
    [why] = listing.skipped
    assert why.startswith("line 2 (") and line in why


def test_parse_url_list_rejects_non_utf8():
    with pytest.raises(FeedError, match="UTF-8"):
        parse_url_list(b"https://x.example/\xff\xfe", "list.txt")


@pytest.mark.parametrize("url", ["http://[::1/broken", "http://x.example:99999/"])
def test_canonicalize_url_rejects_what_is_not_a_url_naming_it(url):
    with pytest.raises(InvalidURLError, match="not a readable URL") as caught:
        canonicalize_url(url)
    assert caught.value.url == url


# Wrappers and rel=canonical ---------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("https://www.google.com/url?q=https://x.example/story&sa=D", "https://x.example/story"),
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fx.example%2Fstory&h=AT0", "https://x.example/story"),
    ("https://www.google.com/url?q=javascript:alert(1)", "https://www.google.com/url?q=javascript:alert(1)"),
    ("https://x.example/story", "https://x.example/story"),
])
def test_unwrap_url(url, expected):
    assert unwrap_url(url) == expected


def test_needs_resolving_knows_feedproxy_and_shorteners():
    assert needs_resolving("http://feedproxy.google.com/~r/example/~3/abc/story")
    assert needs_resolving("https://t.co/xyz")
    assert not needs_resolving("https://news.example.org/story")


def test_feedburner_original_link_is_preferred():
    body = b"""<?xml version="1.0"?><rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">
      <channel><title>x</title><item><title>Story</title>
      <link>http://feedproxy.google.com/~r/example/~3/abc/story</link>
      <feedburner:origLink>https://news.example.org/2026/story?utm_source=feedburner</feedburner:origLink>
      </item></channel></rss>"""
    assert [e.url for e in parse_feed(body, FEED_URL)] == ["https://news.example.org/2026/story"]


def test_query_wrappers_are_unwrapped_in_feeds():
    body = rss_items("https://www.google.com/url?q=https://x.example/real&sa=D")
    assert [e.url for e in parse_feed(body, FEED_URL)] == ["https://x.example/real"]


@pytest.mark.parametrize("head, expected", [
    ('<link rel="canonical" href="https://news.example.org/story?utm_source=x">', "https://news.example.org/story"),
    ("<LINK HREF='/story' REL='canonical'>", "https://news.example.org/story"),
    ('<link rel="alternate canonical" href="https://www.example.org/story">', "https://www.example.org/story"),
    ('<link rel="canonical" href="https://news.example.org/">', None),        # the front page: a CMS default
    ('<link rel="canonical" href="https://elsewhere.example/story">', None),  # another site
    ('<link rel="stylesheet" href="/s.css">', None),
    ('<link rel="canonical">', None),
    ('<link rel="canonical" href="javascript:void(0)">', None),
])
def test_find_canonical_link(head, expected):
    page = f"<html><head>{head}</head><body><p>Story</p></body></html>".encode()
    assert find_canonical_link(page, "https://news.example.org/amp/story") == expected


@pytest.mark.parametrize("first, second, same", [
    ("https://news.example.org/a", "https://news.example.org/b", True),
    ("https://news.example.org/a", "https://www.example.org/b", True),  # one registrable domain
    ("https://news.example.org:8443/a", "https://news.example.org/b", True),  # ...whatever the port
    ("https://example.org/a", "https://example.com/a", False),
    ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b", True),  # an address: host and port
    ("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/b", False),
    ("http://localhost:1/a", "http://localhost:1/b", True),
])
def test_same_site(first, second, same):
    assert same_site(first, second) is same


def test_a_canonical_link_on_the_page_s_own_host_is_trusted_without_loading_courlan():
    import subprocess
    import sys

    code = ("import sys; from pipeline.sources import find_canonical_link; "
            "page = b'<link rel=\"canonical\" href=\"https://news.example.org/story?utm_source=x\">'; "
            "print(find_canonical_link(page, 'https://news.example.org/amp/story'), 'courlan' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["https://news.example.org/story", "False"]


def test_feed_text_is_plain():
    assert feed_text("<p>Toll <b>rises</b>&nbsp;to 19 &amp; more</p>\n") == "Toll rises to 19 & more"
    assert feed_text("  ") is None and feed_text(None) is None


def test_titles_and_summaries_from_feeds_are_plain_text():
    title = b"<title>A &lt;b&gt;bold&lt;/b&gt;  move</title>"
    body = rss_items("https://x.example/a").replace(b"<title>t0</title>", title)
    assert parse_feed(body, FEED_URL)[0].title == "A bold move"


def test_rss_entries_have_no_updated_date_unless_the_feed_gives_one():
    assert parse_feed(RSS, FEED_URL)[0].updated is None
    updated = b'<updated xmlns="http://www.w3.org/2005/Atom">2026-11-02T08:00:00Z</updated>'
    body = RSS.replace(b"<pubDate>", updated + b"<pubDate>")
    assert parse_feed(body, FEED_URL)[0].updated == "2026-11-02T08:00:00.000+00:00"


def test_entries_with_unusable_links_are_skipped():
    body = rss_items("javascript:alert(1)", "mailto:desk@x.example", "http://[::1/broken", "https://x.example/ok")
    assert [e.url for e in parse_feed(body, FEED_URL)] == ["https://x.example/ok"]


# Sitemaps --------------------------------------------------------------------------------

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://news.example.org/2026/11/flood-toll?utm_source=sitemap</loc>
    <lastmod>2026-11-01T09:30:00+01:00</lastmod>
    <news:news>
      <news:publication><news:name>Example</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2026-11-01T08:00:00+01:00</news:publication_date>
      <news:title>Flood toll rises &amp; rain goes on</news:title>
    </news:news>
  </url>
  <url><loc>/2026/11/council-vote</loc><lastmod>2026-11-01</lastmod></url>
  <url><loc>ftp://news.example.org/file</loc></url>
  <url><lastmod>2026-11-01</lastmod></url>
</urlset>
"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://news.example.org/sitemap-2026-10.xml</loc><lastmod>2026-10-31</lastmod></sitemap>
  <sitemap><loc>https://news.example.org/sitemap-news.xml</loc><lastmod>2026-11-01T10:00:00Z</lastmod></sitemap>
  <sitemap><loc>/sitemap-2026-09.xml.gz</loc><lastmod>2026-09-30</lastmod></sitemap>
</sitemapindex>
"""
SITEMAP_URL = "https://news.example.org/sitemap.xml"


def test_parse_a_google_news_sitemap():
    found = parse_sitemap(URLSET, SITEMAP_URL)
    assert found.children == ()
    first, second = found.entries
    assert first.url == "https://news.example.org/2026/11/flood-toll"
    assert first.title == "Flood toll rises & rain goes on"
    assert first.published == "2026-11-01T08:00:00+01:00"
    assert first.updated == "2026-11-01T08:30:00.000+00:00"
    assert (second.url, second.title, second.updated) == (
        "https://news.example.org/2026/11/council-vote", None, "2026-11-01T00:00:00.000+00:00")


def test_a_sitemap_index_lists_its_children_newest_first():
    assert parse_sitemap(INDEX, SITEMAP_URL).children == (
        "https://news.example.org/sitemap-news.xml", "https://news.example.org/sitemap-2026-10.xml",
        "https://news.example.org/sitemap-2026-09.xml.gz")


def test_a_sitemap_index_orders_all_its_children_newest_first():
    items = "".join(f"<sitemap><loc>https://x.example/s{i}.xml</loc><lastmod>2026-01-{i + 1:02d}</lastmod></sitemap>"
                    for i in range(25))
    children = parse_sitemap(f"<sitemapindex>{items}</sitemapindex>".encode(), SITEMAP_URL).children
    # How many of them a poll reads is network.sitemap_children's business, not the parser's.
    assert len(children) == 25 and (children[0], children[-1]) == ("https://x.example/s24.xml", "https://x.example/s0.xml")


def test_a_gzipped_sitemap_is_inflated():
    assert len(parse_sitemap(gzip.compress(URLSET), SITEMAP_URL + ".gz").entries) == 2


@pytest.mark.parametrize("body, message", [
    (b"<rss><channel/></rss>", "root element 'rss'"),
    (b"not xml at all", "not a"),
    (b"\x1f\x8b\x08\x00broken", "corrupt gzipped sitemap"),
])
def test_what_is_not_a_sitemap_is_a_feed_error(body, message):
    with pytest.raises(FeedError, match=message) as caught:
        parse_sitemap(body, SITEMAP_URL)
    assert caught.value.location == SITEMAP_URL


def test_a_sitemap_with_entities_does_not_expand_them():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b"<urlset><url><loc>https://x.example/&b;</loc></url></urlset>")
    assert all("aaaaaaaa" not in e.url for e in parse_sitemap(bomb, SITEMAP_URL).entries)


def test_read_source_for_each_kind():
    assert len(read_source(URLSET, "sitemap", SITEMAP_URL).entries) == 2
    assert len(read_source(RSS, "rss", FEED_URL).entries) == 2
    assert read_source(b"https://x.example/a\n", "urls", FEED_URL).entries[0].url == "https://x.example/a"


# Include and exclude ------------------------------------------------------------------------

def test_filter_entries_by_include_and_exclude_patterns():
    entries = [Entry(url=f"https://x.example/{path}") for path in
               ("news/1", "news/video/2", "sport/3", "news/1", "opinion/4")]
    assert [e.url for e in filter_entries(entries, include=("/news/", "/opinion/"), exclude=("/video/",))] == [
        "https://x.example/news/1", "https://x.example/opinion/4"]
    assert len(filter_entries(entries)) == 4  # duplicates always go


def test_an_empty_feed_body_is_a_feed_error_not_a_crash():
    # feedparser's result for it has no "version" at all
    with pytest.raises(FeedError, match="not a readable RSS or Atom feed"):
        parse_feed(b"", FEED_URL)
