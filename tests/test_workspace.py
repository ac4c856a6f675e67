"""Tests for storage/workspace.py: the researcher's reads, on a fresh archive per test (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import storage
from pipeline.errors import InputError, NotFoundError
from pipeline.models import ArticleQuery, Change
from test_storage import NOW, add_article, figure_diff, get_row, location, store

ARCHIVES = ("sqlite", "postgresql")  # every test taking `db` runs on both (conftest.py)


@pytest.mark.parametrize("typed, expression", [
    ("flood toll", '"flood" "toll"'),
    ('"at least 12" killed', '"at least 12" "killed"'),
    ("NEAR(a b) OR title:x*", '"NEAR(a" "b)" "OR" "title:x*"'),  # FTS5's own syntax is searched as words
    ('say "hi', '"say" """hi"'),
])
def test_match_expression_quotes_every_term(typed, expression):
    assert storage.match_expression(typed) == expression


def test_an_empty_search_is_an_error():
    with pytest.raises(InputError, match="give at least one word"):
        storage.match_expression('  ""  ')


def test_counts_on_articles_follow_versions_and_changes_by_trigger(db):
    one, two = add_article(db, "https://x.example/one"), add_article(db, "https://x.example/two")
    store(db, one, 1, "The toll is 12")
    store(db, one, 2, "The toll is 15", diff=figure_diff())
    assert (get_row(db, "articles", one)["versions"], get_row(db, "articles", one)["changes_found"]) == (2, 2)
    storage.record_events(db, two, [Change("gone", None, "404")], NOW)
    storage.merge_article(db, two, one, NOW)  # the duplicate's change moves to the story it duplicates
    assert get_row(db, "articles", one)["changes_found"] == 3
    assert storage.find_faults(db) == []
    db.execute("UPDATE articles SET versions = 7 WHERE id = ?", [one])
    assert any("counts 7 version(s)" in fault for fault in storage.find_faults(db))


def test_the_list_sorts_pages_and_filters(db):
    ids = [add_article(db, f"https://x.example/{n}", now=NOW + timedelta(minutes=n)) for n in range(5)]
    for number, article in enumerate(ids, 1):  # article n gets n versions
        store(db, article, 1, f"story {article} v1 stable")
        for v in range(2, number + 1):
            store(db, article, v, f"story {article} v{v}", diff=figure_diff(str(v), str(v + 1)), at=NOW + timedelta(hours=v))
    by_versions = storage.list_article_summaries(db, ArticleQuery(sort="versions"))
    assert [a.id for a in by_versions] == list(reversed(ids))
    assert [a.versions for a in by_versions] == [5, 4, 3, 2, 1]
    pages = [storage.list_article_summaries(db, ArticleQuery(sort="versions", limit=2, offset=o)) for o in (0, 2, 4)]
    assert [a.id for page in pages for a in page] == [a.id for a in by_versions]
    assert {a.id for a in storage.list_article_summaries(db, ArticleQuery(figure=True))} == set(ids[1:])
    assert [a.id for a in storage.list_article_summaries(db, ArticleQuery(text="stable", sort="first_seen"))] == list(
        reversed(ids))
    window = ArticleQuery(since=storage_iso(NOW + timedelta(hours=4)), until=storage_iso(NOW + timedelta(hours=5)))
    assert {a.id for a in storage.list_article_summaries(db, window)} == set(ids[3:])
    with pytest.raises(InputError, match="sort 'size'"):
        storage.list_article_summaries(db, ArticleQuery(sort="size"))


def storage_iso(moment):
    from pipeline.models import to_iso

    return to_iso(moment)


def test_search_reports_first_version_and_where_the_words_went(db):
    article = add_article(db)
    store(db, article, 1, "Officials said 300 homes were destroyed.")
    store(db, article, 2, "Officials said 300 homes were destroyed. More rain is due.", at=NOW + timedelta(hours=1))
    store(db, article, 3, "Officials said 450 homes were destroyed. More rain is due.", at=NOW + timedelta(hours=2))
    [hit] = storage.search_versions(db, '"300 homes"')
    assert (hit.version, hit.first_version, hit.disappeared_at, hit.versions) == (2, 1, 3, 3)
    assert f"{storage.MARK_START}300 homes{storage.MARK_END}" in hit.snippet
    [rain] = storage.search_versions(db, "rain")
    assert (rain.version, rain.first_version, rain.disappeared_at) == (3, 2, None)
    assert storage.search_versions(db, "rain", source="elsewhere") == []
    assert storage.search_versions(db, "rain", until=storage_iso(NOW)) == []


