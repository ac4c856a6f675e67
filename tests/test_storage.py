"""Tests for storage/db.py: the storage contract, run against a freshly migrated SQLite file and against a
fresh database on a real PostgreSQL server (skipped, saying why, where there is none; required under CI=true)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlite_utils import Database

import storage
from pipeline.config import SourceSettings
from pipeline.errors import NotFoundError, StorageError
from pipeline.models import Alias, Change, Diff, Entry, Fetched, Reextraction, Version, to_iso
from storage.db import CHAIN
from storage.migrations import MIGRATIONS

ARCHIVES = ("sqlite", "postgresql")  # every test taking `db` runs on both (conftest.py)
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
ALL_MIGRATIONS = [number for number, _, _ in MIGRATIONS]
LEASE = 600.0


# Helpers ----------------------------------------------------------------------------------

def add_source(db, name="wire", kind="rss", url="https://news.example.org/feed.xml") -> int:
    return storage.sync_sources(db, [SourceSettings(name=name, kind=kind, url=url)])[name]


def add_article(db, url="https://news.example.org/story", now=NOW) -> int:
    """Track one URL and return its article id."""
    storage.add_articles(db, add_source(db), [Entry(url=url, title="Feed title")], now)
    return storage.find_article(db, url).id


def fetched(url="https://news.example.org/story", at=NOW, body=b"<html>page</html>") -> Fetched:
    return Fetched(url=url, final_url=url, status=200, at=at, elapsed_ms=12, body=body)


def version(article_id: int, number: int, text: str, title: str = "Headline", at=NOW) -> Version:
    return Version(
        article_id=article_id, number=number, fetched_at=to_iso(at), text_hash=f"hash-{text}",
        text=text, title=title, word_count=len(text.split()), notices=("Correction: x",),
        extractor="test",
    )


def store(db, article_id, number, text, diff=None, alerts=(), raw=None, at=NOW, url="https://news.example.org/story"):
    raw = raw if raw is not None else f"<p>{text}</p>".encode()
    checked = dataclasses.replace(storage.get_article(db, article_id), title="Headline", last_changed_at=to_iso(at))
    return storage.record_version(db, version(article_id, number, text, at=at), raw, fetched(url, at=at, body=raw),
                                  checked, diff=diff, alerts=alerts)


def set_state(db, article_id, fetch=None, **values):
    """Store an article's checking state as a check would (through record_check)."""
    values = {k: to_iso(v) if isinstance(v, datetime) else v for k, v in values.items()}
    storage.record_check(db, dataclasses.replace(storage.get_article(db, article_id), **values), fetch)


def figure_diff(before="12", after="15") -> Diff:
    return Diff(
        ops=((0, "The toll is"), (-1, before), (1, after)),
        changes=(Change("figure", before, after, context=f"The toll is {after}", subject="toll"),
                 Change("headline", "Old", "New", significance=0.5)),
        stats={"added": 1, "removed": 1},
    )


def rows(db, table: str) -> list[dict]:
    cursor = db.execute(f"SELECT * FROM {table}")
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def get_row(db, table: str, key: int) -> dict:
    found, = [one for one in rows(db, table) if one["id"] == key]
    return found


sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def location(db) -> str:
    """Where db's archive is: its file, or its server's URL (to open it again, as another process would)."""
    return getattr(db, "url", None) or db.execute("PRAGMA database_list").fetchone()[2]


# Opening and migrating --------------------------------------------------------------------

def test_migrate_is_idempotent(tmp_path):
    path = tmp_path / "redline.db"
    first = storage.open_db(path)
    assert [row["id"] for row in rows(first, "migrations")] == ALL_MIGRATIONS
    assert storage.migrate(first) == []
    again = storage.open_db(path)
    assert storage.migrate(again) == []
    assert len(rows(again, "migrations")) == len(ALL_MIGRATIONS)


def test_fresh_database_reports_its_migrations(tmp_path):
    assert storage.migrate(Database(tmp_path / "bare.db")) == ALL_MIGRATIONS


