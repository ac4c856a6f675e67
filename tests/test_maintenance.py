"""Tests for pipeline/maintenance.py (check-db, backup, prune, vacuum) on archives made by real runs."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest
from click.testing import CliRunner

import storage
from pipeline import cycle, maintenance
from pipeline.cli import cli
from pipeline.errors import StorageError
from pipeline.models import Change
from storage.sqlite import add_functions


@pytest.fixture
def archive(newsroom, newsroom_settings):
    """An archive of the demo newsroom after three rounds: versions, diffs, changes and alerts."""
    now = cycle.utcnow()
    for round_number in range(3):
        cycle.run_cycle(newsroom_settings, now + timedelta(minutes=round_number), everything=True)
        newsroom.advance()
    return newsroom_settings


def tamper(settings, *statements):
    raw = sqlite3.connect(settings.database)
    add_functions(raw)  # the full-text index's triggers read texts with them
    raw.execute("PRAGMA foreign_keys = OFF")
    for statement in statements:
        raw.execute(statement)
    raw.commit()
    raw.close()


def edit_text(words: str, where: str) -> str:
    """A statement that appends words to the texts of the versions where says, stored plain (as before migration 12)."""
    return (f"UPDATE versions SET text = (SELECT t.text FROM version_texts t WHERE t.id = versions.id) || ' {words}', "
            f"text_base = NULL WHERE {where}")


def test_a_sound_archive_is_ok(archive, tmp_path):
    assert maintenance.check_db(archive) == []
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\npath = "{archive.database}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-db", "--config", str(config)])
    assert (result.exit_code, result.output) == (0, "ok\n")


def test_a_text_that_no_longer_matches_its_hash_is_named(archive):
    tamper(archive, edit_text("(edited by hand)", "number = 2 AND article_id = 1"))
    diff, text = maintenance.check_db(archive)
    assert " v2: its text does not match its hash" in text
    # and the diff from v2, which keeps runs of v2's text by their length, no longer reads back
    assert diff.endswith(" of article 1: v2→v3 keeps runs that are not v2's text")


def test_a_packed_text_that_no_longer_unpacks_is_named_with_the_texts_packed_against_it(archive):
    tamper(archive, "DROP TRIGGER versions_au",  # which would fail to index the damaged text
           "UPDATE versions SET text = substr(text, 1, 20) WHERE number = 1 AND article_id = 1")
    faults = maintenance.check_db(archive)
    assert [f for f in faults if "v1: its stored text does not unpack" in f]
    assert [f for f in faults if "v2: its stored text does not unpack" in f]  # packed against v1's
    assert all("does not match its hash" not in f for f in faults)


def test_a_missing_raw_page_a_gap_and_a_diff_without_its_version_are_named(archive):
    db = storage.open_db(archive.database)
    [(article_id, blob)] = db.execute("SELECT article_id, raw_blob FROM versions WHERE number = 3 LIMIT 1").fetchall()
    tamper(archive, f"DELETE FROM blobs WHERE hash = '{blob}'",
           f"DELETE FROM versions WHERE article_id = {article_id} AND number = 2")
    faults = "\n".join(maintenance.check_db(archive))
    assert "refers to a missing row of blobs" in faults or "is missing" in faults
    assert f"article {article_id}: versions numbered 1..3 but 2 stored (a gap)" in faults
    assert f"of article {article_id}: v1→v2 lacks a version" in faults


def test_check_db_exits_non_zero_naming_each_problem(archive, tmp_path):
    tamper(archive, "UPDATE blobs SET bytes = x'00' WHERE hash NOT IN (SELECT base FROM blobs WHERE base IS NOT NULL) "
                    "AND rowid = (SELECT max(rowid) FROM blobs)")  # a page no other page is packed against
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\npath = "{archive.database}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-db", "--config", str(config)])
    assert result.exit_code == 1
    assert "do not match its hash" in result.output and "1 problem(s) found" in result.output


def test_a_damaged_page_names_the_later_pages_packed_against_it(archive):
    db = storage.open_db(archive.database)
    [(delta, base)] = db.execute("SELECT hash, base FROM blobs WHERE base IS NOT NULL LIMIT 1").fetchall()
    tamper(archive, f"UPDATE blobs SET bytes = x'00' WHERE hash = '{base}'")
    faults = "\n".join(maintenance.check_db(archive))
    assert f"raw page {base}: its bytes do not match its hash" in faults
    assert f"raw page {delta}: it is packed against raw page {base}, which is missing or damaged" in faults


def test_a_backup_taken_while_a_run_writes_restores_every_version(archive, newsroom, tmp_path):
    source = storage.open_db(archive.database)
    stop, errors = threading.Event(), []

    def keep_writing():
        now = cycle.utcnow() + timedelta(hours=1)
        while not stop.is_set():
            try:
                newsroom.advance()
                cycle.run_cycle(archive, now, everything=True)
                now += timedelta(minutes=1)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        copies = [maintenance.backup(archive, tmp_path / f"backup-{n}.db") for n in range(3)]
    finally:
        stop.set()
        writer.join(timeout=120)
    assert errors == []
    written = {(url, number): (text_hash, text) for url, number, text_hash, text in storage.version_texts(source)}
    for copy in copies:
        assert maintenance.check_db(archive, copy) == []
        restored = storage.open_db(copy, create=False)
        kept = {(url, number): (text_hash, text) for url, number, text_hash, text in storage.version_texts(restored)}
        assert kept and all(written[key] == value for key, value in kept.items())


def test_a_backup_never_overwrites_a_file(archive, tmp_path):
    (tmp_path / "there.db").write_bytes(b"precious")
    with pytest.raises(StorageError, match="already exists"):
        maintenance.backup(archive, tmp_path / "there.db")
    assert (tmp_path / "there.db").read_bytes() == b"precious"


def test_prune_drops_raw_pages_of_articles_no_longer_checked_and_keeps_their_texts(archive):
    db = storage.open_db(archive.database)
    [article] = [a for a in storage.list_articles(db) if a.canonical_url.endswith("/news/library-reopens")]
    tamper(archive, f"UPDATE articles SET status = 'retired' WHERE id = {article.id}")
    later = cycle.utcnow() + timedelta(days=40)

    touched, deleted = maintenance.prune(archive, 30 * 86400, now=later)

    assert (touched, deleted) == (1, 1)
    assert [v.raw_blob for v in storage.list_versions(db, article.id)] == [None]
    assert storage.list_versions(db, article.id)[0].text  # the text stays
    assert maintenance.check_db(archive) == []
    assert maintenance.prune(archive, 30 * 86400, now=later) == (0, 0)
    before, after = maintenance.vacuum(archive)
    assert after <= before


# migrate-archive: SQLite to PostgreSQL and back ---------------------------------------------

def contents(db) -> tuple:
    """What a reader sees of an archive: every article with its counts, version, change and alert, and the stats."""
    articles = storage.list_articles(db)
    return (storage.count_rows(db), articles, [storage.list_versions(db, a.id) for a in articles],
            storage.list_changes(db), storage.list_alerts(db), storage.summarise_sources(db),
            sorted(storage.get_blob(db, v.raw_blob) for a in articles for v in storage.list_versions(db, a.id)))


def test_an_archive_copied_to_postgresql_and_back_is_the_same_archive(archive, postgres_url, tmp_path):
    steps = list(maintenance.migrate_archive(archive.database, postgres_url, batch_size=3))
    assert {step.table for step in steps} == {table for table, _ in storage.TABLES}
    last = {step.table: step for step in steps}
    assert all(step.copied == step.total for step in last.values())
    back = tmp_path / "back.db"
    assert list(maintenance.migrate_archive(postgres_url, back))
    original, on_server, returned = (storage.open_db(where) for where in (archive.database, postgres_url, back))
    assert contents(on_server) == contents(original) == contents(returned)
    assert storage.find_faults(on_server) == [] and maintenance.check_db(archive, back) == []
    # Texts are packed in chains again, each against the text that starts its chain, as they were stored.
    chains = "SELECT article_id, number, text_base FROM versions ORDER BY id"
    assert returned.execute(chains).fetchall() == original.execute(chains).fetchall()
    assert any(base for _, _, base in original.execute(chains).fetchall())
    # The copy is an archive to go on with: new rows are numbered after the copied ones.
    article = storage.list_articles(on_server)[0]
    storage.record_events(on_server, article.id, [Change("gone", None, "404")], cycle.utcnow())
    assert max(c.id for c in storage.list_changes(on_server)) > max(c.id for c in storage.list_changes(original))


def test_an_interrupted_copy_resumes_where_it_stopped(archive, postgres_url):
    steps = maintenance.migrate_archive(archive.database, postgres_url, batch_size=2)
    for step in steps:
        if step.table == "changes" and step.copied:
            break  # as if killed: some changes are in, the rest and what follows are not
    steps.close()
    copy = storage.open_db(postgres_url)
    assert 0 < storage.count_rows(copy)["changes"] < storage.count_rows(storage.open_db(archive.database))["changes"]
    resumed = list(maintenance.migrate_archive(archive.database, postgres_url, batch_size=2))
    assert resumed[0].table == "sources" and resumed[0].copied == resumed[0].total  # nothing copied twice
    assert contents(storage.open_db(postgres_url)) == contents(storage.open_db(archive.database))


def test_a_text_that_does_not_match_its_hash_stops_the_copy_and_names_the_version(archive, tmp_path):
    tamper(archive, edit_text("(altered)", "id = 2"))
    target = tmp_path / "copy.db"
    with pytest.raises(StorageError, match=r"article \d+ v\d+: its copied text does not match its hash"):
        list(maintenance.migrate_archive(archive.database, target, batch_size=1))
    copied = storage.open_db(target).execute("SELECT id FROM versions").fetchall()
    assert copied == [(1,)]  # the batch before is kept, the altered one is not


def test_migrate_archive_command(archive, postgres_url):
    result = CliRunner().invoke(cli, ["migrate-archive", str(archive.database), postgres_url])
    assert result.exit_code == 0, result.output
    assert "copied" in result.output
    assert storage.count_rows(storage.open_db(postgres_url)) == storage.count_rows(storage.open_db(archive.database))
    same = CliRunner().invoke(cli, ["migrate-archive", str(archive.database), str(archive.database)])
    assert same.exit_code == 1 and "the source and the target are the same archive" in same.output
    missing = CliRunner().invoke(cli, ["migrate-archive", "/nonexistent/redline.db", postgres_url])
    assert missing.exit_code == 1 and "/nonexistent/redline.db: no database there" in missing.output
