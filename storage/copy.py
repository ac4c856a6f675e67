"""Copying an archive between SQLite and PostgreSQL (either way): streaming, resumable, verified.

Tables are copied in the order their foreign keys need, each in the order of its key, one batch per
transaction: an interrupted copy resumes after the last key the target holds. The counts that triggers
keep (per article, and change_counts) are not copied: the target's own triggers count them again as the
versions, diffs and changes arrive, so they are true of what was copied; nor is PostgreSQL's search column.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from pipeline.errors import StorageError
from pipeline.models import CopyProgress
from storage.db import Database, _immediate, _marks, _stream, text_chain_start, pack_version_text
from storage.dialect import on_server

# In the order their foreign keys need, with the key each is copied in the order of.
TABLES = (
    ("sources", ("id",)), ("articles", ("id",)), ("blobs", ("hash",)), ("versions", ("id",)), ("diffs", ("id",)),
    ("changes", ("id",)), ("alerts", ("id",)), ("fetches", ("id",)), ("reextractions", ("id",)),
    ("article_urls", ("url",)), ("hosts", ("origin",)), ("article_feeds", ("article_id", "source_id")),
    ("issues", ("id",)), ("issue_links", ("issue_id", "position")), ("mailbox_state", ("source_id",)),
    ("page_bases", ("origin",)),
)
# Not copied: what the target derives itself. Its triggers keep the counts as the rows they count arrive
# (migration 8).
DERIVED = {"articles": {"versions", "changes_found", "first_fetched_at", "first_update_at", "updates",
                        "stealth_edits", "bumped_edits"}}
# Versions are read as readers read them (the view version_texts): their texts plain (an SQLite archive packs
# them, migration 12; an SQLite target packs them again in chains, as record_version does), without
# PostgreSQL's search document, which the target computes itself.
READ_FROM = {"versions": "version_texts"}


def copy_archive(source: Database, target: Database, hash_text: Callable[[str], str],
                 batch_size: int = 2000) -> Iterator[CopyProgress]:
    """Copy every row of source into target (a new archive, or one an interrupted copy of source left),
    yielding progress after each batch. Each version's text is read back from the target and checked
    against its hash (hash_text, as extraction computes it): StorageError names the first that differs."""
    with _snapshot(source):
        for table, key in TABLES:
            total = source.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            copied = target.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            yield CopyProgress(table, copied, total)
            for batch in _batches(source, READ_FROM.get(table, table), key, _last_key(target, table, key), batch_size):
                with _immediate(target):
                    _insert_rows(target, table, batch)
                    if table == "versions":
                        _verify_texts(target, batch, hash_text)
                copied += len(batch)
                yield CopyProgress(table, copied, total)
            if key == ("id",) and on_server(target):  # new rows must be numbered after the copied ones
                target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} "
                               "HAVING max(id) IS NOT NULL").fetchall()
    # Statistics for the planner; on PostgreSQL also the text index's pending entries merged and the pages
    # marked visible: until then, the first searches of a freshly copied archive are slow (seconds at 1M).
    target.execute("VACUUM ANALYZE" if on_server(target) else "ANALYZE")


@contextmanager
def _snapshot(db: Database) -> Iterator[None]:
    # One read transaction for the whole copy: a run writing meanwhile is not half copied.
    if on_server(db):
        with db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("ROLLBACK")


def _last_key(db: Database, table: str, key: tuple[str, ...]) -> tuple | None:
    return db.execute(f"SELECT {', '.join(key)} FROM {table} ORDER BY {' DESC, '.join(key)} DESC LIMIT 1").fetchone()


def _batches(db: Database, table: str, key: tuple[str, ...], after: tuple | None, size: int) -> Iterator[list[dict]]:
    # Keyset pages, so a resumed copy starts where the target ends and no page rereads the ones before.
    columns = [c[0] for c in db.execute(f"SELECT * FROM {table} LIMIT 0").description if
               c[0] not in DERIVED.get(table, ())]
    keys = ", ".join(key)
    while True:
        where = f"WHERE ({keys}) > ({_marks(key)})" if after else ""
        batch = list(_stream(db, f"SELECT {', '.join(columns)} FROM {table} {where} ORDER BY {keys} LIMIT ?",
                             [*(after or ()), size]))
        if not batch:
            return
        yield batch
        after = tuple(batch[-1][name] for name in key)


def _insert_rows(db: Database, table: str, rows: list[dict]) -> None:
    if table == "versions" and not on_server(db):
        rows = _packed_versions(db, rows)
    columns = list(rows[0])
    sql = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({_marks(columns)})"
    values = [[row[name] for name in columns] for row in rows]
    (db if on_server(db) else db.conn).executemany(sql, values)  # the one INSERT, thousands of times


def _packed_versions(db: Database, rows: list[dict]) -> list[dict]:
    # Each text packed against the text that starts its chain, as record_version packs it: a chain begun in
    # this batch is kept in hand, one begun before is read back from the target.
    chains: dict[int, tuple[int, str] | None] = {}
    packed = []
    for row in rows:
        article = row["article_id"]
        chain = chains[article] if article in chains else text_chain_start(db, article)
        columns = pack_version_text(row["number"], row["text"], chain)
        chains[article] = (row["number"], row["text"]) if columns["text_base"] is None else chain
        packed.append({**row, **columns})
    return packed


def _verify_texts(db: Database, batch: list[dict], hash_text: Callable[[str], str]) -> None:
    expected = {row["id"]: row["text_hash"] for row in batch}
    stored = db.execute(f"SELECT id, article_id, number, text_hash, text FROM version_texts WHERE id IN ({_marks(expected)})",
                        list(expected)).fetchall()
    for version_id, article_id, number, text_hash, text in stored:
        if text_hash != expected[version_id] or hash_text(text) != text_hash:
            raise StorageError(f"article {article_id} v{number}: its copied text does not match its hash "
                               f"{expected[version_id][:12]}… (nothing of this batch was kept)")
    if len(stored) != len(expected):
        raise StorageError(f"versions {sorted(set(expected) - {row[0] for row in stored})}: not in the target "
                           "after copying (is it another archive?)")
