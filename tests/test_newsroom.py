"""Tests for the demo newsroom server."""

from __future__ import annotations

import html
import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime

import pytest

from demo.newsroom import Newsroom, StoryVersion, load_stories, render_article

SLUGS = {
    "flood-toll",
    "council-vote",
    "bridge-contract",
    "mayor-interview",
    "library-reopens",
    "wildfire-evacuations",
}


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    """Run a newsroom on a free port for one test."""
    with Newsroom(port=0) as room:
        yield room


def fetch(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, dict, bytes]:
    """Request url and return (status, headers, body) without raising on HTTP errors."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post_json(url: str, payload: object) -> tuple[int, object]:
    """POST a JSON body and decode the JSON answer."""
    status, _, body = fetch(url, {"Content-Type": "application/json"}, json.dumps(payload).encode())
    return status, json.loads(body)


def test_stories_have_expected_shape() -> None:
    stories = {story.slug: story for story in load_stories()}
    assert set(stories) == SLUGS
    for story in stories.values():
        expected = (1, 1) if story.slug == "library-reopens" else (3, 6)
        assert expected[0] <= len(story.versions) <= expected[1]
        modified = [datetime.fromisoformat(v.modified) for v in story.versions]
        assert modified == sorted(modified)
        assert len({v.published for v in story.versions}) == 1
        for version in story.versions:
            assert 5 <= len(version.paragraphs) <= 9


def test_feed_lists_all_stories(newsroom: Newsroom) -> None:
    status, headers, body = fetch(f"{newsroom.url}/feed.xml")
    assert status == 200
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    items = ET.fromstring(body).findall("./channel/item")
    assert {item.findtext("guid") for item in items} == SLUGS
    links = {item.findtext("guid"): item.findtext("link") for item in items}
    tracked = {slug for slug, link in links.items() if "utm_source=rss" in link}
    assert len(tracked) == 2
    for slug, link in links.items():
        assert link.split("?")[0] == f"{newsroom.url}/news/{slug}"


def test_story_page_contains_title_and_paragraphs(newsroom: Newsroom) -> None:
    status, headers, body = fetch(f"{newsroom.url}/news/flood-toll")
    page = body.decode("utf-8")
    version = load_stories()[0].versions[0]
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert f"<h1 itemprop=\"headline\">{html.escape(version.title)}</h1>" in page
    assert f'<link rel="canonical" href="{newsroom.url}/news/flood-toll">' in page
    for paragraph in version.paragraphs:
        assert f"<p>{html.escape(paragraph)}</p>" in page


def test_tracking_query_still_serves_story(newsroom: Newsroom) -> None:
    status, _, _ = fetch(f"{newsroom.url}/news/council-vote?utm_source=rss&utm_medium=feed")
    assert status == 200


@pytest.mark.parametrize("path", ["/feed.xml", "/news/library-reopens"])
def test_if_none_match_returns_304(newsroom: Newsroom, path: str) -> None:
    _, headers, _ = fetch(newsroom.url + path)
    status, again, body = fetch(newsroom.url + path, {"If-None-Match": headers["ETag"]})
    assert status == 304
    assert body == b""
    assert again["ETag"] == headers["ETag"]


def test_if_modified_since(newsroom: Newsroom) -> None:
    url = f"{newsroom.url}/news/bridge-contract"
    _, headers, _ = fetch(url)
    assert fetch(url, {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert fetch(url, {"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})[0] == 200


def test_advance_changes_flood_toll_figure(newsroom: Newsroom) -> None:
    url = f"{newsroom.url}/news/flood-toll"
    _, headers, body = fetch(url)
    assert b"at least 12 people were killed" in body
    status, answer = post_json(f"{newsroom.url}/_control/advance", {})
    assert (status, answer) == (200, {"round": 1})
    status, _, body = fetch(url, {"If-None-Match": headers["ETag"]})
    assert status == 200
    assert b"at least 19 people were killed" in body
    assert b"at least 12 people were killed" not in body


def test_advance_stays_at_last_version_and_reset_rewinds(newsroom: Newsroom) -> None:
    for _ in range(10):
        newsroom.advance()
    state = json.loads(fetch(f"{newsroom.url}/_control/state")[2])
    assert state["round"] == 10
    assert state["stories"]["flood-toll"] == 4
    assert state["stories"]["library-reopens"] == 1
    assert b"at least 31 people were killed" in fetch(f"{newsroom.url}/news/flood-toll")[2]
    assert post_json(f"{newsroom.url}/_control/reset", {}) == (200, {"round": 0})
    assert set(newsroom.state()["stories"].values()) == {1}


def test_unchanged_story_keeps_etag_across_rounds(newsroom: Newsroom) -> None:
    url = f"{newsroom.url}/news/library-reopens"
    etag = fetch(url)[1]["ETag"]
    newsroom.advance()
    assert fetch(url, {"If-None-Match": etag})[0] == 304


def test_sink_records_post(newsroom: Newsroom) -> None:
    alert = {"title": "Story changed", "message": "flood-toll: 12 -> 19", "type": "info"}
    assert post_json(f"{newsroom.url}/_sink", alert) == (200, {"ok": True})
    assert newsroom.received == [alert]
    assert json.loads(fetch(f"{newsroom.url}/_sink")[2]) == [alert]


def test_sink_rejects_invalid_json(newsroom: Newsroom) -> None:
    status, _, _ = fetch(f"{newsroom.url}/_sink", {"Content-Type": "application/json"}, b"{not json")
    assert status == 400
    assert newsroom.received == []


@pytest.mark.parametrize("path", ["/nope", "/news/no-such-story", "/feed.rss"])
def test_unknown_path_is_404(newsroom: Newsroom, path: str) -> None:
    status, headers, _ = fetch(newsroom.url + path)
    assert status == 404
    assert headers["Content-Type"].startswith("text/plain")


def test_render_article_escapes_text() -> None:
    version = load_stories()[0].versions[0]
    hostile = StoryVersion(
        title="<script>alert(1)</script>",
        byline="A & B",
        published=version.published,
        modified=version.modified,
        paragraphs=("x </script><b>y</b>",) * 5,
    )
    page = render_article(hostile, "flood-toll", "http://example.test")
    assert "<script>alert(1)</script>" not in page
    assert "<b>y</b>" not in page
    assert "A &amp; B" in page


def test_advance_every_publishes_on_a_timer_until_stopped(newsroom: Newsroom) -> None:
    import threading

    from demo.newsroom import advance_every

    stop = threading.Event()
    thread = advance_every(newsroom, 0.01, stop)
    for _ in range(500):  # bounded: at most 5 s on a loaded machine, usually a few ms
        if newsroom.round >= 2:
            break
        threading.Event().wait(0.01)
    stop.set()
    thread.join(timeout=5)
    assert newsroom.round >= 2 and not thread.is_alive()
