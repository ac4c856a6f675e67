"""The stage functions against real local servers: what a check stores, and what it never loses."""

import dataclasses
import os
from datetime import datetime, timedelta, timezone

import pytest

import storage
from demo.newsroom import load_stories, render_article
from pipeline import cycle
from pipeline.diff import compare_versions
from pipeline.extract import describe_extractor, hash_text
from pipeline.models import Fetched, to_iso

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
    settings = track(site, make_settings, "/gone", "/pdf", "/empty", "/good", "/down", schedule={"gone_after": 1})
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
    kinds = [c.kind for c in storage.list_changes(db, article_id=article.id)]
    assert kinds == ["headline", "modified", "figure"]  # dateModified moved from 05:42 to 09:15
    assert article.last_changed_at.startswith("2026-11-01T12:20")


GERMAN = ("Die Polizei teilte am Dienstag mit, dass bei dem Hochwasser mindestens 12 Menschen ums Leben kamen.",
          "Der Schaden wird auf 2,5 Millionen Euro geschätzt, sagte ein Sprecher der Stadt am 3. März.",
          "Die Feuerwehr war mit rund 300 Einsatzkräften vor Ort und pumpte die Keller der Altstadt leer.")


def german_page(*paragraphs):
    return render(title="Hochwasser in der Altstadt", paragraphs=paragraphs).replace('<html lang="en">',
                                                                                      '<html lang="de-DE">')


def test_a_page_is_read_in_the_language_it_declares(site, make_settings):
    site.page("/hochwasser", german_page(*GERMAN))
    settings = track(site, make_settings, "/hochwasser")  # [diff] language stays "en"
    check_all(settings)
    site.page("/hochwasser", german_page(GERMAN[0].replace("12", "19"), GERMAN[1].replace("2,5", "3,1"), GERMAN[2]))
    check_all(settings, NOW + timedelta(minutes=20))

    db = storage.open_db(settings.database)
    figures = [(c.before, c.after, c.subject) for c in storage.list_changes(db, kind="figure")]
    assert figures == [("mindestens 12", "mindestens 19", "menschen"),
                       ("2,5 Millionen Euro", "3,1 Millionen Euro", "schaden")]
    assert [c.kind for c in storage.list_changes(db)] == ["figure", "figure", "stealth_edit"]


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
    assert storage.get_source(db, "dead").last_error


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
    settings = track(site, make_settings, "/flood", schedule={"gone_after": 1},
                     alerts=[{"name": "gone", "kinds": ["gone"], "sources": ["list"], "urls": [sink]}])
    check_all(settings)
    del site.pages["/flood"]

    assert check_all(settings, NOW + timedelta(minutes=20)) == {"gone": 1, "changes": 1}
    assert check_all(settings, NOW + timedelta(minutes=40)) == {}  # gone articles are not checked again
    counts = cycle.deliver_alerts(settings, NOW + timedelta(minutes=41))

    db = storage.open_db(settings.database)
    (change,) = storage.list_changes(db, kind="gone")
    assert (change.before, change.after, change.from_number) == (
        "Meridian River flood kills at least 12 in Harlow Bay", "HTTP 404", None)
    assert (counts["sent"], counts["messages"]) == (1, 1)
    message, = newsroom.received
    assert "gone: Meridian River flood kills at least 12 in Harlow Bay → HTTP 404" in message["message"]
    assert "/flood" in message["message"]
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
    assert storage.count_rows(db)["fetches"] == 1 + 1 + 2  # the URL list, robots.txt, two checks


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
    assert version.extractor.startswith(describe_extractor() + "; ignore ")


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


def test_the_stored_diff_says_whether_the_edit_was_disclosed_bumped_or_stealth(site, make_settings, story_pages):
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
    bumped = storage.get_diff(db, the_article(settings).id, 2)  # a banner and a date: that, not what, it changed
    assert (bumped.disclosed, bumped.bumped) == (False, True)
    assert bumped.disclosures == ("update banner: Updated 11 March 2025, 09:15 UTC",
                                  "dateModified: 2025-03-11T05:42:00+00:00 -> 2025-03-11T09:15:00+00:00")
    stealth = storage.get_diff(db, the_article(settings).id, 3)
    assert (stealth.disclosed, stealth.bumped, stealth.disclosures) == (False, False, ())
    figures = storage.list_changes(db, kind="figure")  # 12→19, then 19→12
    assert [(c.bumped, c.stealth) for c in figures] == [(True, False), (False, True)]
    stealth, = storage.list_changes(db, kind="stealth_edit")
    assert (stealth.to_number, stealth.after) == (3, "changed without notice: 1 sentence(s) edited")
    assert "on Monday" in stealth.context