def test_migration_4_keeps_stored_alerts_and_adds_delivery_state(tmp_path):
    bare = Database(tmp_path / "old.db")
    bare.execute("CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    number, name, initial = MIGRATIONS[0]
    initial(bare)
    bare["migrations"].insert({"id": number, "name": name, "applied_at": to_iso(NOW)})
    bare["changes"].insert({"id": 1, "kind": "figure", "before": "12", "after": "15"})
    bare["alerts"].insert({"change_id": 1, "rule": "r", "channel": "json://x", "status": "failed", "attempts": 2})

    assert 4 in storage.migrate(bare)

    assert {"detail", "delta", "relative"} <= set(bare["changes"].columns_dict)
    assert {"next_attempt_at", "claimed_at"} <= set(bare["alerts"].columns_dict)
    alert, = rows(bare, "alerts")
    assert (alert["status"], alert["attempts"], alert["next_attempt_at"]) == ("failed", 2, None)


@sqlite_only
def test_wal_mode(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@sqlite_only
def test_the_write_ahead_log_is_synced_at_checkpoints_unless_every_commit_is_asked_for(db, make_settings, tmp_path):
    full = storage.open_archive(make_settings(database={"path": str(tmp_path / "full.db"), "synchronous": "full"}))

    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert full.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_count_rows_on_an_empty_database(db):
    assert set(storage.count_rows(db).values()) == {0}


# Sources ----------------------------------------------------------------------------------

def test_sync_sources_upserts(db):
    first = storage.sync_sources(db, [SourceSettings("wire", "rss", "https://a.example/feed")])
    second = storage.sync_sources(db, [
        SourceSettings("wire", "atom", "https://b.example/atom"),
        SourceSettings("list", "urls", "https://b.example/urls.txt"),
    ])
    assert second["wire"] == first["wire"]
    assert set(second) == {"wire", "list"}
    assert len(rows(db, "sources")) == 2
    wire = storage.get_source(db, "wire")
    assert (wire.kind, wire.location) == ("atom", "https://b.example/atom")


def test_get_source_unknown(db):
    with pytest.raises(NotFoundError, match="nope"):
        storage.get_source(db, "nope")


def test_record_poll_keeps_validators_of_a_good_fetch(db):
    source_id = add_source(db)
    good = Fetched("u", "u", 200, NOW, 5, b"<rss/>", etag='"v1"', last_modified="Sun, 01 Nov 2026 00:00:00 GMT")
    storage.record_poll(db, source_id, good, None)
    storage.record_poll(db, source_id, Fetched("u", "u", None, NOW, 5, error="refused"), "refused")
    source = storage.get_source(db, "wire")
    assert source.etag == '"v1"'
    assert source.last_error == "refused"
    assert source.last_polled_at == to_iso(NOW)
    assert len(rows(db, "fetches")) == 2


# Articles ---------------------------------------------------------------------------------

def test_add_articles_counts_only_new_ones(db):
    source_id = add_source(db)
    entries = [Entry("https://x.example/a", title="A"), Entry("https://x.example/b", title="B")]
    assert storage.add_articles(db, source_id, entries, NOW) == 2
    later = NOW + timedelta(hours=1)
    again = [Entry("https://x.example/a", title="A changed"), Entry("https://x.example/c")]
    assert storage.add_articles(db, source_id, again, later) == 1
    assert [a.canonical_url for a in storage.list_articles(db)] == [
        "https://x.example/a", "https://x.example/b", "https://x.example/c"]


def test_add_articles_does_not_overwrite_an_existing_article(db):
    source_id = add_source(db)
    storage.add_articles(db, source_id, [Entry("https://x.example/a", title="First")], NOW)
    article = storage.find_article(db, "https://x.example/a")
    set_state(db, article.id, status="failing", next_check_at=NOW + timedelta(days=1))
    storage.add_articles(db, source_id, [Entry("https://x.example/a", title="Second")], NOW + timedelta(hours=2))

    after = storage.find_article(db, "https://x.example/a")
    assert after.first_seen_at == to_iso(NOW)
    assert after.status == "failing"
    assert after.next_check_at == to_iso(NOW + timedelta(days=1))
    feed_title = db.execute("SELECT feed_title FROM articles WHERE id = ?", [article.id]).fetchone()[0]
    assert feed_title == "First"


def test_a_story_a_newsletter_linked_first_becomes_the_publishing_feeds(db):
    # Polls run in parallel under Airflow: the order they find a story in must not decide its source.
    letter = add_source(db, name="brief", kind="newsletter", url="mbox:/tmp/brief.mbox")
    feed = add_source(db, name="wire")
    storage.add_articles(db, letter, [Entry("https://x.example/a")], NOW)
    article = storage.find_article(db, "https://x.example/a")
    store(db, article.id, 1, "The toll is 12")
    store(db, article.id, 2, "The toll is 15", diff=figure_diff())
    storage.add_articles(db, feed, [Entry("https://x.example/a")], NOW)
    assert storage.find_article(db, "https://x.example/a").source_id == feed
    storage.add_articles(db, letter, [Entry("https://x.example/a")], NOW)  # a newsletter never takes it back
    assert storage.find_article(db, "https://x.example/a").source_id == feed
    [wire] = [s for s in storage.summarise_sources(db).sources if s.source == "wire"]
    assert wire.changes_by_kind == {"figure": 1, "headline": 1}  # its changes moved with it
    assert storage.find_faults(db) == []


def test_new_articles_are_due_at_once(db):
    article = storage.get_article(db, add_article(db))
    assert article.status == "active"
    assert article.next_check_at == to_iso(NOW)
    assert article.checks == 0


def test_get_and_find_article(db):
    article_id = add_article(db, "https://x.example/s")
    assert storage.get_article(db, article_id).canonical_url == "https://x.example/s"
    assert storage.find_article(db, str(article_id)).id == article_id
    with pytest.raises(NotFoundError):
        storage.get_article(db, 999)
    with pytest.raises(NotFoundError, match="nowhere"):
        storage.find_article(db, "https://x.example/nowhere")


# Claiming ---------------------------------------------------------------------------------

def three_articles(db) -> tuple[int, int, int]:
    """(due now, due in an hour, due in a day)."""
    source_id = add_source(db)
    urls = [f"https://x.example/{n}" for n in range(3)]
    storage.add_articles(db, source_id, [Entry(u) for u in urls], NOW)
    ids = tuple(storage.find_article(db, u).id for u in urls)
    set_state(db, ids[1], next_check_at=NOW + timedelta(hours=1))
    set_state(db, ids[2], next_check_at=NOW + timedelta(days=1))
    return ids


def test_claim_only_due_articles(db):
    due, soon, later = three_articles(db)
    assert storage.claim_due_articles(db, NOW, LEASE) == [due]
    set_state(db, due)  # a check's end ends the lease
    assert storage.claim_due_articles(db, NOW + timedelta(hours=2), LEASE) == [due, soon]


def test_lease_prevents_a_second_claim(db):
    due, _, _ = three_articles(db)
    assert storage.claim_due_articles(db, NOW, LEASE) == [due]
    assert storage.claim_due_articles(db, NOW + timedelta(seconds=LEASE - 1), LEASE) == []
    assert storage.claim_due_articles(db, NOW + timedelta(seconds=LEASE), LEASE) == [due]


def test_a_check_error_frees_the_claimed_article_and_says_why(db):
    due, _, _ = three_articles(db)
    assert storage.claim_due_articles(db, NOW, LEASE) == [due]
    storage.record_check_error(db, due, "RuntimeError: boom")
    assert storage.get_article(db, due).last_error == "RuntimeError: boom"
    assert storage.claim_due_articles(db, NOW, LEASE) == [due]


def test_claim_limit(db):
    source_id = add_source(db)
    storage.add_articles(db, source_id, [Entry(f"https://x.example/{n}") for n in range(5)], NOW)
    first = storage.claim_due_articles(db, NOW, LEASE, limit=2)
    rest = storage.claim_due_articles(db, NOW, LEASE)
    assert len(first) == 2
    assert sorted(first + rest) == [a.id for a in storage.list_articles(db)]


def test_everything_claims_articles_not_yet_due(db):
    ids = three_articles(db)
    assert storage.claim_due_articles(db, NOW, LEASE, everything=True) == list(ids)
    assert storage.claim_due_articles(db, NOW, LEASE, everything=True) == []


@pytest.mark.parametrize("status", ["gone", "retired"])
def test_dead_articles_are_never_claimed(db, status):
    due, soon, later = three_articles(db)
    set_state(db, due, status=status)
    assert storage.claim_due_articles(db, NOW, LEASE) == []
    assert storage.claim_due_articles(db, NOW + timedelta(days=2), LEASE, everything=True) == [soon, later]


def test_failing_articles_are_still_claimed(db):
    due, _, _ = three_articles(db)
    set_state(db, due, status="failing", consecutive_failures=5)
    assert storage.claim_due_articles(db, NOW, LEASE) == [due]


def test_record_check_ends_the_lease_and_logs_the_fetch(db):
    due, _, _ = three_articles(db)
    storage.claim_due_articles(db, NOW, LEASE)
    set_state(db, due, fetched(), last_checked_at=NOW, checks=1)
    assert storage.get_article(db, due).last_checked_at == to_iso(NOW)
    assert [f["article_id"] for f in rows(db, "fetches")] == [due]
    assert storage.claim_due_articles(db, NOW, LEASE) == [due]


# Versions ---------------------------------------------------------------------------------

def test_record_version_stores_everything(db):
    article_id = add_article(db)
    raw1 = b"<html>\x00first \xff page</html>"
    store(db, article_id, 1, "The toll is 12", raw=raw1)
    change_ids = store(db, article_id, 2, "The toll is 15", diff=figure_diff(),
                       alerts=[(0, "figures", "json"), (1, "figures", "json")])

    assert len(change_ids) == 2
    first = storage.get_version(db, article_id, 1)
    assert storage.get_blob(db, first.raw_blob) == raw1
    assert first.notices == ("Correction: x",)
    diff = storage.get_diff(db, article_id, 2)
    assert (diff.from_number, diff.to_number) == (1, 2)
    assert diff.ops == ((0, "The toll is"), (-1, "12"), (1, "15"))
    assert diff.stats == {"added": 1, "removed": 1}
    assert [c.id for c in storage.list_changes(db)] == change_ids
    assert len(rows(db, "alerts")) == 2
    assert len(rows(db, "fetches")) == 2
    article = storage.get_article(db, article_id)
    assert article.title == "Headline"
    assert article.last_changed_at == to_iso(NOW)


def word_diff(before: str, after: str) -> Diff:
    from pipeline.words import diff_words

    return Diff(ops=tuple(diff_words(before, after)), stats={})


def test_a_diff_stores_only_what_changed_and_reads_back_whole(db):
    article_id = add_article(db)
    before = "Rescuers said at least 12 people died. " * 40 + "The river rose overnight."
    after = before.replace("The river rose overnight.", "The river rose 2 metres overnight.")
    store(db, article_id, 1, before)
    diff = word_diff(before, after)
    store(db, article_id, 2, after, diff=diff)

    stored = json.loads(rows(db, "diffs")[0]["ops"])
    assert [op for op, _ in stored] == [op for op, _ in diff.ops]
    assert all(isinstance(text, int) for op, text in stored if op == 0)  # the kept text is v1's
    assert len(json.dumps(stored)) < len(before) / 10
    assert storage.get_diff(db, article_id, 2).ops == diff.ops
    assert storage.find_faults(db) == []


def test_a_diff_from_a_text_other_than_the_stored_one_is_stored_whole(db):
    # After an extractor change the diff runs from v1's page read again, not from v1's stored text.
    article_id = add_article(db)
    store(db, article_id, 1, "The toll is 12 (stored by the old extractor)")
    diff = word_diff("The toll is 12", "The toll is 15")
    store(db, article_id, 2, "The toll is 15", diff=diff)
    assert json.loads(rows(db, "diffs")[0]["ops"]) == [list(op) for op in diff.ops]
    assert storage.get_diff(db, article_id, 2).ops == diff.ops


def test_check_db_names_a_diff_whose_kept_runs_do_not_fit(db):
    article_id = add_article(db)
    before = "The toll is 12. The river rose overnight."
    store(db, article_id, 1, before)
    store(db, article_id, 2, before.replace("12", "15"), diff=word_diff(before, before.replace("12", "15")))
    ops = json.loads(rows(db, "diffs")[0]["ops"])
    ops[0][1] += 3
    db.execute("UPDATE diffs SET ops = ?", [json.dumps(ops)])
    diff_id = rows(db, "diffs")[0]["id"]
    assert storage.find_faults(db) == [
        f"diff {diff_id} of article {article_id}: v1→v2 keeps runs that are not v1's text"]


def test_same_alert_twice_leaves_one_row(db):
    article_id = add_article(db)
    store(db, article_id, 1, "v1")
    store(db, article_id, 2, "v2", diff=figure_diff(), alerts=[(0, "figures", "json"), (0, "figures", "json")])
    assert [(a["rule"], a["channel"], a["status"]) for a in rows(db, "alerts")] == [("figures", "json", "pending")]


def test_same_raw_page_is_stored_once(db):
    article_id = add_article(db)
    store(db, article_id, 1, "v1", raw=b"same bytes")
    store(db, article_id, 2, "v2", raw=b"same bytes")
    assert len(rows(db, "blobs")) == 1


def test_record_version_is_all_or_nothing(db):
    article_id = add_article(db)
    with pytest.raises(Exception):
        storage.record_version(db, version(article_id, 1, "text"), b"raw", fetched(),
                               {"no_such_column": 1}, diff=figure_diff(), alerts=[(0, "figures", "json")])
    counts = storage.count_rows(db)
    assert (counts["versions"], counts["diffs"], counts["changes"], counts["alerts"]) == (0, 0, 0, 0)


def test_get_blob_unknown(db):
    with pytest.raises(NotFoundError):
        storage.get_blob(db, "0" * 64)


def test_latest_and_list_versions(db):
    article_id = add_article(db)
    assert storage.latest_version(db, article_id) is None
    assert storage.list_versions(db, article_id) == []
    for number in (1, 2, 3):
        store(db, article_id, number, f"text {number}")
    assert storage.latest_version(db, article_id).number == 3
    assert [v.text for v in storage.list_versions(db, article_id)] == ["text 1", "text 2", "text 3"]
    assert storage.get_version(db, article_id, 2).text == "text 2"


def test_get_version_missing(db):
    article_id = add_article(db)
    store(db, article_id, 1, "only")
    with pytest.raises(NotFoundError, match="version 2"):
        storage.get_version(db, article_id, 2)


def test_find_revert_gives_the_earliest(db):
    article_id = add_article(db)
    store(db, article_id, 1, "A")
    store(db, article_id, 2, "B")
    store(db, article_id, 3, "A")
    assert storage.find_revert(db, article_id, "hash-A", "Headline") == 1
    assert storage.find_revert(db, article_id, "hash-B", "Headline") == 2
    assert storage.find_revert(db, article_id, "hash-C", "Headline") is None


def test_list_changes_filters_by_kind_and_joins_the_url(db):
    article_id = add_article(db, "https://x.example/story")
    store(db, article_id, 1, "v1")
    store(db, article_id, 2, "v2", diff=figure_diff())

    (figure,) = storage.list_changes(db, kind="figure")
    assert figure.url == "https://x.example/story"
    assert figure.article_title == "Headline"
    assert (figure.before, figure.after, figure.subject) == ("12", "15", "toll")
    assert (figure.from_number, figure.to_number) == (1, 2)
    assert [c.kind for c in storage.list_changes(db)] == ["figure", "headline"]
    assert storage.list_changes(db, kind="byline") == []


def test_list_changes_by_article(db):
    one = add_article(db, "https://x.example/one")
    two = add_article(db, "https://x.example/two")
    for article_id in (one, two):
        store(db, article_id, 1, "v1")
        store(db, article_id, 2, "v2", diff=figure_diff())
    assert {c.url for c in storage.list_changes(db, article_id=two)} == {"https://x.example/two"}
    assert len(storage.list_changes(db)) == 4


def test_stream_changes_gives_what_list_changes_gives_one_at_a_time(db):
    one = add_article(db, "https://x.example/one")
    two = add_article(db, "https://x.example/two")
    for article_id in (two, one):
        store(db, article_id, 1, "v1")
        store(db, article_id, 2, "v2", diff=figure_diff())
    for query in ({}, {"kind": "figure"}, {"article_id": one}, {"source": "wire"}):
        streamed = storage.stream_changes(db, **query)
        assert not isinstance(streamed, list)
        assert list(streamed) == storage.list_changes(db, **query)


@sqlite_only
def test_every_order_of_the_change_list_is_read_from_an_index(db):
    # A list of every change is read in an index's order, never sorted whole at each call.
    article_id = add_article(db)
    store(db, article_id, 1, "v1")
    store(db, article_id, 2, "v2", diff=figure_diff())
    asked = []
    db.conn.set_trace_callback(asked.append)
    for query in ({}, {"kind": "figure"}, {"article_id": article_id}):
        list(storage.stream_changes(db, **query))
    storage.list_changes(db, newest=10)
    db.conn.set_trace_callback(None)
    reads = [sql for sql in asked if sql.startswith("SELECT") and "FROM changes c" in sql]
    assert len(reads) == 4
    for sql in reads:
        steps = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
        assert "USING INDEX" in next(step for step in steps if step.split()[1] == "c"), steps
        # the newest n are sorted back into time order: n rows, not the archive's
        whole = steps[:steps.index("SCAN newest")] if "SCAN newest" in steps else steps
        assert not any("TEMP B-TREE" in step for step in whole), steps


@sqlite_only
def test_a_run_with_nothing_due_reads_no_whole_table(db):
    # What every run asks (due articles, leases held elsewhere, alerts to send) costs what it returns,
    # whatever the archive's size.
    for n in range(3):
        storage.add_articles(db, add_source(db), [Entry(url=f"https://x.example/{n}")], NOW)
    asked = []
    db.conn.set_trace_callback(asked.append)
    storage.claim_due_articles(db, NOW - timedelta(days=1), LEASE)
    storage.count_held_elsewhere(db, NOW - timedelta(days=1))
    storage.pending_alerts(db, NOW)
    db.conn.set_trace_callback(None)
    reads = [sql for sql in asked if sql.lstrip().startswith("SELECT")]
    assert len(reads) >= 4
    for sql in reads:
        steps = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
        assert not [step for step in steps if step.startswith("SCAN") and "USING" not in step], (sql, steps)


def test_export_versions(db):
    one = add_article(db, "https://x.example/one")
    two = add_article(db, "https://x.example/two")
    store(db, two, 1, "two v1")
    store(db, one, 1, "one v1")
    store(db, one, 2, "one v2", at=NOW + timedelta(hours=1))

    exported = list(storage.export_versions(db))
    assert [(url, v.number) for url, _, v in exported] == [
        ("https://x.example/one", 1), ("https://x.example/one", 2), ("https://x.example/two", 1)]
    url, _, second = exported[1]
    assert second.fetched_at == to_iso(NOW + timedelta(hours=1))
    assert second.title == "Headline"
    assert second.text == "one v2"
    assert second.notices == ("Correction: x",)


# Alerts -----------------------------------------------------------------------------------

def one_alert(db) -> int:
    article_id = add_article(db)
    store(db, article_id, 1, "v1")
    store(db, article_id, 2, "v2", diff=figure_diff(), alerts=[(0, "figures", "json")])
    (alert,) = storage.pending_alerts(db, NOW)
    return alert.id


def attempt(db, alert_id, at=NOW, error=None, retry_at=None) -> None:
    assert storage.claim_alerts(db, [alert_id], at) == [alert_id]
    storage.finish_alerts(db, [alert_id], at, error, retry_at)


def test_pending_alert_carries_its_change_versions_article_and_source(db):
    one_alert(db)
    (alert,) = storage.pending_alerts(db, NOW)
    assert (alert.rule, alert.channel, alert.attempts, alert.status) == ("figures", "json", 0, "pending")
    assert (alert.kind, alert.before, alert.after) == ("figure", "12", "15")
    assert (alert.from_number, alert.to_number) == (1, 2)
    assert (alert.url, alert.source) == ("https://news.example.org/story", "wire")
    assert alert.created_at == to_iso(NOW)


def test_change_details_are_stored(db):
    article_id = add_article(db)
    store(db, article_id, 1, "v1")
    diff = Diff(ops=(), changes=(Change("figure", "12", "15", detail="value", delta=3.0, relative=0.25),))
    store(db, article_id, 2, "v2", diff=diff)

    (change,) = storage.list_changes(db)

    assert (change.detail, change.delta, change.relative) == ("value", 3.0, 0.25)


def test_a_claimed_alert_is_not_due_and_cannot_be_claimed_twice(db):
    alert_id = one_alert(db)

    assert storage.claim_alerts(db, [alert_id], NOW) == [alert_id]

    assert storage.pending_alerts(db, NOW) == []
    assert storage.claim_alerts(db, [alert_id], NOW) == []
    row = get_row(db, "alerts", alert_id)
    assert (row["status"], row["claimed_at"], row["attempts"]) == ("sending", to_iso(NOW), 0)


def test_failed_alert_comes_back_when_its_retry_is_due(db):
    alert_id = one_alert(db)
    retry = NOW + timedelta(minutes=1)

    attempt(db, alert_id, error="boom", retry_at=retry)

    assert storage.pending_alerts(db, NOW + timedelta(seconds=59)) == []
    (alert,) = storage.pending_alerts(db, retry)
    assert (alert.status, alert.attempts, alert.last_error, alert.next_attempt_at) == (
        "failed", 1, "boom", to_iso(retry))
    assert storage.claim_alerts(db, [alert_id], NOW) == []  # not yet due
    assert get_row(db, "alerts", alert_id)["claimed_at"] is None


def test_an_error_without_retry_abandons_the_alert(db):
    alert_id = one_alert(db)

    attempt(db, alert_id, error="boom")

    assert storage.pending_alerts(db, NOW + timedelta(days=365)) == []
    row = get_row(db, "alerts", alert_id)
    assert (row["status"], row["attempts"], row["last_error"], row["sent_at"]) == ("abandoned", 1, "boom", None)


def test_sent_alert_never_comes_back(db):
    alert_id = one_alert(db)
    attempt(db, alert_id)
    assert storage.pending_alerts(db, NOW + timedelta(days=365)) == []
    row = get_row(db, "alerts", alert_id)
    assert (row["status"], row["sent_at"], row["attempts"], row["claimed_at"]) == ("sent", to_iso(NOW), 1, None)
    assert storage.requeue_alerts(db, [alert_id]) == []


def test_sent_after_a_failure(db):
    alert_id = one_alert(db)
    attempt(db, alert_id, error="boom", retry_at=NOW)
    attempt(db, alert_id, NOW + timedelta(minutes=5))
    assert storage.pending_alerts(db, NOW + timedelta(days=1)) == []
    row = get_row(db, "alerts", alert_id)
    assert (row["last_error"], row["next_attempt_at"], row["attempts"]) == (None, None, 2)


def test_an_old_claim_becomes_uncertain_and_can_be_requeued(db):
    alert_id = one_alert(db)
    storage.claim_alerts(db, [alert_id], NOW)

    assert storage.expire_claims(db, NOW, "why") == 0  # claimed at NOW, not before
    assert storage.expire_claims(db, NOW + timedelta(minutes=15), "interrupted") == 1

    row = get_row(db, "alerts", alert_id)
    assert (row["status"], row["last_error"]) == ("uncertain", "interrupted")
    assert storage.pending_alerts(db, NOW + timedelta(days=1)) == []
    assert storage.requeue_alerts(db, [alert_id, 999]) == [alert_id]
    (alert,) = storage.pending_alerts(db, NOW)
    assert alert.status == "pending"


def test_list_alerts_by_status_and_newest(db):
    alert_id = one_alert(db)
    store(db, storage.find_article(db, "https://news.example.org/story").id, 3, "v3",
          diff=figure_diff("15", "17"), alerts=[(0, "figures", "json")])
    attempt(db, alert_id)

    assert [a.status for a in storage.list_alerts(db)] == ["sent", "pending"]
    assert [a.id for a in storage.list_alerts(db, status="sent")] == [alert_id]
    assert [a.after for a in storage.list_alerts(db, newest=1)] == ["17"]


# Migration 2: changes outside diffs, aliases, hosts ---------------------------------------

def test_migration_2_keeps_what_migration_1_stored(tmp_path):
    from storage.migrations import MIGRATIONS

    db = Database(tmp_path / "old.db")
    db.execute("CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    with db.atomic():
        MIGRATIONS[0][2](db)
        db["migrations"].insert({"id": 1, "name": "initial schema", "applied_at": to_iso(NOW)})
    # Rows as migration 1's code wrote them.
    db["sources"].insert({"id": 1, "name": "wire", "kind": "rss", "location": "https://news.example.org/feed"})
    db["articles"].insert({"id": 1, "canonical_url": "https://news.example.org/story", "source_id": 1,
                           "first_seen_at": to_iso(NOW), "status": "active", "feed_title": "Old"})
    for number in (1, 2):
        db["versions"].insert({"article_id": 1, "number": number, "fetched_at": to_iso(NOW),
                               "text_hash": f"h{number}", "text": f"text {number}"})
    db["diffs"].insert({"id": 1, "article_id": 1, "from_number": 1, "to_number": 2, "stats": "{}", "ops": "[]"})
    db["changes"].insert({"diff_id": 1, "article_id": 1, "seq": 0, "kind": "figure", "before": "12",
                          "after": "19", "detected_at": to_iso(NOW)})
    assert storage.migrate(db) == ALL_MIGRATIONS[1:]
    [change] = storage.list_changes(db)
    assert (change.origin, change.from_number, change.to_number, change.after) == ("page", 1, 2, "19")
    article = storage.get_article(db, 1)
    assert (article.priority, article.feed_title, article.feed_updated) == (0, "Old", None)
    assert [v.text for v in storage.list_versions(db, 1)] == ["text 1", "text 2"]


def test_changes_without_a_diff_are_listed_with_their_origin(db):
    article_id = add_article(db)
    gone = dataclasses.replace(storage.get_article(db, article_id), status="gone", next_check_at=None)
    storage.record_events(db, article_id, [Change("gone", "Headline", "HTTP 410")], NOW, checked=gone,
                          fetched=fetched())
    [change] = storage.list_changes(db, kind="gone")
    assert (change.origin, change.from_number, change.to_number, change.after) == (
        "fetch", None, None, "HTTP 410")
    assert storage.get_article(db, article_id).status == "gone"
    assert storage.count_rows(db)["fetches"] == 1


def test_list_changes_of_one_source_and_the_newest(db):
    first = add_article(db)
    store(db, first, 1, "v1")
    store(db, first, 2, "v2", diff=figure_diff())
    storage.sync_sources(db, [SourceSettings(name="other", kind="rss", url="https://other.example/feed")])
    storage.add_articles(db, storage.get_source(db, "other").id, [Entry(url="https://other.example/a")], NOW)
    second = storage.find_article(db, "https://other.example/a").id
    store(db, second, 1, "o1", at=NOW + timedelta(hours=1))
    store(db, second, 2, "o2", diff=figure_diff("1", "2"), at=NOW + timedelta(hours=1))

    assert {c.source for c in storage.list_changes(db, source="other")} == {"other"}
    assert len(storage.list_changes(db, source="wire")) == 2
    assert [c.after for c in storage.list_changes(db, newest=2)] == ["2", "New"]



def test_named_parameters_bind_by_name(db):
    from storage.db import _one

    assert _one(db, "SELECT :a AS a, :b AS b", {"a": 1, "b": "two"}) == {"a": 1, "b": "two"}


# Migration 3: disclosure, banners, suspects, re-extractions ---------------------------------

@sqlite_only
def test_migration_3_adds_its_columns_and_table(db):
    assert {"banner"} <= set(db["versions"].columns_dict)
    assert {"disclosed", "disclosures", "extractor_drift"} <= set(db["diffs"].columns_dict)
    assert {"suspect_hash", "suspect_at"} <= set(db["articles"].columns_dict)
    assert "reextractions" in db.table_names()


def test_record_version_stores_the_disclosure_and_the_banner(db):
    article_id = add_article(db)
    store(db, article_id, 1, "v1")
    disclosed = Diff(ops=((0, "v"), (-1, "1"), (1, "2")), disclosed=True,
                     disclosures=("notice: This story has been updated.",))
    storage.record_version(db, dataclasses.replace(version(article_id, 2, "v2"), banner="Updated 9:15 AM ET"),
                           b"<p>v2</p>", fetched(), storage.get_article(db, article_id), diff=disclosed)

    diff = storage.get_diff(db, article_id, 2)
    assert (diff.disclosed, diff.disclosures, diff.extractor_drift) == (
        True, ("notice: This story has been updated.",), False)
    assert storage.get_version(db, article_id, 2).banner == "Updated 9:15 AM ET"


def test_find_revert_needs_the_same_text_and_headline(db):
    article_id = add_article(db)
    store(db, article_id, 1, "A")
    storage.record_version(db, version(article_id, 2, "A", title="Other headline"), b"x", fetched(),
                           storage.get_article(db, article_id))
    assert storage.find_revert(db, article_id, "hash-A", "Headline") == 1
    assert storage.find_revert(db, article_id, "hash-A", "Other headline") == 2
    assert storage.find_revert(db, article_id, "hash-A", None) is None


def test_a_diff_marked_as_extractor_drift_leaves_the_list_of_changes(db):
    article_id = add_article(db)
    store(db, article_id, 1, "v1")
    store(db, article_id, 2, "v2", diff=figure_diff())
    store(db, article_id, 3, "v3", diff=figure_diff("15", "19"))

    storage.mark_extractor_drift(db, article_id, 2)

    assert [(c.to_number, c.kind) for c in storage.list_changes(db)] == [(3, "figure"), (3, "headline")]


def test_record_reextraction_keeps_one_row_per_version_and_extractor(db):
    article_id = add_article(db)
    store(db, article_id, 1, "v1")
    row = Reextraction("https://news.example.org/story", article_id, 1, "new", "old", to_iso(NOW), "h1", differs=True)
    storage.record_reextraction(db, row)
    storage.record_reextraction(db, dataclasses.replace(row, text_hash="h2", checked_at=to_iso(NOW + timedelta(days=1))))
    storage.record_reextraction(db, dataclasses.replace(row, extractor="newer"))

    stored = rows(db, "reextractions")
    assert [(r["extractor"], r["text_hash"], r["differs"]) for r in stored] == [("new", "h2", 1), ("newer", "h1", 1)]
    assert stored[0]["checked_at"] == to_iso(NOW + timedelta(days=1))


def test_source_name(db):
    source_id = add_source(db, "wire")
    assert storage.source_name(db, source_id) == "wire"
    assert storage.source_name(db, None) is None
    assert storage.source_name(db, 999) is None


def test_feed_changes_carry_their_source_and_alerts(db):
    article_id = add_article(db)
    source_id = storage.get_source(db, "wire").id
    seen = storage.find_articles(db, ["https://news.example.org/story"], source_id)["https://news.example.org/story"]
    renamed = dataclasses.replace(seen, feed_title="New")
    assert storage.record_feed_update(db, seen, renamed, [Change("headline", "Old", "New")], NOW, source_id,
                                      alerts=[(0, "heads", "json://x#1")], bump=True) == [1]
    [alert] = storage.pending_alerts(db, NOW + timedelta(days=1))
    assert (alert.kind, alert.after, alert.rule) == ("headline", "New", "heads")
    row = db.execute("SELECT source_id, diff_id FROM changes").fetchone()
    assert row == (source_id, None)
    article = storage.get_article(db, article_id)
    assert (article.feed_title, article.priority, article.next_check_at) == ("New", 1, to_iso(NOW))


@pytest.mark.parametrize("status, after", [("retired", "active"), ("gone", "gone"), ("active", "active")])
def test_a_feed_update_wakes_only_a_retired_article(db, status, after):
    article_id = add_article(db)
    set_state(db, article_id, status=status)
    source_id = add_source(db)
    seen = storage.find_articles(db, ["https://news.example.org/story"], source_id)["https://news.example.org/story"]
    storage.record_feed_update(db, seen, seen, [], NOW, source_id, bump=True)
    assert storage.get_article(db, article_id).status == after


def test_a_feed_update_already_recorded_by_another_poll_is_not_recorded_again(db):
    article_id = add_article(db)
    source_id = storage.get_source(db, "wire").id
    seen = storage.find_articles(db, ["https://news.example.org/story"], source_id)["https://news.example.org/story"]
    renamed = dataclasses.replace(seen, feed_title="New")
    first = storage.record_feed_update(db, seen, renamed, [Change("headline", seen.feed_title, "New")], NOW, source_id,
                                       alerts=[(0, "heads", "json://x#1")])
    # A second poll read the article before the first one wrote: what it saw is no longer so.
    again = storage.record_feed_update(db, seen, renamed, [Change("headline", seen.feed_title, "New")], NOW, source_id,
                                       alerts=[(0, "heads", "json://x#1")])
    assert len(first) == 1 and again is None
    assert len(storage.list_changes(db, kind="headline")) == 1 and len(storage.list_alerts(db)) == 1
    assert storage.get_article(db, article_id).id == article_id


def test_the_database_refuses_a_second_copy_of_an_event(db):
    article_id = add_article(db)
    gone = [Change("gone", "Headline", "HTTP 410")]
    assert storage.record_events(db, article_id, gone, NOW, alerts=[(0, "r", "json://x#1")]) == [1]
    assert storage.record_events(db, article_id, gone, NOW + timedelta(minutes=1), alerts=[(0, "r", "json://x#1")]) == [None]
    assert len(storage.list_changes(db, kind="gone")) == 1 and len(storage.list_alerts(db)) == 1


def test_each_feed_keeps_its_own_title_for_a_story(db):
    one = add_source(db, "one", url="https://one.example/feed")
    two = add_source(db, "two", url="https://two.example/feed")
    url = "https://news.example.org/story"
    storage.add_articles(db, one, [Entry(url, title="Flood kills 12")], NOW)
    storage.add_articles(db, two, [Entry(url, title="Flood kills 12 - Courier")], NOW)
    assert storage.find_articles(db, [url], one)[url].feed_title == "Flood kills 12"
    assert storage.find_articles(db, [url], two)[url].feed_title == "Flood kills 12 - Courier"


def test_migration_5_drops_doubled_events_and_keeps_feed_titles(tmp_path):
    bare = Database(tmp_path / "old.db")
    bare.execute("CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    for number, name, change in MIGRATIONS[:4]:
        change(bare)
        bare["migrations"].insert({"id": number, "name": name, "applied_at": to_iso(NOW)})
    bare["sources"].insert({"id": 1, "name": "wire", "kind": "rss", "location": "https://x.example/feed"})
    bare["articles"].insert({"id": 1, "canonical_url": "https://x.example/a", "source_id": 1, "status": "active",
                             "feed_title": "Old"})
    for change_id in (1, 2):  # the same feed rewrite, recorded by two overlapping polls
        bare["changes"].insert({"id": change_id, "article_id": 1, "kind": "headline", "before": "Old", "after": "New",
                                "origin": "feed"})
        bare["alerts"].insert({"change_id": change_id, "rule": "r", "channel": "c", "status": "pending"})

    assert storage.migrate(bare) == ALL_MIGRATIONS[4:]
    assert [row["id"] for row in rows(bare, "changes")] == [1]
    assert [row["change_id"] for row in rows(bare, "alerts")] == [1]
    assert rows(bare, "article_feeds") == [{"article_id": 1, "source_id": 1, "title": "Old", "summary": None,
                                           "updated": None}]


def test_bumped_articles_are_claimed_first(db):
    first = add_article(db, "https://news.example.org/a")
    second = add_article(db, "https://news.example.org/b")
    set_state(db, second, priority=1, next_check_at=NOW + timedelta(minutes=1))
    assert storage.claim_due_articles(db, NOW + timedelta(hours=1), LEASE) == [second, first]


def test_aliases_lead_to_their_article(db):
    article_id = add_article(db, "https://news.example.org/old")
    assert storage.claim_url(db, article_id, "https://news.example.org/new", "redirect", NOW) == article_id
    assert storage.find_article(db, "https://news.example.org/old").id == article_id
    assert set(storage.find_articles(db, ["https://news.example.org/old", "https://news.example.org/new",
                                          "https://news.example.org/other"])) == {
        "https://news.example.org/old", "https://news.example.org/new"}
    assert storage.list_aliases(db, article_id) == [Alias("https://news.example.org/old", "redirect", to_iso(NOW))]
    source_id = storage.get_source(db, "wire").id
    assert storage.add_articles(db, source_id, [Entry(url="https://news.example.org/old")], NOW) == 0


def test_claim_url_never_takes_another_articles_url(db):
    one = add_article(db, "https://news.example.org/one")
    two = add_article(db, "https://news.example.org/two")
    assert storage.claim_url(db, two, "https://news.example.org/one", "canonical", NOW) == one
    assert storage.get_article(db, two).canonical_url == "https://news.example.org/two"


def test_merge_folds_a_duplicate_into_its_story(db):
    story = add_article(db, "https://news.example.org/story")
    duplicate = add_article(db, "https://news.example.org/amp/story")
    storage.record_fetch(db, fetched("https://news.example.org/amp/story"), article_id=duplicate)
    storage.merge_article(db, duplicate, story, NOW)
    assert [a.id for a in storage.list_articles(db)] == [story]
    assert storage.find_article(db, "https://news.example.org/amp/story").id == story
    assert db.execute("SELECT article_id FROM fetches").fetchall() == [(story,)]


def test_merge_refuses_an_article_with_versions(db):
    story = add_article(db, "https://news.example.org/story")
    other = add_article(db, "https://news.example.org/other")
    store(db, other, 1, "text")
    with pytest.raises(StorageError, match="has versions"):
        storage.merge_article(db, other, story, NOW)
    assert len(storage.list_articles(db)) == 2


def test_add_aliases_waits_for_the_target(db):
    storage.add_aliases(db, {"https://t.co/x": "https://news.example.org/story"}, "wrapper", NOW)
    assert rows(db, "article_urls") == []
    article_id = add_article(db)
    storage.add_aliases(db, {"https://t.co/x": "https://news.example.org/story"}, "wrapper", NOW)
    assert storage.owner_of(db, "https://t.co/x") == article_id


def test_host_state(db):
    origin = "https://news.example.org"
    assert storage.get_host(db, origin).throttles == 0
    storage.save_robots(db, origin, 200, "User-agent: *", NOW, NOW + timedelta(days=1))
    storage.throttle_host(db, origin, NOW + timedelta(minutes=2))
    storage.throttle_host(db, origin, NOW + timedelta(minutes=4))
    host = storage.get_host(db, origin)
    assert (host.robots_status, host.throttles, host.blocked_until) == (
        200, 2, to_iso(NOW + timedelta(minutes=4)))
    storage.clear_throttle(db, origin)
    assert (storage.get_host(db, origin).throttles, storage.get_host(db, origin).blocked_until) == (0, None)
    assert storage.get_host(db, origin).robots_txt == "User-agent: *"


def test_host_slots_are_spaced_whoever_books_them(db):
    other = storage.open_db(location(db))  # a second connection, as another process has
    origin = "https://news.example.org"
    assert storage.reserve_host_slot(db, origin, 1000.0, 2.0) == 1000.0
    assert storage.reserve_host_slot(other, origin, 1000.5, 2.0) == 1002.0
    assert storage.reserve_host_slot(db, origin, 1001.0, 2.0) == 1004.0
    assert storage.reserve_host_slot(db, origin, 2000.0, 2.0) == 2000.0  # a quiet host: at once


def test_polls_that_sent_nothing_log_no_fetch(db):
    source_id = add_source(db)
    skipped = Fetched(url="https://news.example.org/feed.xml", final_url="https://news.example.org/feed.xml",
                      status=None, at=NOW, elapsed_ms=0, error="robots.txt disallows it", skipped="robots")
    storage.record_poll(db, source_id, skipped, skipped.error)
    assert storage.count_rows(db)["fetches"] == 0
    assert storage.get_source(db, "wire").last_error == "robots.txt disallows it"


# Leases and who holds them ----------------------------------------------------------------

def hold_in_another_process(path, seconds: float):
    """A process that claims every due article of the database at path, then sleeps (or is killed)."""
    import subprocess
    import sys

    code = ("import sys, time, storage; from datetime import datetime, timezone;"
            "db = storage.open_db(sys.argv[1]);"
            "ids = storage.claim_due_articles(db, datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc), 600);"
            "print(len(ids), flush=True); time.sleep(float(sys.argv[2]))")
    process = subprocess.Popen([sys.executable, "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert int(process.stdout.readline()) > 0
    return process


def test_a_lease_of_a_killed_process_is_taken_over_at_once(db):
    due, _, _ = three_articles(db)
    holder = hold_in_another_process(location(db), 60)
    assert storage.claim_due_articles(db, NOW, LEASE) == []  # alive: its lease holds
    assert storage.count_held_elsewhere(db, NOW) == 1
    holder.kill()
    holder.wait()
    assert storage.claim_due_articles(db, NOW, LEASE) == [due]  # dead: no waiting out the lease
    assert storage.count_held_elsewhere(db, NOW) == 0


def test_a_planned_lease_waits_for_its_checker_then_is_taken_over(db):
    due, _, _ = three_articles(db)
    planned = storage.lease_holder(hand_off=True)
    assert storage.claim_due_articles(db, NOW, LEASE, holder=planned) == [due]
    assert storage.claim_due_articles(db, NOW, LEASE) == []  # another run leaves it to the checker
    assert storage.hold_articles(db, [due], NOW, LEASE) == [due]  # the checker takes it over
    assert storage.get_article(db, due).id == due


def test_hold_articles_leaves_a_live_runs_articles_to_it(db):
    due, _, _ = three_articles(db)
    holder = hold_in_another_process(location(db), 60)
    try:
        assert storage.hold_articles(db, [due], NOW, LEASE) == []
    finally:
        holder.kill()
        holder.wait()
    assert storage.hold_articles(db, [due], NOW, LEASE) == [due]


def test_export_changes_and_alerts_stream_what_the_lists_hold(db):
    article = add_article(db)
    store(db, article, 1, "The toll is 12")
    store(db, article, 2, "The toll is 15", diff=figure_diff(), alerts=[(0, "figures", "json://x")])
    exported = storage.export_changes(db)
    assert not isinstance(exported, list)  # an iterator: nothing loaded before it is read
    assert sorted(c.id for c in exported) == sorted(c.id for c in storage.list_changes(db))
    assert [a.id for a in storage.export_alerts(db)] == [a.id for a in storage.list_alerts(db)]


def test_processes_claiming_at_once_share_the_due_articles_without_overlap(db):
    import subprocess
    import sys

    urls = [f"https://x.example/{n}" for n in range(60)]
    storage.add_articles(db, add_source(db), [Entry(u) for u in urls], NOW)
    code = ("import sys; from datetime import datetime, timezone; import storage;"
            "db = storage.open_db(sys.argv[1]); sys.stdin.readline();"  # all start claiming together
            "ids = storage.claim_due_articles(db, datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc), 600, limit=10);"
            "print(' '.join(map(str, ids)), flush=True); sys.stdin.readline()")  # alive until all have claimed
    claimers = [subprocess.Popen([sys.executable, "-c", code, location(db)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    for claimer in claimers:
        claimer.stdin.write("go\n")
        claimer.stdin.flush()
    claimed = [int(n) for claimer in claimers for n in claimer.stdout.readline().split()]
    outputs = [claimer.communicate("done\n", timeout=60) for claimer in claimers]
    assert [p.returncode for p in claimers] == [0] * 8, [err for _, err in outputs]
    assert len(claimed) == len(set(claimed)) == 60  # every due article once: 6 runs got 10, 2 got none


def test_processes_claiming_the_same_alerts_at_once_claim_each_once(db):
    import subprocess
    import sys
    import time

    article = add_article(db)
    store(db, article, 1, "The toll is 12")
    store(db, article, 2, "The toll is 15", diff=figure_diff(),
          alerts=[(seq, f"rule{n}", "json://x") for seq in (0, 1) for n in range(10)])
    ids = [alert.id for alert in storage.pending_alerts(db, NOW)]
    code = ("import sys; from datetime import datetime, timezone; import storage;"
            "db = storage.open_db(sys.argv[1]); ids = [int(i) for i in sys.argv[2:]]; sys.stdin.readline();"
            "print(' '.join(map(str, storage.claim_alerts(db, ids, datetime(2026, 11, 1, tzinfo=timezone.utc)))),"
            " flush=True); sys.stdin.readline()")
    claimers = [subprocess.Popen([sys.executable, "-c", code, location(db), *map(str, ids)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    # Another transaction holds the alerts meanwhile: every claimer has read them as due and waits to write.
    holder = storage.open_db(location(db))
    if getattr(holder, "dialect", "sqlite") == "postgresql":
        holder.connection.execute("BEGIN")
        holder.connection.execute("SELECT id FROM alerts FOR UPDATE")
    else:
        holder.execute("BEGIN IMMEDIATE")
    for claimer in claimers:
        claimer.stdin.write("go\n")
        claimer.stdin.flush()
    time.sleep(1.5)
    holder.execute("COMMIT")
    claimed = [int(n) for claimer in claimers for n in claimer.stdout.readline().split()]
    outputs = [claimer.communicate("done\n", timeout=60) for claimer in claimers]
    assert [p.returncode for p in claimers] == [0] * 6, [err for _, err in outputs]
    assert sorted(claimed) == sorted(ids) and len(ids) == 20  # each alert claimed by exactly one run


def test_requests_in_flight_to_a_host_are_counted_whoever_sent_them(db):
    origin = "https://news.example.org"
    first = storage.take_host_request(db, origin, 1000.0, limit=2, hold=60)
    other = storage.open_db(location(db))  # another process
    assert storage.take_host_request(other, origin, 1000.5, limit=2, hold=60) is not None
    assert storage.take_host_request(db, origin, 1001.0, limit=2, hold=60) is None  # full
    assert storage.take_host_request(db, "https://other.example", 1001.0, limit=2, hold=60) is not None
    storage.end_host_request(db, first)
    assert storage.take_host_request(db, origin, 1001.0, limit=2, hold=60) is not None
    assert storage.take_host_request(db, origin, 1001.0, limit=2, hold=60) is None
    # a request whose process died frees its place when its deadline passes
    assert storage.take_host_request(db, origin, 1061.0, limit=2, hold=60) is not None


# Raw pages (migration 10) -------------------------------------------------------------------

PAGE = b"<html><body>%s</body></html>" % b"".join(
    b"<p>Paragraph %d of the story, with its own words.</p>" % n for n in range(400))


def page(n: int) -> bytes:
    """PAGE revised n times: a sentence inserted per revision."""
    return PAGE.replace(b"</body>", b"".join(b"<p>Update %d.</p>" % k for k in range(n)) + b"</body>")


def blob_rows(db) -> dict:
    return {row["hash"]: row for row in rows(db, "blobs")}


def test_a_later_page_is_a_small_delta_of_the_previous_and_reads_back_exactly(db):
    article_id = add_article(db)
    store(db, article_id, 1, "v1", raw=page(0))
    store(db, article_id, 2, "v2", raw=page(1))
    first, second = (storage.get_version(db, article_id, n).raw_blob for n in (1, 2))
    packed = blob_rows(db)
    assert (packed[first]["codec"], packed[first]["base"], packed[first]["depth"]) == ("zstd", None, 0)
    assert (packed[second]["codec"], packed[second]["base"], packed[second]["depth"]) == ("zstd-delta", first, 1)
    assert len(packed[second]["bytes"]) < 100 < len(packed[first]["bytes"]) < len(PAGE) // 5
    assert (storage.get_blob(db, first), storage.get_blob(db, second)) == (page(0), page(1))


def test_each_later_page_is_a_delta_of_its_chains_whole_page_and_a_chain_starts_afresh(db):
    article_id = add_article(db)
    for number in range(1, CHAIN + 3):
        store(db, article_id, number, f"v{number}", raw=page(number))
    packed = blob_rows(db)
    blobs = [storage.get_version(db, article_id, n).raw_blob for n in range(1, CHAIN + 3)]
    # the chain that starts afresh starts against the site's page: here the article's own first page
    assert [packed[b]["depth"] for b in blobs] == [0, *[1] * (CHAIN - 1), 1, 2]
    assert {packed[b]["base"] for b in blobs[1:CHAIN + 1]} == {blobs[0]}
    assert packed[blobs[-1]]["base"] == blobs[CHAIN]
    assert [packed[b]["codec"] for b in blobs].count("zstd") == 1
    assert [storage.get_blob(db, b) for b in blobs] == [page(n) for n in range(1, CHAIN + 3)]


def test_a_chain_of_deltas_on_deltas_as_stored_before_reads_back_and_the_next_page_goes_no_deeper(db):
    import zstandard

    article_id = add_article(db)
    store(db, article_id, 1, "v1", raw=page(1))
    store(db, article_id, 2, "v2", raw=page(2))
    second = storage.get_version(db, article_id, 2).raw_blob
    third = "c" * 64  # page 3 packed against page 2, itself a delta, as chains were stored before
    packer = zstandard.ZstdCompressor(dict_data=zstandard.ZstdCompressionDict(page(2), dict_type=zstandard.DICT_TYPE_RAWCONTENT))
    db.execute("INSERT INTO blobs (hash, codec, bytes, base, depth) VALUES (?, 'zstd-delta', ?, ?, 2)",
               [third, packer.compress(page(3)), second])
    db.execute("INSERT INTO versions (article_id, number, text_hash, text, raw_blob, fetched_at) "
               "VALUES (?, 3, 'h3', 'v3', ?, '2026-01-01')", [article_id, third])
    store(db, article_id, 4, "v4", raw=page(4))

    assert storage.get_blob(db, third) == page(3)
    fourth = storage.get_version(db, article_id, 4).raw_blob
    assert blob_rows(db)[fourth]["depth"] <= 2 and storage.get_blob(db, fourth) == page(4)


def site_page(n: int, story: str) -> bytes:
    """A page of the site's template around a story of its own: what two articles of one site share."""
    return page(n).replace(b"<body>", b"<body><article>" + story.encode() * 50 + b"</article>")


def test_a_new_articles_first_page_is_packed_against_its_sites_page(db):
    first, second = add_article(db, "https://news.example.org/a"), add_article(db, "https://news.example.org/b")
    store(db, first, 1, "a1", raw=site_page(0, "Flood in the valley. "))
    store(db, second, 1, "b1", raw=site_page(0, "Fire on the hill. "))
    store(db, second, 2, "b2", raw=site_page(1, "Fire on the hill. "))
    elsewhere = add_article(db, "https://other.example.com/c")
    store(db, elsewhere, 1, "c1", raw=site_page(0, "Storm at sea. "), url="https://other.example.com/c")
    a1, b1, b2, c1 = (storage.get_version(db, *key).raw_blob for key in ((first, 1), (second, 1), (second, 2),
                                                                       (elsewhere, 1)))
    packed = blob_rows(db)
    assert (packed[b1]["codec"], packed[b1]["base"], packed[b1]["depth"]) == ("zstd-delta", a1, 1)
    assert len(packed[b1]["bytes"]) < len(packed[a1]["bytes"]) // 5
    assert (packed[b2]["base"], packed[b2]["depth"]) == (b1, 2)  # a later page: against its own chain's first
    assert (packed[c1]["codec"], packed[c1]["depth"]) == ("zstd", 0)  # another origin: whole, its own site page
    assert {row["origin"]: row["hash"] for row in rows(db, "page_bases")} == {
        "https://news.example.org": a1, "https://other.example.com": c1}
    assert storage.get_blob(db, b2) == site_page(1, "Fire on the hill. ")
    assert storage.find_faults(db) == []


def test_a_site_page_is_replaced_by_a_whole_page_after_serving_site_pages(db, monkeypatch):
    monkeypatch.setattr("storage.db.SITE_PAGES", 2)
    articles = [add_article(db, f"https://news.example.org/{n}") for n in range(4)]
    for n, article_id in enumerate(articles):
        store(db, article_id, 1, f"v{n}", raw=site_page(0, f"Story {n}. "))
    packed = blob_rows(db)
    firsts = [storage.get_version(db, article_id, 1).raw_blob for article_id in articles]
    assert [packed[b]["base"] for b in firsts] == [None, firsts[0], firsts[0], None]
    assert [(row["hash"], row["pages"]) for row in rows(db, "page_bases")] == [(firsts[3], 0)]


def test_pruning_keeps_a_sites_page(db):
    article_id = add_article(db)
    store(db, article_id, 1, "v1", raw=page(0))
    db.execute("UPDATE articles SET status = 'gone'")
    assert storage.prune_raw_pages(db, NOW + timedelta(days=1)) == (1, 0)
    [(site,)] = db.execute("SELECT hash FROM page_bases").fetchall()
    assert storage.get_blob(db, site) == page(0)


def test_check_db_reads_every_packed_page_back(db):
    article_id = add_article(db)
    for number in range(1, 4):
        store(db, article_id, number, f"v{number}", raw=page(number))
    assert storage.find_faults(db) == []


def test_pages_stored_before_migration_10_still_read(db):
    import zlib

    db.execute("INSERT INTO blobs (hash, codec, bytes) VALUES (?, 'zlib', ?)", ["a" * 64, zlib.compress(PAGE)])
    assert storage.get_blob(db, "a" * 64) == PAGE


def test_an_unknown_codec_is_named(db):
    db.execute("INSERT INTO blobs (hash, codec, bytes) VALUES (?, 'lz4', ?)", ["b" * 64, b"x"])
    with pytest.raises(StorageError, match=f"raw page {'b' * 64}: codec 'lz4' is unknown"):
        storage.get_blob(db, "b" * 64)


def test_pruning_keeps_a_page_another_page_is_a_delta_of(db):
    article_id = add_article(db)
    store(db, article_id, 1, "v1", raw=page(0))
    store(db, article_id, 2, "v2", raw=page(1))
    second = storage.get_version(db, article_id, 2).raw_blob
    db.execute("UPDATE versions SET raw_blob = NULL WHERE number = 1")  # as when another article shared the page

    assert storage.prune_raw_pages(db, NOW - timedelta(days=1)) == (0, 0)
    assert storage.get_blob(db, second) == page(1)
    db.execute("UPDATE versions SET raw_blob = NULL WHERE number = 2")
    db.execute("DELETE FROM page_bases")  # (the first page is its site's page too, which stays: tested below)
    assert storage.prune_raw_pages(db, NOW - timedelta(days=1)) == (0, 2)  # the delta, then the page it needed


# Texts (migration 12) ----------------------------------------------------------------------------

STORY = " ".join(f"Sentence {n} of the story says what happened in the town." for n in range(200))


@sqlite_only
def test_a_later_text_is_packed_against_its_chains_first_and_every_reader_gets_it_back(db):
    article_id = add_article(db)
    texts = [STORY + "".join(f" Update {k}." for k in range(n)) for n in range(CHAIN + 2)]
    for number, text in enumerate(texts, 1):
        store(db, article_id, number, text)
    stored = {row["number"]: row for row in rows(db, "versions")}
    assert [stored[n]["text_base"] for n in range(1, CHAIN + 3)] == [None, *[1] * (CHAIN - 1), None, CHAIN + 1]
    assert all(isinstance(row["text"], bytes) for row in stored.values())
    assert len(stored[2]["text"]) < 100 < len(stored[1]["text"]) < len(STORY) // 5
    assert [v.text for v in storage.list_versions(db, article_id)] == texts
    assert storage.get_version(db, article_id, 5).text == texts[4]
    assert storage.latest_version(db, article_id).text == texts[-1]
    assert [version.text for _, _, version in storage.export_versions(db)] == texts
    assert [text for *_, text in storage.version_texts(db)] == texts


@sqlite_only
def test_the_text_index_finds_and_quotes_packed_texts(db):
    article_id = add_article(db)
    store(db, article_id, 1, STORY + " The mayor resigned.")
    store(db, article_id, 2, STORY + " The mayor stayed.")
    [hit] = storage.search_versions(db, "resigned")
    assert (hit.version, hit.first_version, hit.disappeared_at) == (1, 1, 2)
    assert "\x02resigned\x03" in hit.snippet
    assert storage.find_faults(db) == []


def test_migration_12_packs_the_texts_stored_before_and_keeps_them_searchable(tmp_path):
    bare = Database(tmp_path / "old.db")
    bare.execute("CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    for number, name, change in MIGRATIONS[:11]:
        change(bare)
        bare["migrations"].insert({"id": number, "name": name, "applied_at": to_iso(NOW)})
    bare["articles"].insert({"id": 1, "canonical_url": "https://x.example/a", "status": "active"})
    for number in (1, 2):
        bare["versions"].insert({"article_id": 1, "number": number, "text_hash": f"h{number}",
                                 "text": f"{STORY} Version {number}.", "fetched_at": to_iso(NOW)})

    assert storage.migrate(bare) == ALL_MIGRATIONS[11:]
    assert [type(row["text"]) for row in rows(bare, "versions")] == [bytes, bytes]
    db = storage.open_db(tmp_path / "old.db")
    assert [v.text for v in storage.list_versions(db, 1)] == [f"{STORY} Version {n}." for n in (1, 2)]
    assert [hit.version for hit in storage.search_versions(db, '"version 2"')] == [2]
    assert storage.find_faults(db) == []


@sqlite_only
def test_a_text_stored_plain_before_migration_12_reads_as_it_is_and_starts_a_chain(db):
    article_id = add_article(db)
    db.execute("INSERT INTO versions (article_id, number, text_hash, text, fetched_at) VALUES (?, 1, 'h1', ?, ?)",
               [article_id, STORY, to_iso(NOW)])
    store(db, article_id, 2, STORY + " More.")
    assert [v.text for v in storage.list_versions(db, article_id)] == [STORY, STORY + " More."]
    assert [row["text_base"] for row in rows(db, "versions")] == [None, 1]


@sqlite_only
def test_a_new_archive_gives_its_free_pages_back(db):
    article_id = add_article(db)
    for number in range(1, 6):
        store(db, article_id, number, f"{STORY} {number}", raw=page(number) * 3)
    db.execute("UPDATE versions SET raw_blob = NULL")
    db.execute("UPDATE articles SET status = 'gone'")
    db.execute("DELETE FROM page_bases")
    storage.prune_raw_pages(db, NOW + timedelta(days=1))
    assert db.execute("PRAGMA freelist_count").fetchone()[0] > 0
    pages = db.execute("PRAGMA page_count").fetchone()[0]

    storage.release_free_pages(db)
    assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert db.execute("PRAGMA page_count").fetchone()[0] < pages


def test_an_archive_made_before_gives_free_pages_back_once_vacuumed(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "old.db")  # auto_vacuum off, as archives were made before
    old.execute("CREATE TABLE filler (x)")
    old.commit()
    old.close()
    db = storage.open_db(tmp_path / "old.db")
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    storage.vacuum(db)
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental


def test_opening_an_archive_writes_nothing(tmp_path):
    storage.open_db(tmp_path / "redline.db").close()
    wal = tmp_path / "redline.db-wal"
    before = wal.stat().st_size if wal.exists() else 0
    again = storage.open_db(tmp_path / "redline.db")
    assert (wal.stat().st_size if wal.exists() else 0) == before
    assert again.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