def test_the_wait_for_a_first_update_is_exact_to_the_millisecond_in_every_database(db):
    # julianday() in SQLite and its PostgreSQL stand-in differ in a double's last bits: these two times gave
    # 0.22730250656604767 hours on SQLite and another value on PostgreSQL, and the copy test failed now and then.
    first = datetime(2026, 12, 7, 5, 27, 57, 837000, tzinfo=timezone.utc)
    article = add_article(db)
    store(db, article, 1, "The toll is 12", at=first)
    store(db, article, 2, "The toll is 15", diff=figure_diff(), at=first + timedelta(milliseconds=818_289))

    assert storage.summarise_sources(db).totals.median_hours_to_first_update == 818_289 / 3_600_000


def test_summarise_sources_counts_updates_stealth_and_the_wait_for_a_first_update(db):
    article = add_article(db)
    store(db, article, 1, "The toll is 12")
    store(db, article, 2, "The toll is 15", diff=figure_diff(), at=NOW + timedelta(hours=6))
    stats = storage.summarise_sources(db)
    [wire] = stats.sources
    assert (stats.totals.versions, stats.totals.median_hours_to_first_update) == (2, pytest.approx(6.0))
    assert (wire.source, wire.articles, wire.versions, wire.changes) == ("wire", 1, 2, 2)
    assert wire.changes_by_kind == {"figure": 1, "headline": 1}
    assert (wire.updates, wire.stealth, wire.stealth_share) == (1, 1, 1.0)  # figure_diff discloses nothing
    assert wire.median_hours_to_first_update == pytest.approx(6.0)
    [quick] = storage.summarise_sources(db, full=False).sources
    assert (quick.median_hours_to_first_update, quick.changes_by_kind, quick.stealth) == (None, wire.changes_by_kind, 1)
    with pytest.raises(NotFoundError, match="source 'nope'"):
        storage.summarise_sources(db, "nope")


def test_the_timeline_carries_each_edit_and_reads_no_text(db):
    article = add_article(db)
    store(db, article, 1, "The toll is 12")
    store(db, article, 2, "The toll is 15", diff=figure_diff(), at=NOW + timedelta(hours=1))
    first, second = storage.list_timeline(db, article)
    assert (first.number, first.disclosed, second.number, second.disclosed) == (1, None, 2, False)
    assert not hasattr(first, "text")


def test_the_reader_cannot_write(db, tmp_path):
    reader = storage.open_reader(location(db))
    with pytest.raises(Exception, match="readonly|read-only"):
        reader.execute("DELETE FROM articles")
    with pytest.raises(NotFoundError):
        storage.open_reader(tmp_path / "missing.db")


def test_change_counts_per_source_follow_every_path_and_check_db_sees_a_wrong_one(db):
    article = add_article(db)
    store(db, article, 1, "The toll is 12")
    store(db, article, 2, "The toll is 15", diff=figure_diff())
    storage.record_events(db, article, [Change("gone", None, "404")], NOW)
    assert storage.summarise_sources(db).sources[0].changes_by_kind == {"figure": 1, "headline": 1, "gone": 1}
    assert storage.find_faults(db) == []
    db.execute("UPDATE change_counts SET changes = 5 WHERE kind = 'gone'")
    assert any("change counts of source 1, kind gone: 5 kept, 1 stored" in f for f in storage.find_faults(db))


def test_updates_and_stealth_edits_follow_the_diffs_and_extractor_drift(db):
    article = add_article(db)
    store(db, article, 1, "The toll is 12")
    store(db, article, 2, "The toll is 15", diff=figure_diff())
    [summary] = storage.list_article_summaries(db, ArticleQuery(stealth=True))
    assert summary.stealth_edits == 1
    storage.mark_extractor_drift(db, article, 2)  # the extractor's doing, not the newsroom's: no edit at all
    assert storage.list_article_summaries(db, ArticleQuery(stealth=True)) == []
    assert storage.summarise_sources(db).totals.updates == 0
    assert storage.find_faults(db) == []
    db.execute("UPDATE articles SET stealth_edits = 3")
    assert any("counts 0 update(s) and 3 stealth edit(s)" in f for f in storage.find_faults(db))
