"""Tests for pipeline/robots.py: robots.txt as RFC 9309 reads it."""

from __future__ import annotations

import pytest

from pipeline.robots import ALLOW_ALL, DISALLOW_ALL, parse_robots, product_token

UA = "Redline/0.1 (news revision tracker; +https://example.org/redline)"


def allows(text: str, path: str, agent: str = UA) -> bool:
    return parse_robots(text, agent).allows(path)


def test_product_token():
    assert product_token(UA) == "redline"
    assert product_token("Redline") == "redline"


@pytest.mark.parametrize("path, expected", [
    ("/", True), ("/news/story", True), ("/private", False), ("/private/x", False), ("/privateer", False),
])
def test_disallow_is_a_prefix(path, expected):
    assert allows("User-agent: *\nDisallow: /private", path) is expected


def test_longest_match_wins_and_allow_wins_a_tie():
    text = "User-agent: *\nDisallow: /news/\nAllow: /news/world/\nDisallow: /a\nAllow: /a\n"
    assert not allows(text, "/news/local/1")
    assert allows(text, "/news/world/1")
    assert allows(text, "/a")


@pytest.mark.parametrize("pattern, path, expected", [
    ("/*.pdf$", "/files/report.pdf", False),
    ("/*.pdf$", "/files/report.pdf?x=1", True),
    ("/*?", "/story?utm=1", False),
    ("/*?", "/story", True),
    ("/search*", "/search/results", False),
    ("/$", "/", False),
    ("/$", "/story", True),
])
def test_wildcards_and_end_anchor(pattern, path, expected):
    assert allows(f"User-agent: *\nDisallow: {pattern}", path) is expected


def test_our_own_group_replaces_the_star_group():
    text = "User-agent: *\nDisallow: /\n\nUser-agent: redline\nDisallow: /drafts/\n"
    assert allows(text, "/news/1")
    assert not allows(text, "/drafts/1")
    assert not allows(text, "/news/1", agent="OtherBot/2.0")


def test_groups_naming_us_are_merged_and_agents_are_case_insensitive():
    text = "User-agent: REDLINE\nDisallow: /a\n\nUser-agent: other\nUser-agent: Redline\nDisallow: /b\n"
    assert not allows(text, "/a") and not allows(text, "/b") and allows(text, "/c")


def test_empty_disallow_allows_everything():
    assert allows("User-agent: *\nDisallow:\n", "/anything")


def test_comments_blank_lines_and_junk_are_ignored():
    text = "# hello\n\nUser-agent: * # everyone\nthis is not a rule\nDisallow: /x # no\n<html>\n"
    assert not allows(text, "/x/1") and allows(text, "/y")


def test_rules_before_any_user_agent_are_ignored():
    assert allows("Disallow: /\nUser-agent: *\nDisallow: /x\n", "/y")


def test_percent_encoding_is_compared_alike():
    assert not allows("User-agent: *\nDisallow: /caf%C3%A9/", "/café/menu")
    assert not allows("User-agent: *\nDisallow: /café/", "/caf%C3%A9/menu")


def test_robots_txt_itself_is_always_allowed():
    assert allows("User-agent: *\nDisallow: /", "/robots.txt")
    assert DISALLOW_ALL.allows("https://x.example/robots.txt")


def test_full_urls_are_matched_by_path_and_query():
    assert not allows("User-agent: *\nDisallow: /*?page=", "https://x.example/list?page=2")


def test_crawl_delay_of_our_group():
    rules = parse_robots("User-agent: *\nCrawl-delay: 10\n\nUser-agent: redline\nCrawl-delay: 2.5\n", UA)
    assert rules.crawl_delay == 2.5
    assert parse_robots("User-agent: *\nCrawl-delay: soon\n", UA).crawl_delay is None
    assert parse_robots("User-agent: *\nCrawl-delay: nan\nCrawl-delay: -1\n", UA).crawl_delay is None


def test_allow_all_and_disallow_all():
    assert ALLOW_ALL.allows("/x")
    assert not DISALLOW_ALL.allows("/x")
