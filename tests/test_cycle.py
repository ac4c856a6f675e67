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


# Feeds: revisions and the front of the queue ----------------------------------------------

def atom(site, *items) -> str:
    """An Atom feed of (path, title, summary, updated) items on the site."""
    entries = "".join(
        f"<entry><id>urn:{path}</id><title>{title}</title><link href='{site.url}{path}'/>"
        f"<summary>{summary}</summary>{f'<updated>{updated}</updated>' if updated else ''}</entry>"
        for path, title, summary, updated in items)
    return (f"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Site</title>"
            f"<id>urn:site</id>{entries}</feed>")


def follow_feed(site, make_settings, *items, **sections):
    site.page("/feed.xml", atom(site, *items), kind="application/atom+xml")
    return make_settings(sources=[{"name": "feed", "kind": "atom", "url": site.url + "/feed.xml"}], **sections)


def test_a_feed_that_rewrites_a_headline_records_it_before_the_page_is_fetched(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = follow_feed(site, make_settings, ("/flood", "Flood kills 12", "Rain goes on.", None),
                           alerts=[{"name": "heads", "kinds": ["headline"], "urls": ["json://127.0.0.1:9/sink"]}])
    cycle.poll_source(settings, "feed", NOW)
    check_all(settings)
    site.page("/feed.xml", atom(site, ("/flood", "Flood kills 19", "Rain goes on.", None)))
    later = NOW + timedelta(minutes=5)

    assert cycle.poll_source(settings, "feed", later)["changes"] == 1
    assert cycle.poll_source(settings, "feed", later)["changes"] == 0  # recorded once
    db = storage.open_db(settings.database)
    [change] = storage.list_changes(db, kind="headline")
    assert (change["origin"], change["before"], change["after"]) == ("feed", "Flood kills 12", "Flood kills 19")
    assert change["from_number"] is None and change["detected_at"] == "2026-11-01T12:05:00.000+00:00"
    assert site.hits("/flood") == 1  # the page was not fetched again for it
    article = storage.list_articles(db)[0]
    assert (article.priority, article.next_check_at, article.feed_title) == (1, change["detected_at"], "Flood kills 19")
    assert [a["kind"] for a in storage.pending_alerts(db, 5)] == ["headline"]


def test_a_summary_rewrite_is_a_summary_change(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = follow_feed(site, make_settings, ("/flood", "Flood", "<p>Twelve dead.</p>", None))
    cycle.poll_source(settings, "feed", NOW)
    site.page("/feed.xml", atom(site, ("/flood", "Flood", "<p>Nineteen dead.</p>", None)))
    cycle.poll_source(settings, "feed", NOW)
    db = storage.open_db(settings.database)
    assert [(c["kind"], c["before"], c["after"]) for c in storage.list_changes(db)] == [
        ("summary", "Twelve dead.", "Nineteen dead.")]


def test_an_entry_updated_after_its_last_check_goes_to_the_front_of_the_queue(site, make_settings, story_pages):
    site.page("/a", story_pages[0])
    site.page("/b", story_pages[1])
    first = "2026-11-01T11:00:00Z"
    settings = follow_feed(site, make_settings, ("/a", "A", "a", first), ("/b", "B", "b", first),
                           schedule={"batch_size": 1})
    cycle.poll_source(settings, "feed", NOW)
    check_all(settings)
    half_an_hour = NOW + timedelta(minutes=30)  # both are due again by now
    site.page("/feed.xml", atom(site, ("/a", "A", "a", first), ("/b", "B", "b", "2026-11-01T12:25:00Z")))
    cycle.poll_source(settings, "feed", half_an_hour)
    db = storage.open_db(settings.database)
    ids = {a.canonical_url.rsplit("/", 1)[1]: a.id for a in storage.list_articles(db)}
    # /b was due later than /a (it was bumped just now) but goes first.
    assert cycle.plan_batches(settings, half_an_hour) == [[ids["b"]], [ids["a"]]]


# Lifecycle: gone, failing, redirected --------------------------------------------------------

@pytest.mark.parametrize("status", [404, 410])
def test_a_page_that_disappears_is_gone_and_researchers_see_it(site, make_settings, story_pages, status):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/flood", "removed", status=status, kind="text/plain")
    assert check_all(settings, NOW + timedelta(hours=1)) == {"gone": 1, "changes": 1}
    db = storage.open_db(settings.database)
    [gone] = storage.list_changes(db, kind="gone")
    assert (gone["origin"], gone["after"], gone["url"]) == ("fetch", f"HTTP {status}", site.url + "/flood")
    assert gone["before"] == "Meridian River flood kills at least 12 in Harlow Bay"  # the last headline
    assert storage.list_articles(db)[0].status == "gone"
    assert len(storage.list_versions(db, gone and storage.list_articles(db)[0].id)) == 1  # nothing lost
    assert cycle.plan_batches(settings, NOW + timedelta(days=30), everything=True) == []


def test_a_failing_article_backs_off_and_recovers_by_itself(site, make_settings, story_pages):
    settings = track(site, make_settings, "/flaky", schedule={"jitter": 0})
    site.page("/flaky", "", status=500)
    db = storage.open_db(settings.database)
    now, delays = NOW, []
    for _ in range(5):
        assert check_all(settings, now)["failed"] == 1
        article = storage.list_articles(db)[0]
        due = datetime.fromisoformat(article.next_check_at)
        delays.append((due - now).total_seconds())
        now = due
    assert article.status == "failing" and article.consecutive_failures == 5
    assert delays == [900, 1800, 3600, 7200, 14400]
    site.page("/flaky", story_pages[0])
    assert check_all(settings, now)["new_version"] == 1
    article = storage.list_articles(db)[0]
    assert (article.status, article.consecutive_failures, article.last_error) == ("active", 0, None)


def test_a_redirect_to_a_different_story_is_recorded_not_stored(site, make_settings, story_pages):
    other = next(s for s in load_stories() if s.slug == "council-vote")
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/council", render_article(other.versions[0], other.slug, site.url))
    site.redirect("/flood", "/council")
    assert check_all(settings, NOW + timedelta(hours=1)) == {"redirected": 1, "changes": 1}
    db = storage.open_db(settings.database)
    [change] = storage.list_changes(db, kind="redirected")
    assert (change["before"], change["after"]) == (site.url + "/flood", site.url + "/news/council-vote")
    article = storage.list_articles(db)[0]
    assert article.status == "redirected"
    assert [v.number for v in storage.list_versions(db, article.id)] == [1]


def test_a_story_that_moves_to_a_new_address_is_followed(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/news/flood-toll-19", story_pages[1].replace("http://127.0.0.1/news/flood-toll",
                                                           site.url + "/news/flood-toll-19"))
    site.redirect("/flood", "/news/flood-toll-19")
    assert check_all(settings, NOW + timedelta(hours=1))["new_version"] == 1
    db = storage.open_db(settings.database)
    [article] = storage.list_articles(db)
    assert article.canonical_url == site.url + "/news/flood-toll-19"
    assert [v.number for v in storage.list_versions(db, article.id)] == [1, 2]
    assert [(c["kind"], c["before"]) for c in storage.list_changes(db, kind="url")] == [("url", site.url + "/flood")]
    assert storage.list_aliases(db, article.id)[0]["url"] == site.url + "/flood"
    assert storage.find_article(db, site.url + "/flood").id == article.id
    assert cycle.poll_source(settings, "list", NOW)["new_articles"] == 0  # the list still names the old URL


def test_two_urls_of_one_story_are_tracked_once(site, make_settings, story_pages):
    page = story_pages[0].replace("http://127.0.0.1/news/flood-toll", site.url + "/news/flood-toll")
    site.page("/news/flood-toll", page)
    site.page("/amp/flood-toll", page)
    site.page("/go/123", "", status=302, Location="/news/flood-toll?utm_source=newsletter")
    settings = track(site, make_settings, "/amp/flood-toll", "/news/flood-toll?ref=home", "/go/123")
    counts = check_all(settings)
    assert counts["new_version"] == 1 and counts["duplicate"] == 2
    db = storage.open_db(settings.database)
    [article] = storage.list_articles(db)
    assert article.canonical_url == site.url + "/news/flood-toll"
    assert len(storage.list_versions(db, article.id)) == 1
    assert {a["url"] for a in storage.list_aliases(db, article.id)} == {site.url + "/amp/flood-toll",
                                                                       site.url + "/go/123"}
    assert cycle.poll_source(settings, "list", NOW)["new_articles"] == 0
    assert check_all(settings, NOW + timedelta(hours=1)) == {"unchanged": 1, "changes": 0}


# Politeness, through a whole check ------------------------------------------------------------

def test_robots_txt_keeps_a_check_from_fetching(site, make_settings, story_pages):
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", kind="text/plain")
    site.page("/private/flood", story_pages[0])
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/private/flood", "/flood")
    assert check_all(settings) == {"disallowed": 1, "new_version": 1, "changes": 0}
    assert site.hits("/private/flood") == 0
    db = storage.open_db(settings.database)
    refused = storage.find_article(db, site.url + "/private/flood")
    assert "robots.txt" in refused.last_error and refused.next_check_at > "2026-11-01T12:00"
    assert storage.count_rows(db)["fetches"] == 3  # the list, robots.txt, /flood


def test_robots_can_be_switched_off_per_source(site, make_settings, story_pages):
    site.page("/robots.txt", "User-agent: *\nDisallow: /\n", kind="text/plain")
    site.page("/flood", story_pages[0])
    site.page("/list.txt", site.url + "/flood", kind="text/plain")
    settings = make_settings(sources=[{"name": "list", "kind": "urls", "url": site.url + "/list.txt", "robots": False}])
    cycle.poll_source(settings, "list", NOW)
    assert check_all(settings) == {"new_version": 1, "changes": 0}
    assert site.hits("/robots.txt") == 0


def test_a_throttling_host_defers_the_rest_of_the_batch(site, make_settings, story_pages):
    site.page("/a", "slow down", status=429, kind="text/plain", Retry_After=600)
    site.page("/b", story_pages[0])
    settings = track(site, make_settings, "/a", "/b", network={"allow_private": True, "host_delay": 0,
                                                               "max_connections": 1})
    assert check_all(settings) == {"failed": 1, "deferred": 1, "changes": 0}
    assert site.hits("/b") == 0
    db = storage.open_db(settings.database)
    deferred = storage.find_article(db, site.url + "/b")
    assert deferred.next_check_at >= "2026-11-01T12:10:00" and deferred.checks == 0
    assert storage.find_article(db, site.url + "/a").next_check_at >= "2026-11-01T12:10:00"
    assert check_all(settings, NOW + timedelta(minutes=11)) == {"failed": 1, "new_version": 1, "changes": 0}


def test_one_host_never_gets_more_than_host_connections_at_once(site, make_settings, story_pages):
    paths = [f"/s{i}" for i in range(6)]
    for path in paths:
        site.page(path, story_pages[0])
    settings = track(site, make_settings, *paths, network={"allow_private": True, "host_delay": 0,
                                                           "max_connections": 8, "host_connections": 2})
    site.delay = 0.3
    assert check_all(settings)["new_version"] == 6
    assert site.most_in_flight == 2


def test_a_source_can_have_its_own_ladder(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    site.page("/list.txt", site.url + "/flood", kind="text/plain")
    settings = make_settings(sources=[{"name": "list", "kind": "urls", "url": site.url + "/list.txt",
                                       "ladder": [["1d", "2m"]]}], schedule={"jitter": 0})
    cycle.poll_source(settings, "list", NOW)
    check_all(settings)
    db = storage.open_db(settings.database)
    assert storage.list_articles(db)[0].next_check_at == "2026-11-01T12:02:00.000+00:00"


# Sitemaps --------------------------------------------------------------------------------

def test_a_sitemap_index_with_a_news_sitemap(site, make_settings):
    site.page("/sitemap.xml", f"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <sitemap><loc>{site.url}/news.xml</loc><lastmod>2026-11-01</lastmod></sitemap>
        <sitemap><loc>{site.url}/missing.xml</loc></sitemap></sitemapindex>""", kind="application/xml")
    site.page("/news.xml", f"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
        <url><loc>{site.url}/news/flood</loc><news:news><news:title>Flood</news:title></news:news></url>
        <url><loc>{site.url}/news/video/flood</loc></url>
        <url><loc>{site.url}/sport/match</loc></url></urlset>""", kind="application/xml")
    settings = make_settings(sources=[{"name": "map", "kind": "sitemap", "url": site.url + "/sitemap.xml",
                                       "include": ["/news/"], "exclude": ["/video/"]}])
    result = cycle.poll_source(settings, "map", NOW)
    assert result["new_articles"] == 1
    assert f"{site.url}/missing.xml: HTTP 404" in result["error"]  # one child failed; the rest was read
    db = storage.open_db(settings.database)
    [article] = storage.list_articles(db)
    assert (article.canonical_url, article.feed_title) == (site.url + "/news/flood", "Flood")


def test_a_charset_given_only_in_the_http_header_is_honoured(site, make_settings):
    text = ("Mieszkańcy miasta zebrali się w poniedziałek, aby omówić skutki powodzi. Co najmniej dwanaście "
            "osób zginęło, poinformowały władze. Ratownicy pracowali przez całą noc.")
    page = f"<html><head><title>Powódź</title></head><body><article><p>{text}</p></article></body></html>"
    site.page("/powodz", page.encode("iso-8859-2"), kind="text/html; charset=iso-8859-2")
    settings = track(site, make_settings, "/powodz")
    check_all(settings)
    db = storage.open_db(settings.database)
    [version] = storage.list_versions(db, storage.list_articles(db)[0].id)
    assert version.text == text  # guessed from the bytes alone, it came out as "Mieszkaņcy … poniedziaģek"


def test_conditional_get_for_feeds_and_articles(site, make_settings, story_pages):
    site.page("/flood", story_pages[0], ETag='"v1"')
    settings = follow_feed(site, make_settings, ("/flood", "Flood", "Rain.", None))
    site.page("/feed.xml", atom(site, ("/flood", "Flood", "Rain.", None)), kind="application/atom+xml", ETag='"f1"')
    assert cycle.poll_source(settings, "feed", NOW)["status"] == 200
    assert cycle.poll_source(settings, "feed", NOW)["status"] == 304  # the feed is asked with If-None-Match
    check_all(settings)
    assert check_all(settings, NOW + timedelta(minutes=20)) == {"not_modified": 1, "changes": 0}
    assert site.hits("/flood") == 2 and site.hits("/feed.xml") == 2
    db = storage.open_db(settings.database)
    assert storage.list_articles(db)[0].etag == '"v1"'
