"""The stage functions against real local servers: what a check stores, and what it never loses."""

import dataclasses
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import storage
from demo.newsroom import load_stories, render_article
from pipeline import cycle
from pipeline.diff import compare_versions
from pipeline.extract import EXTRACTOR, hash_text
from pipeline.models import Fetched, to_iso

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


class Site:
    """A tiny web site whose pages (status, content type, body) tests change at will."""

    def __init__(self):
        self.pages: dict[str, tuple[int, str, bytes]] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, kind, body = site.pages.get(self.path, (404, "text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def page(self, path, body, status=200, kind="text/html; charset=utf-8"):
        self.pages[path] = (status, kind, body.encode() if isinstance(body, str) else body)


@pytest.fixture
def site():
    site = Site()
    yield site
    site.server.shutdown()
    site.server.server_close()


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
    assert counts == {"gone": 1, "no_text": 2, "failed": 1, "new_version": 1, "changes": 1}  # gone is a change
    db = storage.open_db(settings.database)
    by_url = {a.canonical_url.rsplit("/", 1)[1]: a for a in storage.list_articles(db)}
    assert by_url["gone"].status == "gone"
    assert "application/pdf" in by_url["pdf"].last_error
    assert "empty body" in by_url["empty"].last_error
    assert by_url["down"].consecutive_failures == 1 and by_url["down"].last_error == "HTTP 503"
    assert storage.count_rows(db)["fetches"] == 1 + 5


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
    assert kinds == ["headline", "modified", "figure"]  # dateModified moved from 05:42 to 09:15
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
    report = cycle.diff_versions(settings, site.url + "/flood")  # and its diff says so
    assert (report.from_number, report.to_number, report.revert_of) == (2, 3, 1)
    assert cycle.diff_versions(settings, site.url + "/flood", 1, 2).revert_of is None


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


def test_an_article_gone_is_a_change_that_alerts_once(site, make_settings, story_pages, newsroom):
    site.page("/flood", story_pages[0])
    sink = f"json://{newsroom.url.split('://', 1)[1]}/_sink"
    settings = track(site, make_settings, "/flood",
                     alerts=[{"name": "gone", "kinds": ["gone"], "sources": ["list"], "urls": [sink]}])
    check_all(settings)
    del site.pages["/flood"]

    assert check_all(settings, NOW + timedelta(minutes=20)) == {"gone": 1, "changes": 1}
    assert check_all(settings, NOW + timedelta(minutes=40)) == {}  # gone articles are not checked again
    counts = cycle.deliver_alerts(settings, NOW + timedelta(minutes=41))

    db = storage.open_db(settings.database)
    (change,) = storage.list_changes(db, kind="gone")
    assert (change["after"], change["context"], change["from_number"]) == ("HTTP 404", "Meridian River flood kills at "
                                                                                      "least 12 in Harlow Bay", None)
    assert (counts["sent"], counts["messages"]) == (1, 1)
    message, = newsroom.received
    assert "gone: HTTP 404" in message["message"] and "/flood" in message["message"]
# --------------------------------------------------------------------------- what makes a version, and what does not

STORY = next(s for s in load_stories() if s.slug == "flood-toll")


def render(**changes):
    """The flood story's first version as HTML, with some fields changed."""
    return render_article(dataclasses.replace(STORY.versions[0], **changes), STORY.slug, "http://127.0.0.1")


def versions(settings):
    db = storage.open_db(settings.database)
    return storage.list_versions(db, storage.list_articles(db)[0].id)


def the_article(settings):
    db = storage.open_db(settings.database)
    return storage.list_articles(db)[0]


def test_a_change_that_is_only_noise_makes_no_version_but_the_fetch_is_logged(site, make_settings):
    paragraphs = STORY.versions[0].paragraphs
    site.page("/flood", render(paragraphs=("Updated 2 hours ago", *paragraphs, "Advertisement")))
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/flood", render(paragraphs=("Updated 3 hours ago", *paragraphs)))
    assert check_all(settings) == {"unchanged": 1, "changes": 0}
    db = storage.open_db(settings.database)
    assert storage.count_rows(db)["versions"] == 1
    assert storage.count_rows(db)["fetches"] == 1 + 2


def test_a_source_s_own_ignore_patterns_apply_to_its_articles(site, make_settings):
    paragraphs = STORY.versions[0].paragraphs
    site.page("/flood", render(paragraphs=(*paragraphs, "Courier Deals: 20% off garden furniture this week")))
    site.page("/list.txt", site.url + "/flood", kind="text/plain")
    settings = make_settings(sources=[{"name": "list", "kind": "urls", "url": site.url + "/list.txt",
                                       "ignore": ["^Courier Deals:"]}])
    cycle.poll_source(settings, "list", NOW)
    check_all(settings)
    site.page("/flood", render(paragraphs=(*paragraphs, "Courier Deals: 30% off barbecues today")))
    assert check_all(settings) == {"unchanged": 1, "changes": 0}
    [version] = versions(settings)
    assert "Courier Deals" not in version.text
    assert version.extractor.startswith(EXTRACTOR + "; ignore ")


def test_a_wall_makes_no_version_and_keeps_what_is_stored(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/flood", "<html><head><title>Before you continue</title></head><body><p>Before you continue to "
                        "Google, we use cookies.</p><button>Accept all</button></body></html>")
    assert check_all(settings) == {"wall": 1, "changes": 0}
    assert "consent wall" in the_article(settings).last_error
    [version] = versions(settings)
    assert "at least 12 people were killed" in version.text


def test_a_configured_wall_pattern_makes_no_version(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood", diff={"walls": ["Harlow Bay Courier"]})
    assert check_all(settings) == {"wall": 1, "changes": 0}
    assert versions(settings) == []


def teaser():
    return render(paragraphs=STORY.versions[0].paragraphs[:1])


def test_a_collapsed_text_is_held_as_suspect_then_confirmed_by_the_next_check(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/flood", teaser())
    held = check_all(settings, NOW + timedelta(minutes=20))
    assert held == {"suspect": 1, "changes": 0}
    assert len(versions(settings)) == 1
    assert the_article(settings).suspect_hash
    # The same bytes again: the body hash of the suspect page was not kept, so it is read and confirmed.
    assert check_all(settings, NOW + timedelta(minutes=40))["new_version"] == 1
    assert [v.number for v in versions(settings)] == [1, 2]
    assert the_article(settings).suspect_hash is None


def test_a_collapse_that_goes_away_leaves_no_version(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/flood", teaser())
    assert check_all(settings)["suspect"] == 1
    site.page("/flood", story_pages[0])
    assert check_all(settings)["unchanged"] == 1
    assert the_article(settings).suspect_hash is None
    site.page("/flood", teaser())  # a later collapse starts over: held again, not confirmed at once
    assert check_all(settings)["suspect"] == 1
    assert len(versions(settings)) == 1


def test_shrink_zero_turns_the_suspect_rule_off(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood", diff={"shrink": 0})
    check_all(settings)
    site.page("/flood", teaser())
    assert check_all(settings)["new_version"] == 1


def test_a_headline_only_change_is_not_a_revert_but_its_return_is(site, make_settings):
    site.page("/flood", render())
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    for title in ("Meridian River flood: at least 12 dead", STORY.versions[0].title):
        site.page("/flood", render(title=title))
        check_all(settings)
    assert [(v.number, v.revert_of) for v in versions(settings)] == [(1, None), (2, None), (3, 1)]


def test_the_stored_diff_says_whether_the_edit_was_disclosed(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    site.page("/flood", story_pages[1])
    check_all(settings)
    site.page("/flood", render(paragraphs=(STORY.versions[0].paragraphs[0].replace("Tuesday", "Monday"),
                                           *STORY.versions[0].paragraphs[1:]), modified=STORY.versions[1].modified,
                               title=STORY.versions[1].title))
    check_all(settings)
    db = storage.open_db(settings.database)
    disclosed = storage.get_diff(db, the_article(settings).id, 2)
    assert disclosed["disclosed"]
    assert disclosed["disclosures"] == ["update banner: Updated 11 March 2025, 09:15 UTC",
                                        "dateModified: 2025-03-11T05:42:00+00:00 -> 2025-03-11T09:15:00+00:00"]
    stealth = storage.get_diff(db, the_article(settings).id, 3)
    assert (stealth["disclosed"], stealth["disclosures"]) == (False, [])
    assert [c["disclosed"] for c in storage.list_changes(db, kind="figure")] == [1, 0]  # 12→19, then 19→12
    stealth, = storage.list_changes(db, kind="stealth_edit")
    assert (stealth["to_number"], stealth["after"]) == (3, "changed without notice: 1 sentence(s) edited")
    assert "on Monday" in stealth["context"]


# --------------------------------------------------------------------------- extractor drift

OLD_EXTRACTOR = "trafilatura 1.0; redline rules 1"


def pretend_an_old_extractor_read_it(db, article_id, number, artefact="Share this story"):
    """Rewrite a stored version as an older extractor would have read it: one boilerplate line more."""
    db.execute("UPDATE versions SET text = text || ?, extractor = ? WHERE article_id = ? AND number = ?",
               ["\n" + artefact, OLD_EXTRACTOR, article_id, number])
    db.conn.commit()


def test_a_difference_made_only_by_a_new_extractor_makes_no_version(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    db = storage.open_db(settings.database)
    pretend_an_old_extractor_read_it(db, the_article(settings).id, 1)
    site.page("/flood", story_pages[0].replace("<main", "<!-- ad slot 7 --><main"))  # new bytes, same story
    assert check_all(settings) == {"extractor_drift": 1, "changes": 0}
    assert len(versions(settings)) == 1


def test_a_real_edit_after_an_extractor_change_is_diffed_against_the_page_read_again(site, make_settings,
                                                                                       story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    db = storage.open_db(settings.database)
    pretend_an_old_extractor_read_it(db, the_article(settings).id, 1)
    site.page("/flood", story_pages[1])
    assert check_all(settings)["new_version"] == 1
    kinds = [c["kind"] for c in storage.list_changes(db, article_id=the_article(settings).id)]
    assert kinds == ["headline", "modified", "figure"]  # no sentence_removed for the old extractor's artefact
    report = cycle.diff_versions(settings, site.url + "/flood")
    assert OLD_EXTRACTOR in report.note and [c.kind for c in report.diff.changes] == kinds


def test_reextract_flags_a_version_that_only_an_old_extractor_made(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    db = storage.open_db(settings.database)
    article = the_article(settings)
    v1 = versions(settings)[0]
    # v2 as an old extractor stored it: the same story, plus a widget line it failed to drop.
    drifted = dataclasses.replace(v1, number=2, text=v1.text + "\nShare this story", extractor=OLD_EXTRACTOR,
                                  text_hash=hash_text(v1.text + "\nShare this story"), fetched_at=to_iso(NOW))
    raw = story_pages[0].replace("<main", "<!-- ad slot 7 --><main").encode()
    fetched = Fetched(site.url + "/flood", site.url + "/flood", 200, NOW, 1, raw)
    storage.record_version(db, drifted, raw, fetched, {}, diff=compare_versions(v1.text, drifted.text))
    assert [c["kind"] for c in storage.list_changes(db)] == ["sentence_added"]

    results = cycle.reextract(settings, now=NOW)

    assert [(r["number"], r["status"], r["drift_only"]) for r in results] == [(1, "same", False),
                                                                              (2, "differs", True)]
    assert storage.list_changes(db) == []  # the drift's changes are no longer reported as edits
    assert storage.get_diff(db, article.id, 2)["extractor_drift"]
    rows = db.execute("SELECT version_number, stored_extractor, drift_only FROM reextractions "
                      "ORDER BY version_number").fetchall()
    assert rows == [(1, EXTRACTOR, 0), (2, OLD_EXTRACTOR, 1)]
    assert cycle.reextract(settings, site.url + "/flood", NOW) == results  # idempotent, one row per version
    assert db.execute("SELECT count(*) FROM reextractions").fetchone()[0] == 2


def test_reextract_reports_a_missing_page_and_goes_on(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    site.page("/bridge", render_article(load_stories()[2].versions[0], "bridge", "http://127.0.0.1"))
    settings = track(site, make_settings, "/flood", "/bridge")
    check_all(settings)
    db = storage.open_db(settings.database)
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("DELETE FROM blobs WHERE hash = (SELECT raw_blob FROM versions WHERE article_id = 1)")
    db.conn.commit()

    results = cycle.reextract(settings, now=NOW)

    assert [(r["status"], bool(r["error"])) for r in results] == [("failed", True), ("same", False)]
    assert "not in the database" in results[0]["error"]