# --------------------------------------------------------------------------- extractor drift

OLD_EXTRACTOR = "trafilatura 1.0; redline rules 1"


def pretend_an_old_extractor_read_it(db, article_id, number, artefact="Share this story"):
    """Rewrite a stored version as an older extractor would have read it: one boilerplate line more."""
    # (stored plain, as a text before migration 12: the view version_texts reads the packed text)
    db.execute("UPDATE versions SET text = (SELECT t.text FROM version_texts t WHERE t.id = versions.id) || ?, "
               "text_base = NULL, extractor = ? WHERE article_id = ? AND number = ?",
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
    kinds = [c.kind for c in storage.list_changes(db, article_id=the_article(settings).id)]
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
    storage.record_version(db, drifted, raw, fetched, article, diff=compare_versions(v1.text, drifted.text))
    assert [c.kind for c in storage.list_changes(db)] == ["sentence_added"]

    results = cycle.reextract(settings, now=NOW)

    assert [(r.number, r.status, r.drift_only) for r in results] == [(1, "same", False),
                                                                              (2, "differs", True)]
    assert storage.list_changes(db) == []  # the drift's changes are no longer reported as edits
    assert storage.get_diff(db, article.id, 2).extractor_drift
    rows = db.execute("SELECT version_number, stored_extractor, drift_only FROM reextractions "
                      "ORDER BY version_number").fetchall()
    assert rows == [(1, describe_extractor(), 0), (2, OLD_EXTRACTOR, 1)]
    assert cycle.reextract(settings, site.url + "/flood", NOW) == results  # idempotent, one row per version
    assert db.execute("SELECT count(*) FROM reextractions").fetchone()[0] == 2


def test_reextract_reports_a_missing_page_and_goes_on(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    site.page("/bridge", render_article(load_stories()[2].versions[0], "bridge", "http://127.0.0.1"))
    settings = track(site, make_settings, "/flood", "/bridge")
    check_all(settings)
    db = storage.open_db(settings.database)
    db.execute("PRAGMA foreign_keys = OFF")
    # The page taken away is the one packed against the other, which is its site's page: which of the two
    # that is depends on which the check's threads stored first.
    [(missing,)] = db.execute("SELECT article_id FROM versions WHERE raw_blob NOT IN (SELECT hash FROM page_bases)")
    db.execute("DELETE FROM blobs WHERE hash = (SELECT raw_blob FROM versions WHERE article_id = ?)", [missing])
    db.conn.commit()

    results = {r.article_id: r for r in cycle.reextract(settings, now=NOW)}

    assert {article: (r.status, bool(r.error)) for article, r in results.items()} == {
        3 - missing: ("same", False), missing: ("failed", True)}
    assert "not in the database" in results[missing].error


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
    assert (change.origin, change.before, change.after) == ("feed", "Flood kills 12", "Flood kills 19")
    assert change.from_number is None and change.detected_at == "2026-11-01T12:05:00.000+00:00"
    assert site.hits("/flood") == 1  # the page was not fetched again for it
    article = storage.list_articles(db)[0]
    assert (article.priority, article.next_check_at, article.feed_title) == (1, change.detected_at, "Flood kills 19")
    assert [a.kind for a in storage.pending_alerts(db, NOW + timedelta(days=1))] == ["headline"]


def test_a_headline_rewritten_in_other_words_is_still_the_storys_headline_change(site, make_settings, story_pages):
    # The story is the entry (its link and id), not its words: a rewrite sharing one word is the same story.
    site.page("/flood", story_pages[0])
    settings = follow_feed(site, make_settings, ("/flood", "Watch the moment the bridge fell", "Rain goes on.", None))
    cycle.poll_source(settings, "feed", NOW)
    site.page("/feed.xml", atom(site, ("/flood", "Bridge collapse caught on video", "Rain goes on.", None)))
    cycle.poll_source(settings, "feed", NOW + timedelta(minutes=5))

    db = storage.open_db(settings.database)
    [change] = storage.list_changes(db, kind="headline")
    assert (change.before, change.after) == ("Watch the moment the bridge fell", "Bridge collapse caught on video")
    assert len(storage.list_articles(db)) == 1


@pytest.mark.parametrize("feed_first", [True, False])
def test_one_headline_change_is_one_alert_whether_the_feed_or_the_page_tells_it_first(site, make_settings, story_pages,
                                                                                       feed_first):
    old, new = STORY.versions[0].title, STORY.versions[1].title
    site.page("/flood", story_pages[0])
    settings = follow_feed(site, make_settings, ("/flood", old, "Rain goes on.", None),
                           alerts=[{"name": "heads", "kinds": ["headline"], "urls": ["json://127.0.0.1:9/sink"]}])
    cycle.poll_source(settings, "feed", NOW)
    check_all(settings)

    def feed_tells():
        site.page("/feed.xml", atom(site, ("/flood", new.upper() + "!", "Rain goes on.", None)))  # case, punctuation
        cycle.poll_source(settings, "feed", NOW + timedelta(minutes=5))

    def page_tells():
        site.page("/flood", story_pages[1])
        check_all(settings)

    for tell in (feed_tells, page_tells) if feed_first else (page_tells, feed_tells):
        tell()
    db = storage.open_db(settings.database)
    changes = storage.list_changes(db, kind="headline")
    assert sorted(c.origin for c in changes) == ["feed", "page"]  # both recorded...
    alerts = storage.pending_alerts(db, NOW + timedelta(days=1))
    assert len(alerts) == 1  # ...one message
    first = next(c for c in changes if c.origin == ("feed" if feed_first else "page"))
    assert alerts[0].change_id == first.id  # the first to tell it


def test_a_summary_rewrite_is_a_summary_change(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    settings = follow_feed(site, make_settings, ("/flood", "Flood", "<p>Twelve dead.</p>", None))
    cycle.poll_source(settings, "feed", NOW)
    site.page("/feed.xml", atom(site, ("/flood", "Flood", "<p>Nineteen dead.</p>", None)))
    cycle.poll_source(settings, "feed", NOW)
    db = storage.open_db(settings.database)
    assert [(c.kind, c.before, c.after) for c in storage.list_changes(db)] == [
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
    # A 404 may be a moment's: the article is checked again, gone only at the third answer in a row.
    assert check_all(settings, NOW + timedelta(hours=1)) == {"failed": 1, "changes": 0}
    assert check_all(settings, NOW + timedelta(hours=2)) == {"failed": 1, "changes": 0}
    assert check_all(settings, NOW + timedelta(hours=3)) == {"gone": 1, "changes": 1}
    db = storage.open_db(settings.database)
    [gone] = storage.list_changes(db, kind="gone")
    assert (gone.origin, gone.after, gone.url) == ("fetch", f"HTTP {status}", site.url + "/flood")
    assert gone.before == "Meridian River flood kills at least 12 in Harlow Bay"  # the last headline
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
    assert (change.before, change.after) == (site.url + "/flood", site.url + "/news/council-vote")
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
    assert [(c.kind, c.before) for c in storage.list_changes(db, kind="url")] == [("url", site.url + "/flood")]
    assert storage.list_aliases(db, article.id)[0].url == site.url + "/flood"
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
    assert {a.url for a in storage.list_aliases(db, article.id)} == {site.url + "/amp/flood-toll",
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
    assert site.most_check_threads == 2  # not max_connections: the other six would only wait for the host


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a process allowed one CPU has none to give up")
@pytest.mark.parametrize("one_cpu", [True, False])
def test_a_batch_s_threads_share_one_cpu_and_give_the_rest_back(site, make_settings, story_pages, one_cpu):
    paths = [f"/s{i}" for i in range(4)]
    for path in paths:
        site.page(path, story_pages[0])
    settings = track(site, make_settings, *paths, network={"allow_private": True, "host_delay": 0},
                     schedule={"one_cpu": one_cpu})
    allowed = os.sched_getaffinity(0)
    assert check_all(settings)["new_version"] == 4 and site.most_check_threads == 2
    [cpus] = site.check_cpus  # every thread of the batch, on the same CPUs
    assert len(cpus) == 1 and cpus < allowed if one_cpu else cpus == allowed
    assert os.sched_getaffinity(0) == allowed


def test_a_batch_collects_garbage_less_often_and_gives_the_old_setting_back(site, make_settings, story_pages):
    import gc

    for path in ("/s0", "/s1"):
        site.page(path, story_pages[0])
    settings = track(site, make_settings, "/s0", "/s1", network={"allow_private": True, "host_delay": 0})
    before = gc.get_threshold()

    assert check_all(settings)["new_version"] == 2
    assert site.collect_thresholds == {(10_000, *before[1:])} and gc.get_threshold() == before


def test_batches_at_once_share_the_collector_s_setting_until_the_last_ends():
    import gc

    from pipeline.check import _fewer_collections

    before = gc.get_threshold()
    first, second = _fewer_collections(), _fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first batch ends while the second goes on
    during = gc.get_threshold()
    second.__exit__(None, None, None)

    assert during == (10_000, *before[1:]) and gc.get_threshold() == before
    # A process that turned automatic collection off keeps it off.
    gc.set_threshold(0)
    try:
        with _fewer_collections():
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


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


def test_a_story_two_feeds_title_differently_is_no_headline_change(site, make_settings, story_pages):
    site.page("/flood", story_pages[0])
    for name, title in (("one", "Flood kills 12"), ("two", "Flood kills 12 - Courier")):
        site.page(f"/{name}.xml", f'<rss version="2.0"><channel><item><title>{title}</title>'
                                  f'<link>{site.url}/flood</link></item></channel></rss>', kind="application/rss+xml")
    settings = make_settings(sources=[{"name": n, "kind": "rss", "url": f"{site.url}/{n}.xml"} for n in ("one", "two")])
    for minutes in (0, 20, 40):
        cycle.poll_sources(settings, NOW + timedelta(minutes=minutes))
    assert storage.list_changes(storage.open_db(settings.database), kind="headline") == []

    site.page("/two.xml", site.pages["/two.xml"][2].replace(b"12 - Courier", b"19 - Courier"), kind="application/rss+xml")
    assert cycle.poll_source(settings, "two", NOW + timedelta(hours=1))["changes"] == 1
    [change] = storage.list_changes(storage.open_db(settings.database), kind="headline")
    assert (change.before, change.after) == ("Flood kills 12 - Courier", "Flood kills 19 - Courier")


def test_one_hostile_url_never_stops_the_run_and_its_article_backs_off(site, make_settings, story_pages):
    site.page("/index.xml", '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                            '<sitemap><loc>http://xn--a.com/s.xml</loc></sitemap></sitemapindex>', kind="application/xml")
    site.redirect("/r", "http://xn--a.com/story")
    site.page("/flood", story_pages[0])
    site.page("/list.txt", f"{site.url}/r\n{site.url}/flood\n", kind="text/plain")
    settings = make_settings(sources=[{"name": "index", "kind": "sitemap", "url": site.url + "/index.xml"},
                                      {"name": "list", "kind": "urls", "url": site.url + "/list.txt"}])

    summary = cycle.run_cycle(settings, NOW, everything=True)

    index, listed = summary["polls"]
    assert "xn--a.com" in index["error"] and listed["new_articles"] == 2
    assert (summary["checks"]["failed"], summary["checks"]["new_version"]) == (1, 1)
    db = storage.open_db(settings.database)
    assert "xn--a.com" in storage.get_source(db, "index").last_error
    hostile = storage.find_article(db, site.url + "/r")
    assert hostile.consecutive_failures == 1 and hostile.next_check_at > to_iso(NOW + timedelta(minutes=10))


def test_a_run_reports_what_a_live_run_holds_and_checks_what_a_killed_run_held(site, make_settings, story_pages):
    import subprocess
    import sys

    for path in ("/a", "/b"):
        site.page(path, story_pages[0])
    settings = track(site, make_settings, "/a", "/b")
    code = ("import sys, time, storage; from datetime import datetime, timezone;"
            "db = storage.open_db(sys.argv[1]);"
            "print(len(storage.claim_due_articles(db, datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc), 600)), "
            "flush=True); time.sleep(60)")
    other = subprocess.Popen([sys.executable, "-c", code, str(settings.database)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "2"
        assert cycle.run_cycle(settings, NOW)["checks"] == {"held_elsewhere": 2}
    finally:
        other.kill()
        other.wait()
    assert cycle.run_cycle(settings, NOW)["checks"]["new_version"] == 2  # at once, not after the lease


def test_a_url_list_with_a_line_that_is_no_http_url_keeps_the_others(site, make_settings):
    site.page("/list.txt", f"{site.url}/a\nftp://files.example/b\n{site.url}/c\n", kind="text/plain")
    settings = make_settings(sources=[{"name": "list", "kind": "urls", "url": site.url + "/list.txt"}])
    poll = cycle.poll_source(settings, "list", NOW)
    assert poll["new_articles"] == 2
    assert "line 2 ('ftp://files.example/b'): not an http(s) URL" in poll["error"]


def test_credentials_in_a_source_url_reach_neither_the_archive_nor_the_log(site, make_settings, story_pages, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    site.page("/list.txt", f"{site.url}/flood\n{site.url}/missing\n", kind="text/plain")
    site.page("/flood", story_pages[0])
    secret_url = site.url.replace("http://", "http://reader:s3cret-pass@") + "/list.txt?apikey=k3y-value"
    settings = make_settings(sources=[{"name": "paid", "kind": "urls", "url": secret_url}])

    cycle.run_cycle(settings, NOW, everything=True)
    site.pages.pop("/list.txt")
    cycle.run_cycle(settings, NOW + timedelta(hours=1), everything=True)  # a failing poll: its error is stored too

    archive = settings.database.read_bytes() + settings.database.with_name("redline.db-wal").read_bytes()
    assert b"s3cret-pass" not in archive and b"k3y-value" not in archive
    assert "s3cret-pass" not in caplog.text and "k3y-value" not in caplog.text
    db = storage.open_db(settings.database)
    assert storage.get_source(db, "paid").location.endswith("reader:****@" + site.url.split("//")[1]
                                                            + "/list.txt?apikey=****")


def test_a_canonical_link_to_a_page_that_fails_is_not_adopted(site, make_settings, story_pages):
    # Its rel=canonical is relative and leads nowhere: the story stays where it was found, and lives on.
    page = [p.replace("http://127.0.0.1/news/flood-toll", "/news/flood-toll") for p in story_pages]
    site.page("/flood", page[0])
    settings = track(site, make_settings, "/flood")
    assert check_all(settings)["new_version"] == 1
    site.page("/flood", page[1])
    assert check_all(settings, NOW + timedelta(hours=1))["new_version"] == 1
    db = storage.open_db(settings.database)
    [article] = storage.list_articles(db)
    assert (article.canonical_url, article.status) == (site.url + "/flood", "active")
    assert [v.number for v in storage.list_versions(db, article.id)] == [1, 2]
    assert storage.list_aliases(db, article.id) == []


def test_an_adopted_canonical_that_then_fails_falls_back_to_where_the_story_was_found(site, make_settings,
                                                                                       story_pages):
    page = [p.replace("http://127.0.0.1/news/flood-toll", site.url + "/news/flood-toll") for p in story_pages]
    site.page("/flood", page[0])
    site.page("/news/flood-toll", page[0])
    settings = track(site, make_settings, "/flood")
    check_all(settings)
    db = storage.open_db(settings.database)
    assert storage.list_articles(db)[0].canonical_url == site.url + "/news/flood-toll"  # it answered: adopted

    del site.pages["/news/flood-toll"]
    site.page("/flood", page[1])
    assert check_all(settings, NOW + timedelta(hours=1)) == {"fell_back": 1, "changes": 1}
    [article] = storage.list_articles(db)
    assert (article.canonical_url, article.status) == (site.url + "/flood", "active")
    assert check_all(settings, NOW + timedelta(hours=1, minutes=1))["new_version"] == 1  # checked again at once
    assert [v.number for v in storage.list_versions(db, article.id)] == [1, 2]
    [moved] = storage.list_changes(db, kind="url")
    assert (moved.before, moved.after) == (site.url + "/news/flood-toll", site.url + "/flood")
