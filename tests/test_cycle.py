"""The stage functions against real local servers: what a check stores, and what it never loses."""

from datetime import datetime, timedelta, timezone

import pytest

import storage
from demo.newsroom import load_stories, render_article
from pipeline import cycle

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def story_pages():
    """The flood story's versions as HTML, rendered by the demo newsroom."""
    story = next(s for s in load_stories() if s.slug == "flood-toll")
    return [render_article(version, story.slug, "http://127.0.0.1") for version in story.versions]


def track(site, make_settings, *paths, **sections):
    """Settings whose URL-list source names these paths of the site, polled once."""
    site.page("/list.txt", "\n".join(site.url + p for p in paths), kind="text/plain")
    settings = make_settings(sources=[{"name": "list", "kind": "urls", "url": site.url + "/list.txt"}], **sections)
    assert cycle.poll_source(settings, "list", NOW)["new_articles"] == len(paths)
    return settings


def check_all(settings, now=NOW):
    return cycle.sum_counts([cycle.check_batch(settings, batch, now)
                             for batch in cycle.plan_batches(settings, now, everything=True)])


def test_a_failing_article_never_stops_its_batch(site, make_settings, story_pages):
    site.page("/good", story_pages[0])
    site.page("/pdf", b"%PDF-1.7 binary", kind="application/pdf")
    site.page("/empty", "")
    settings = track(site, make_settings, "/gone", "/pdf", "/empty", "/good", "/down")
    site.page("/down", "", status=503)
    counts = check_all(settings)
    # The PDF is refused on its declared type, before its body is read: a failed fetch.
    assert counts == {"gone": 1, "no_text": 1, "failed": 2, "new_version": 1, "changes": 1}
    db = storage.open_db(settings.database)
    by_url = {a.canonical_url.rsplit("/", 1)[1]: a for a in storage.list_articles(db)}
    assert by_url["gone"].status == "gone"
    assert "application/pdf" in by_url["pdf"].last_error
    assert "empty body" in by_url["empty"].last_error
    assert by_url["down"].consecutive_failures == 1 and by_url["down"].last_error == "HTTP 503"
    assert storage.count_rows(db)["fetches"] == 1 + 1 + 5  # the list, robots.txt (once), the articles


def test_a_new_text_makes_a_version_with_its_diff_and_changes(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/flood", story_pages[1])
    assert check_all(settings, NOW + timedelta(minutes=20))["new_version"] == 1
    db = storage.open_db(settings.database)
    article = storage.list_articles(db)[0]
    assert [v.number for v in storage.list_versions(db, article.id)] == [1, 2]
    kinds = [c["kind"] for c in storage.list_changes(db, article_id=article.id)]
    assert kinds == ["headline", "figure"]
    assert article.last_changed_at.startswith("2026-11-01T12:20")


def test_an_unchanged_page_costs_one_request_and_no_version(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    assert check_all(settings) == {"unchanged": 1, "changes": 0}
    db = storage.open_db(settings.database)
    assert storage.count_rows(db)["versions"] == 1


def test_a_page_that_breaks_keeps_every_stored_version(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/flood", "<html><body><p>Subscribe to read.</p></body></html>")
    assert check_all(settings)["no_text"] == 1
    site.page("/flood", "", status=500)
    assert check_all(settings)["failed"] == 1
    db = storage.open_db(settings.database)
    [version] = storage.list_versions(db, storage.list_articles(db)[0].id)
    assert "at least 12 people were killed" in version.text


def test_a_text_that_returns_to_an_earlier_version_is_a_revert(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    for page in (story_pages[1], story_pages[0]):
        check_all(settings)
        site.page("/flood", page)
    check_all(settings)
    db = storage.open_db(settings.database)
    versions = storage.list_versions(db, storage.list_articles(db)[0].id)
    assert [(v.number, v.revert_of) for v in versions] == [(1, None), (2, None), (3, 1)]


def test_due_articles_are_claimed_once(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    assert cycle.plan_batches(settings, NOW) == [[1]]
    assert cycle.plan_batches(settings, NOW) == []  # leased by the first run
    assert cycle.plan_batches(settings, NOW + timedelta(hours=1)) == [[1]]  # the lease ran out


def test_batches_hold_at_most_batch_size_articles(site, make_settings, story_pages):
    paths = [f"/a{i}" for i in range(7)]
    settings = track(site, make_settings, *paths, schedule={"batch_size": 3})
    assert [len(b) for b in cycle.plan_batches(settings, NOW)] == [3, 3, 1]


def test_an_unreachable_source_is_recorded_and_the_cycle_goes_on(make_settings):
    settings = make_settings(sources=[{"name": "dead", "kind": "rss", "url": "http://127.0.0.1:9/feed.xml"}])
    summary = cycle.run_cycle(settings, NOW)
    assert summary["polls"][0]["error"]
    db = storage.open_db(settings.database)
    assert storage.get_source(db, "dead")["last_error"]


def test_a_retired_article_is_no_longer_due(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    a_year_later = NOW + timedelta(days=400)
    check_all(settings, a_year_later)
    db = storage.open_db(settings.database)
    assert storage.list_articles(db)[0].status == "retired"
    assert cycle.plan_batches(settings, a_year_later + timedelta(days=1), everything=True) == []
