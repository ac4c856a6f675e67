"""Fuzzing the readers of untrusted input: feeds, sitemaps, URL lists, pages, sentences, figures, diffs.

Each input gives a result or one of Redline's own errors, never another exception or a hang. The
inputs are built from the pieces real documents are made of (tags, entities, numbers, odd bytes),
mixed at random. REDLINE_FUZZ_EXAMPLES sets how many per target (default 150; the figures in
docs/reliability.md come from a run with 3000).
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.diff import compare_versions, split_sentences
from pipeline.errors import RedlineError
from pipeline.extract import extract_article
from pipeline.figures import LANGUAGES, compare_figures, find_figures
from pipeline.sources import parse_feed, parse_sitemap, parse_url_list

EXAMPLES = int(os.environ.get("REDLINE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HANG = 30  # seconds one input may take before it counts as a hang (a generous bound, not a speed test)

PIECES = st.sampled_from([
    "<rss version=\"2.0\">", "</rss>", "<channel>", "</channel>", "<item>", "</item>", "<title>", "</title>",
    "<link>", "</link>", "<feed xmlns=\"http://www.w3.org/2005/Atom\">", "</feed>", "<entry>", "</entry>",
    "<link href=\"", "\"/>", "<urlset>", "</urlset>", "<sitemapindex>", "<sitemap>", "<url>", "<loc>", "</loc>",
    "<lastmod>", "2026-11-01T09:30:00+01:00", "</lastmod>", "<![CDATA[", "]]>", "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
    "&a;", "&amp;", "&#0;", "&#x10FFFF;", "<?xml version=\"1.0\" encoding=\"utf-16\"?>", "<html>", "<body>", "<p>",
    "</p>", "<article>", "<h1>", "<script>", "</script>", "<link rel=\"canonical\" href=\"/x\">",
    "https://news.example.org/a", "http://xn--a.com/", "http://[::1/", "ftp://x/", "javascript:alert(1)",
    "At least 40,000 people", " were killed", " $4.5 billion", " 3 in 10", " forty-two", " half a million",
    " between 30 and 40", " 5-4", " 1.200,50", " ½", " 2½", "²", "Dr.", " U.S.", " p.m.", "。", "？", "\n", "\n\n",
    " mindestens", " 2,5 Millionen Euro", " zweiundzwanzig", " 3.", " März", " Mio.", " 34-Jährige", " 14 Uhr",
    " plus de", " 1 200,5", " vingt-deux", " soixante-dix", " 14h30", " de 34 ans", " 1er", " d'euros",
    " al menos", " mil millones", " treinta y dos", " 3 de marzo", " ¿", " ¡", " 1º", " Sra.", " EE.UU.",
    " ", "\t", "\u200b", "\ufeff", "\x00", "\udcff", "é", "日本", "\"", "'", "(", ")", ".", "!", "?",
])
TEXT = st.lists(PIECES, max_size=60).map("".join) | st.text(max_size=400)
BODY = TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")) | st.binary(max_size=600)


@contextmanager
def no_hang():
    def hung(signum, frame):
        raise AssertionError(f"one input took more than {HANG} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def only_own_errors(read, *args):
    with no_hang():
        try:
            return read(*args)
        except RedlineError:
            return None


@FUZZ
@given(BODY)
def test_feed_reader(body):
    entries = only_own_errors(parse_feed, body, "https://news.example.org/feed.xml")
    assert entries is None or all(entry.url.startswith(("http://", "https://")) for entry in entries)


@FUZZ
@given(BODY)
def test_sitemap_reader(body):
    only_own_errors(parse_sitemap, body, "https://news.example.org/sitemap.xml")


@FUZZ
@given(BODY)
def test_url_list_reader(body):
    only_own_errors(parse_url_list, body, "https://news.example.org/list.txt")


@FUZZ
@given(BODY)
def test_extraction(body):
    only_own_errors(extract_article, body, "https://news.example.org/a")


LANGUAGE = st.sampled_from(sorted(LANGUAGES))


@FUZZ
@given(TEXT, LANGUAGE)
def test_sentence_splitting(text, language):
    sentences = only_own_errors(split_sentences, text, language)
    assert all(sentence.strip() for sentence in sentences)


@FUZZ
@given(TEXT, LANGUAGE)
def test_figure_reader(sentence, language):
    only_own_errors(find_figures, sentence, language)


@FUZZ
@given(TEXT, TEXT, LANGUAGE)
def test_figure_comparison(old, new, language):
    only_own_errors(compare_figures, old, new, language)


@FUZZ
@given(TEXT, TEXT)
def test_diff(old, new):
    diff = only_own_errors(compare_versions, old, new)
    assert "".join(text for op, text in diff.ops if op <= 0) == old
    assert "".join(text for op, text in diff.ops if op >= 0) == new


@pytest.mark.parametrize("target", ["feed", "sitemap"])
def test_an_entity_bomb_is_refused_quickly_not_expanded(target):
    bomb = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">' +
            "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) +
            (']><rss version="2.0"><channel><item><title>&i;</title><link>https://x.example/a</link></item></channel></rss>'
             if target == "feed" else ']><urlset><url><loc>https://x.example/&i;</loc></url></urlset>'))
    read = parse_feed if target == "feed" else parse_sitemap
    result = only_own_errors(read, bomb.encode(), "https://x.example/f")
    text = repr(result)
    assert len(text) < 100_000  # a billion a's were never made
