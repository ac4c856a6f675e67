"""Open and migrate the database, and the domain's reads and writes.

Writes are idempotent (keyed on natural keys) so a retried Airflow task never
duplicates a version, a change or an alert; each article check is one transaction.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import zlib
from contextlib import contextmanager, suppress
from dataclasses import fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.errors import NotFoundError, StorageError
from pipeline.masking import mask_text, mask_url
from pipeline.models import (Alert, Alias, Article, Change, Diff, Entry, Fetched, Host, Issue, Reextraction,
                             Source, StoredChange, StoredDiff, StoredIssue, Version, to_iso)
from storage.migrations import MIGRATIONS
from storage.dialect import is_url, on_server
from storage.sqlite import Database, build_dictionary, pack_text, unpack_text

BUSY_TIMEOUT = 30.0  # seconds a write waits for another connection's transaction to end
_INCREMENTAL_VACUUM = "PRAGMA auto_vacuum = INCREMENTAL"


def open_db(path: str | Path, create: bool = True, busy_timeout: float = BUSY_TIMEOUT,
            synchronous: str = "normal") -> Database:
    """The database at path, migrated if needed, in WAL mode with a busy timeout and SQLite's synchronous
    setting ("normal" or "full"); created (with its folder) only with create. A postgresql:// URL opens the
    archive on that server instead.
    StorageError names the path and the problem when it cannot be used."""
    if is_url(path):
        from storage.postgres import open_postgres  # psycopg is loaded only for an archive on a server

        return open_postgres(path, create=create)
    path = Path(path)
    if path.is_dir():
        raise StorageError(f"{path}: is a folder, not a database file")
    if not create and not path.exists():
        raise StorageError(f"{path}: no database there (`redline init` or `redline run` creates one; "
                           "check [database] path)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # (usable from any thread: a check batch's threads share one, in turns, check.check_batch)
        db = Database(sqlite3.connect(path, check_same_thread=False))
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if db.execute("PRAGMA page_count").fetchone()[0] == 0:
            # A new archive can give free pages back to the file system (release_free_pages); an existing
            # one once `redline vacuum` has rebuilt it. Only here: setting it writes a page every time.
            db.execute(_INCREMENTAL_VACUUM)
        db.enable_wal(synchronous)
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise StorageError(f"{path}: {_fault(exc)}") from None
    return db


def open_archive(settings, create: bool = True, location: str | Path | None = None) -> Database:
    """open_db for the archive the settings name ([database] url, else path), or for the one at location,
    with their busy timeout and synchronous setting."""
    return open_db(location or settings.archive_location, create=create, busy_timeout=settings.busy_timeout,
                   synchronous=settings.synchronous)


def _fault(exc: Exception) -> str:
    message = str(exc)
    if "not a database" in message:
        return "is not a SQLite database (another file at the path?)"
    if "readonly" in message or "read-only" in message:
        return "is read-only: Redline must write there (check the file's and its folder's permissions)"
    if "locked" in message or "busy" in message:
        return f"is locked by another process that did not let go in time ({message})"
    if isinstance(exc, OSError):
        return f"cannot be created ({exc.strerror or message})"
    return f"cannot be used ({message})"


def migrate(db: Database) -> list[int]:
    """Apply the migrations this database has not seen; returns their numbers."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    applied = []
    for number, name, change in MIGRATIONS:
        if db.execute("SELECT 1 FROM migrations WHERE id = ?", [number]).fetchone():
            continue  # the usual case: no lock taken
        with _immediate(db):  # a second process starting now waits here, then finds it done
            if db.execute("SELECT 1 FROM migrations WHERE id = ?", [number]).fetchone():
                continue
            change(db)
            db.execute("INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)",
                       [number, name, to_iso(datetime.now().astimezone())])
        applied.append(number)
    return applied


@contextmanager
def _immediate(db: Database) -> Iterator[Database]:
    # Every write transaction begins IMMEDIATE: it takes the write lock before its first statement,
    # waiting for it under the busy timeout. A deferred transaction that reads first (sqlite-utils
    # reads the schema before an insert) and then writes fails at once with SQLITE_BUSY when another
    # connection wrote in between: the busy timeout never applies to that upgrade in WAL mode.
    # And what a transaction reads to decide a write (a claim, a feed's last title) stays true.
    if on_server(db):  # PostgreSQL: rows are locked where a read decides a write (_locked)
        with db.transaction():
            yield db
        return
    if db.conn.in_transaction:  # a savepoint inside the transaction already holding the lock
        db.execute("SAVEPOINT immediate")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:  # an error that ended the whole transaction leaves no savepoint
                db.execute("ROLLBACK TO immediate")
                db.execute("RELEASE immediate")
            raise
        db.execute("RELEASE immediate")
        return
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:  # locked past the busy timeout, or read-only
        path = db.execute("PRAGMA database_list").fetchone()[2]
        raise StorageError(f"{path}: {_fault(exc)}") from None
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()


def _locked(db: Database, how: str = "FOR UPDATE") -> str:
    # SQLite's write lock covers the whole file from BEGIN IMMEDIATE; PostgreSQL locks the rows a
    # transaction reads to decide a write, and lets concurrent claims skip each other's rows.
    return f" {how}" if on_server(db) else ""


def _lock_article(db: Database, article_id: int) -> None:
    # A check, a feed update or a merge of one article reads, then writes: one writer per article at a time.
    if on_server(db):
        db.execute("SELECT 1 FROM articles WHERE id = ? FOR UPDATE", [article_id]).fetchall()


def _lock_counts(db: Database, article_id: int, kinds: Iterable[str]) -> None:
    # The triggers add each change to its (source, kind) count. Two transactions adding kinds in another
    # order would deadlock on those rows: take them first, in one order.
    if on_server(db):
        for kind in sorted(set(kinds)):
            db.execute("INSERT INTO change_counts (source_id, kind, changes) SELECT coalesce(source_id, 0), ?, 0 "
                       "FROM articles WHERE id = ? ON CONFLICT (source_id, kind) DO UPDATE "
                       "SET changes = change_counts.changes", [kind, article_id])


# How a stored column becomes a record's field: JSON lists and objects, and SQLite's 0/1 for booleans.
_DECODE = {
    "notices": lambda v: tuple(json.loads(v or "[]")),
    "disclosures": lambda v: tuple(json.loads(v or "[]")),
    "ops": lambda v: tuple(tuple(op) for op in json.loads(v)),
    "stats": json.loads,
    "extractor_drift": bool,
    "disclosed": lambda v: None if v is None else bool(v),
    "bumped": lambda v: None if v is None else bool(v),
}


def _record(cls, row: dict | None):
    if row is None:
        return None
    names = _field_names(cls)
    return cls(**{k: _DECODE[k](v) if k in _DECODE else v for k, v in row.items() if k in names})


@functools.cache
def _field_names(cls) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


def _bind(params: Iterable | dict) -> tuple | dict:
    # A dict binds :named parameters; tuple() of it would silently bind its keys instead.
    return params if isinstance(params, dict) else tuple(params)


def _one(db: Database, sql: str, params: Iterable | dict = ()) -> dict | None:
    cursor = db.execute(sql, _bind(params))
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row)) if row else None


def _rows(db: Database, sql: str, params: Iterable | dict = ()) -> Iterator[dict]:
    cursor = db.execute(sql, _bind(params))
    names = [c[0] for c in cursor.description]
    for row in cursor:
        yield dict(zip(names, row))


def _stream(db: Database, sql: str, params: Iterable | dict = ()) -> Iterator[dict]:
    # Row by row: an export of the whole archive never holds it in memory. SQLite's cursor reads as it is
    # iterated; PostgreSQL's would load every row first, so rows come one at a time from the server (the
    # connection is busy until the last one: a caller asks nothing else of this db meanwhile).
    yield from db.stream(sql, _bind(params)) if on_server(db) else _rows(db, sql, params)


def _all(db: Database, sql: str, params: Iterable | dict = ()) -> list[dict]:
    return list(_rows(db, sql, params))


# Sources -----------------------------------------------------------------------------------

def sync_sources(db: Database, sources: Iterable) -> dict[str, int]:
    """Upsert the configured sources (name, kind, url); returns their ids by name."""
    with _immediate(db):
        for source in sources:
            db.execute(
                "INSERT INTO sources (name, kind, location) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, location = excluded.location",
                (source.name, source.kind, mask_url(source.url)),
            )
    return {row["name"]: row["id"] for row in _all(db, "SELECT id, name FROM sources")}


def get_source(db: Database, name: str) -> Source:
    """The stored source called name, or NotFoundError."""
    source = _record(Source, _one(db, "SELECT * FROM sources WHERE name = ?", [name]))
    if source is None:
        raise NotFoundError(f"source {name!r} is not in the database")
    return source


def source_names_by_id(db: Database) -> dict[int, str]:
    """Every stored source's name, by id."""
    return {row["id"]: row["name"] for row in _all(db, "SELECT id, name FROM sources")}


def record_poll(db: Database, source_id: int, fetched: Fetched, error: str | None) -> None:
    """Remember when a source was polled, its validators and its error (None clears it)."""
    with _immediate(db):
        if not fetched.skipped:  # robots.txt or a throttled host kept the request from being sent
            _insert_fetch(db, fetched, source_id=source_id)
        updates = {"last_polled_at": to_iso(fetched.at), "last_error": mask_text(error)}
        if fetched.ok:
            updates.update(etag=fetched.etag, last_modified=fetched.last_modified)
        db.execute(f"UPDATE sources SET {', '.join(f'{name} = :{name}' for name in updates)} WHERE id = :id",
                   {**updates, "id": source_id})


def source_name(db: Database, source_id: int | None) -> str | None:
    """The name of the source with this id, or None."""
    row = _one(db, "SELECT name FROM sources WHERE id = ?", [source_id]) if source_id is not None else None
    return row["name"] if row else None


def add_articles(db: Database, source_id: int, entries: Iterable[Entry], now: datetime) -> int:
    """Track the entries' URLs (due at once); known URLs and aliases are left as they are, except that a story
    a newsletter linked first becomes the story of the feed that publishes it. Returns how many are new."""
    before = _count(db, "articles")
    # Polls run in parallel: which one found a story first must not decide whose it is.
    publisher = _one(db, "SELECT 1 FROM sources WHERE id = ? AND kind != 'newsletter'", [source_id]) is not None
    with _immediate(db):
        for entry in entries:
            db.execute(
                "INSERT INTO articles (canonical_url, source_id, first_seen_at, feed_title, feed_summary, "
                "feed_updated, status, next_check_at) SELECT ?, ?, ?, ?, ?, ?, 'active', ? "
                "WHERE NOT EXISTS (SELECT 1 FROM article_urls WHERE url = ?) "
                "ON CONFLICT(canonical_url) DO UPDATE SET source_id = excluded.source_id "
                "WHERE ? AND articles.source_id IN (SELECT id FROM sources WHERE kind = 'newsletter')",
                (entry.url, source_id, to_iso(now), entry.title, entry.summary, entry.updated, to_iso(now), entry.url,
                 publisher),
            )
            db.execute("INSERT OR IGNORE INTO article_feeds (article_id, source_id, title, summary, updated) "
                       "SELECT id, ?, ?, ?, ? FROM articles WHERE canonical_url = ?",
                       (source_id, entry.title, entry.summary, entry.updated, entry.url))
    return _count(db, "articles") - before


def find_articles(db: Database, urls: Iterable[str], source_id: int | None = None) -> dict[str, Article]:
    """The tracked article behind each of these URLs (its canonical URL or an alias); unknown URLs are left out.

    With source_id, each article's feed_title, feed_summary and feed_updated are what that source
    last said of it (None if it never listed it): a story two feeds title differently is no headline change.
    """
    found = {}
    for url in urls:
        row = _one(db, "SELECT a.* FROM articles a WHERE a.canonical_url = ? UNION ALL "
                       "SELECT a.* FROM article_urls u JOIN articles a ON a.id = u.article_id WHERE u.url = ? "
                       "LIMIT 1", [url, url])
        if row and source_id is not None:
            said = _one(db, "SELECT title, summary, updated FROM article_feeds WHERE article_id = ? AND source_id = ?",
                        [row["id"], source_id]) or {"title": None, "summary": None, "updated": None}
            row.update(feed_title=said["title"], feed_summary=said["summary"], feed_updated=said["updated"])
        if row:
            found[url] = _record(Article, row)
    return found


def owner_of(db: Database, url: str) -> int | None:
    """The id of the article tracked at url, as its canonical URL or as an alias."""
    row = _one(db, "SELECT id FROM articles WHERE canonical_url = ? UNION ALL "
                   "SELECT article_id FROM article_urls WHERE url = ? LIMIT 1", [url, url])
    return row["id"] if row else None


_SET_ALIAS = ("INSERT INTO article_urls (url, article_id, kind, seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (url) "
              "DO UPDATE SET article_id = excluded.article_id, kind = excluded.kind, seen_at = excluded.seen_at")


def claim_url(db: Database, article_id: int, url: str, kind: str, at: datetime) -> int:
    """Make url the article's canonical URL (the old one becomes an alias of this kind), unless
    another article owns url already: then nothing changes. Returns the id of url's owner."""
    with _immediate(db):
        _lock_article(db, article_id)
        owner = owner_of(db, url)
        if owner not in (None, article_id):
            return owner
        old = _one(db, "SELECT canonical_url FROM articles WHERE id = ?", [article_id])["canonical_url"]
        if old != url:
            db.execute("DELETE FROM article_urls WHERE url = ?", [url])
            db.execute("UPDATE articles SET canonical_url = ? WHERE id = ?", [url, article_id])
            db.execute(_SET_ALIAS, [old, article_id, kind, to_iso(at)])
    return article_id


def merge_article(db: Database, duplicate_id: int, into_id: int, at: datetime) -> None:
    """Fold an article with no versions into the one that tracks the same story: its URLs become aliases."""
    with _immediate(db):
        _lock_article(db, duplicate_id)
        if _one(db, "SELECT 1 FROM versions WHERE article_id = ?", [duplicate_id]):
            raise StorageError(f"article {duplicate_id} has versions and cannot be merged into {into_id}")
        url = _one(db, "SELECT canonical_url FROM articles WHERE id = ?", [duplicate_id])["canonical_url"]
        db.execute("UPDATE article_urls SET article_id = ? WHERE article_id = ?", [into_id, duplicate_id])
        db.execute("UPDATE fetches SET article_id = ? WHERE article_id = ?", [into_id, duplicate_id])
        db.execute("UPDATE changes SET article_id = ? WHERE article_id = ?", [into_id, duplicate_id])
        # What a feed said under the duplicate's URL stays known, unless it already describes the story.
        db.execute("UPDATE article_feeds SET article_id = ? WHERE article_id = ? AND source_id NOT IN "
                   "(SELECT source_id FROM article_feeds WHERE article_id = ?)", [into_id, duplicate_id, into_id])
        db.execute("DELETE FROM article_feeds WHERE article_id = ?", [duplicate_id])
        db.execute("DELETE FROM articles WHERE id = ?", [duplicate_id])
        db.execute(_SET_ALIAS, [url, into_id, "duplicate", to_iso(at)])


def add_aliases(db: Database, aliases: dict[str, str], kind: str, at: datetime) -> None:
    """Record each alias URL (a redirect wrapper, say) as another name of the article tracked at its
    target URL, once that article exists; an alias already recorded is kept."""
    with _immediate(db):
        for alias, target in aliases.items():
            db.execute("INSERT OR IGNORE INTO article_urls (url, article_id, kind, seen_at) "
                       "SELECT ?, id, ?, ? FROM articles WHERE canonical_url = ?", [alias, kind, to_iso(at), target])


def list_aliases(db: Database, article_id: int) -> list[Alias]:
    """The other URLs an article's story was found under, oldest first."""
    return [Alias(**row) for row in _all(
        db, "SELECT url, kind, seen_at FROM article_urls WHERE article_id = ? ORDER BY seen_at, url", [article_id])]


# Articles ----------------------------------------------------------------------------------

def lease_holder(hand_off: bool = False) -> str:
    """Who holds the leases this process takes: host, pid and the process's start time (so a reused
    pid is not taken for it). With hand_off, leases meant for other processes (Airflow's mapped check
    tasks) to take over: they last until they expire, whatever becomes of this process."""
    holder = _identity(os.getpid())
    return f"planned:{holder}" if hand_off else holder


@functools.lru_cache(maxsize=4)
def _identity(pid: int) -> str:
    # Keyed by pid: a forked task process (Airflow's) is someone else.
    return f"{_host()}:{pid}:{_started(pid)}"


def _host() -> str:
    return os.uname().nodename  # what socket.gethostname() answers, without loading the socket module


def _started(pid: int) -> str:
    try:  # Linux: field 22 of /proc/PID/stat, the start time in clock ticks since boot
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _alive(holder: str) -> bool:
    """Whether the process holding a lease may still be working on it: a lease of another host or a
    hand-off is trusted until it expires; a process of this host is asked."""
    host, _, rest = holder.partition(":")
    pid, _, started = rest.partition(":")
    if host == "planned" or host != _host() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started == "?" or _started(int(pid)) in (started, "?")


def _dead_holders(db: Database, now: datetime) -> list[str]:
    holders = db.execute("SELECT DISTINCT lease_holder FROM articles WHERE lease_until > ? AND lease_holder IS NOT NULL",
                         [to_iso(now)]).fetchall()
    return [holder for (holder,) in holders if not _alive(holder)]


def claim_due_articles(
    db: Database, now: datetime, lease_seconds: float, limit: int | None = None, everything: bool = False,
    holder: str | None = None,
) -> list[int]:
    """Lease the due articles (all live ones with everything) so no other run checks them too.
    A lease whose holder died (a killed run) is taken over at once, not after it expires."""
    holder = holder or lease_holder()
    due = "" if everything else "AND next_check_at <= ?"
    limit_sql = "LIMIT ?" if limit else ""
    with _immediate(db):
        dead = _dead_holders(db, now)
        ids = [row[0] for row in db.execute(
            f"SELECT id FROM articles WHERE status IN ('active', 'failing') {due} "
            f"AND (lease_until IS NULL OR lease_until <= ? OR lease_holder IN ({_marks(dead)})) "
            f"ORDER BY priority DESC, next_check_at, id {limit_sql}{_locked(db, 'FOR UPDATE SKIP LOCKED')}",
            [*([to_iso(now)] if due else []), to_iso(now), *dead, *([limit] if limit else [])],
        ).fetchall()]
        if ids:
            db.execute(
                f"UPDATE articles SET lease_until = ?, lease_holder = ? WHERE id IN ({_marks(ids)})",
                [to_iso(now + timedelta(seconds=lease_seconds)), holder, *ids],
            )
    return ids


def hold_articles(db: Database, ids: Iterable[int], now: datetime, lease_seconds: float,
                  holder: str | None = None) -> list[int]:
    """Take over the leases of these articles for this process (from the run that planned them, or
    from nobody); returns the ids now held. Those another live run holds are left to it."""
    holder, ids = holder or lease_holder(), list(ids)
    if not ids:
        return []
    with _immediate(db):
        dead = _dead_holders(db, now)
        free = (f"lease_holder IS NULL OR lease_holder = ? OR lease_holder LIKE 'planned:%' OR lease_until <= ? "
                f"OR lease_holder IN ({_marks(dead)})")
        free_ids = {row[0] for row in db.execute(
            f"SELECT id FROM articles WHERE id IN ({_marks(ids)}) AND ({free}){_locked(db, 'FOR UPDATE SKIP LOCKED')}",
            [*ids, holder, to_iso(now), *dead]).fetchall()}
        held = [article_id for article_id in ids if article_id in free_ids]  # in the planned order
        if held:
            db.execute(f"UPDATE articles SET lease_until = ?, lease_holder = ? WHERE id IN ({_marks(held)})",
                       [to_iso(now + timedelta(seconds=lease_seconds)), holder, *held])
    return held


def count_held_elsewhere(db: Database, now: datetime, everything: bool = False, holder: str | None = None) -> int:
    """How many due articles (every live one with everything) another live run holds: skipped by this one."""
    holder = holder or lease_holder()
    due = "" if everything else "AND next_check_at <= :now"
    rows = db.execute(f"SELECT lease_holder, count(*) FROM articles WHERE status IN ('active', 'failing') {due} "
                      "AND lease_until > :now AND lease_holder IS NOT :holder GROUP BY lease_holder",
                      {"now": to_iso(now), "holder": holder}).fetchall()
    return sum(count for owner, count in rows if owner is None or _alive(owner))


def article_urls_by_id(db: Database, ids: Iterable[int]) -> dict[int, str]:
    """The canonical URL of each of these articles, by id."""
    ids = list(ids)
    return {row["id"]: row["canonical_url"]
            for row in _all(db, f"SELECT id, canonical_url FROM articles WHERE id IN ({_marks(ids)})", ids)}


def get_article(db: Database, article_id: int) -> Article:
    """The article with this id, or NotFoundError."""
    article = _record(Article, _one(db, "SELECT * FROM articles WHERE id = ?", [article_id]))
    if article is None:
        raise NotFoundError(f"article {article_id} is not in the database")
    return article


def find_article(db: Database, url: str) -> Article:
    """The article tracked at this canonical URL or alias (or whose id this is), or NotFoundError."""
    owner = owner_of(db, url)
    row = _one(db, "SELECT * FROM articles WHERE id = ?", [owner]) if owner else None
    if row is None and url.isdigit():
        row = _one(db, "SELECT * FROM articles WHERE id = ?", [int(url)])
    if row is None:
        raise NotFoundError(f"no article is tracked at {url!r}")
    return _record(Article, row)


def list_articles(db: Database) -> list[Article]:
    """Every tracked article, oldest first."""
    return [_record(Article, row) for row in _all(db, "SELECT * FROM articles ORDER BY id")]


def _insert_fetch(db: Database, fetched: Fetched, article_id: int | None = None, source_id: int | None = None) -> None:
    # Plain SQL on the hot path: sqlite-utils' insert and update ask SQLite about the schema
    # first, which made up most of the statements an unchanged article cost.
    db.execute(
        "INSERT INTO fetches (url, article_id, source_id, at, status, bytes, elapsed_ms, error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [mask_url(fetched.url), article_id, source_id, to_iso(fetched.at), fetched.status, len(fetched.body),
         fetched.elapsed_ms, mask_text(fetched.error)],
    )


# What a check may change about an article; its identity and what its feed says are written elsewhere.
_CHECK_COLUMNS = ("status", "next_check_at", "last_checked_at", "checks", "priority", "etag", "last_modified",
                  "last_body_hash", "consecutive_failures", "last_error", "suspect_hash", "suspect_at", "title",
                  "last_changed_at", "changes")
_FEED_COLUMNS = ("feed_title", "feed_summary", "feed_updated")


def _save_check(db: Database, article: Article) -> None:
    # Plain SQL on the hot path (see _insert_fetch); the lease ends with the check.
    values = [mask_text(article.last_error) if name == "last_error" else getattr(article, name) for name in _CHECK_COLUMNS]
    db.execute(f"UPDATE articles SET {', '.join(f'{name} = ?' for name in _CHECK_COLUMNS)}, lease_until = NULL, "
               "lease_holder = NULL WHERE id = ?", [*values, article.id])


def record_fetch(db: Database, fetched: Fetched, article_id: int | None = None, source_id: int | None = None) -> None:
    """Append one request to the audit log."""
    with _immediate(db):
        _insert_fetch(db, fetched, article_id, source_id)


def record_check(db: Database, article: Article, fetched: Fetched | None = None) -> None:
    """Store an article's checking state after a check that made no version (the request it sent, if
    any, logged in the same transaction), and end its lease."""
    with _immediate(db):
        if fetched is not None:
            _insert_fetch(db, fetched, article_id=article.id)
        _save_check(db, article)


def record_check_error(db: Database, article_id: int, error: str) -> None:
    """Note on an article why its check broke off, and end its lease: the next run checks it again."""
    with _immediate(db):
        db.execute("UPDATE articles SET last_error = ?, lease_until = NULL, lease_holder = NULL WHERE id = ?",
                   [mask_text(error), article_id])


# Versions, diffs and changes ---------------------------------------------------------------

def record_events(
    db: Database,
    article_id: int,
    changes: Iterable[Change],
    at: datetime,
    alerts: Iterable[tuple[int, str, str]] = (),
    checked: Article | None = None,
    fetched: Fetched | None = None,
) -> list[int]:
    """Store changes a fetch revealed outside any diff (gone, redirected, a new address) and their
    pending alerts; with checked, the article's state after the check too (the request logged, the
    lease ended), all in one transaction. Returns the change ids."""
    with _immediate(db):
        if fetched is not None:
            _insert_fetch(db, fetched, article_id=article_id)
        change_ids = _insert_events(db, article_id, changes, at, "fetch", alerts)
        if checked is not None:
            _save_check(db, checked)
    return change_ids


def record_feed_update(
    db: Database,
    seen: Article,
    updated: Article,
    changes: Iterable[Change],
    at: datetime,
    source_id: int,
    alerts: Iterable[tuple[int, str, str]] = (),
    bump: bool = False,
) -> list[int] | None:
    """Store what a source now says of an article (updated's feed title, summary and date), the
    changes that reveals and their pending alerts. With bump the article is due at once, first in
    the queue, and a retired article becomes active again. Returns the change ids, or None when
    the source's record no longer reads as seen (another poll recorded this update first)."""
    with _immediate(db):
        _lock_article(db, seen.id)
        said = _one(db, "SELECT title, summary, updated FROM article_feeds WHERE article_id = ? AND source_id = ?",
                    [seen.id, source_id]) or {"title": None, "summary": None, "updated": None}
        if (said["title"], said["summary"], said["updated"]) != (seen.feed_title, seen.feed_summary, seen.feed_updated):
            return None
        change_ids = _insert_events(db, seen.id, changes, at, "feed", alerts, source_id)
        values = [getattr(updated, name) for name in _FEED_COLUMNS]
        db.execute("INSERT INTO article_feeds (article_id, source_id, title, summary, updated) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT(article_id, source_id) DO UPDATE SET title = excluded.title, "
                   "summary = excluded.summary, updated = excluded.updated", [seen.id, source_id, *values])
        db.execute(f"UPDATE articles SET {', '.join(f'{name} = ?' for name in _FEED_COLUMNS)} WHERE id = ?",
                   [*values, seen.id])
        if bump:
            # Only a retired article wakes up: a check may have found it gone meanwhile.
            db.execute("UPDATE articles SET priority = 1, next_check_at = ?, "
                       "status = CASE status WHEN 'retired' THEN 'active' ELSE status END WHERE id = ?",
                       [to_iso(at), seen.id])
    return change_ids


def list_headlines(db: Database, article_id: int, origin: str, since_version: int | None = None) -> list[str]:
    """The new headlines of an article's headline changes seen in one place (page or feed) at or after a
    version (default: its latest)."""
    rows = db.execute(
        "SELECT after FROM changes WHERE article_id = :article AND kind = 'headline' AND origin = :origin "
        "AND after IS NOT NULL AND coalesce(at_version, 0) >= coalesce(:since, "
        "(SELECT coalesce(max(number), 0) FROM versions WHERE article_id = :article))",
        {"article": article_id, "origin": origin, "since": since_version})
    return [row[0] for row in rows]


def _insert_events(db: Database, article_id: int, changes: Iterable[Change], at: datetime, origin: str,
                   alerts: Iterable[tuple[int, str, str]], source_id: int | None = None) -> list[int | None]:
    # Changes seen outside a diff belong to the article's latest version; one seen before gives None.
    at_version = db.execute("SELECT max(number) FROM versions WHERE article_id = ?", [article_id]).fetchone()[0]
    changes = list(changes)
    _lock_counts(db, article_id, [change.kind for change in changes])
    change_ids = [_insert_change(db, change, article_id, to_iso(at), seq=seq, origin=origin, source_id=source_id,
                                 at_version=at_version) for seq, change in enumerate(changes)]
    _insert_alerts(db, change_ids, alerts, to_iso(at))
    return change_ids


def _insert_alerts(db: Database, change_ids: list[int | None], alerts: Iterable[tuple[int, str, str]],
                   at: str) -> None:
    for seq, rule, channel in alerts:
        if change_ids[seq] is None:
            continue  # the change was recorded before, with its alerts
        db.execute("INSERT OR IGNORE INTO alerts (change_id, rule, channel, status, attempts, created_at) "
                   "VALUES (?, ?, ?, 'pending', 0, ?)", [change_ids[seq], rule, channel, at])


def record_version(
    db: Database,
    version: Version,
    raw: bytes,
    fetched: Fetched,
    checked: Article,
    diff: Diff | None = None,
    alerts: Iterable[tuple[int, str, str]] = (),
    raw_hash: str | None = None,
) -> list[int]:
    """Store a new version with its raw page, diff, changes and pending alerts, and the article's
    state after the check, in one transaction (which ends the article's lease).

    alerts holds (index of the change in diff.changes, rule name, channel). raw_hash is hash_page(raw),
    when the caller has it already (a check does). Returns the change ids.
    """
    blob = raw_hash or hash_page(raw)
    detected = to_iso(fetched.at)
    change_ids = []
    with _immediate(db):  # it reads before it writes: take the write lock first (see _immediate)
        _lock_article(db, version.article_id)
        stored = _one(db, "SELECT text_hash FROM versions WHERE article_id = ? AND number = ?",
                      [version.article_id, version.number])
        if stored and stored["text_hash"] == version.text_hash:
            return [row["id"] for row in _all(db, (
                "SELECT c.id FROM changes c JOIN diffs d ON d.id = c.diff_id "
                "WHERE d.article_id = ? AND d.to_number = ? ORDER BY c.seq"), [version.article_id, version.number])]
        _insert_fetch(db, fetched, article_id=version.article_id)
        _store_page(db, version.article_id, blob, raw, fetched.final_url or fetched.url)
        row = {f.name: getattr(version, f.name) for f in fields(Version)}
        row.update(notices=json.dumps(list(version.notices)), raw_blob=blob, **_packed_text(db, version))
        _insert(db, "versions", row)
        if diff is not None:
            before = _version_text(db, version.article_id, version.number - 1)
            diff_id = _insert(db, "diffs", {
                "article_id": version.article_id, "from_number": version.number - 1,
                "to_number": version.number, "stats": json.dumps(diff.stats),
                "ops": json.dumps(_pack_ops(diff.ops, before), ensure_ascii=False),
                "created_at": detected,
                "disclosed": int(diff.disclosed), "disclosures": json.dumps(list(diff.disclosures), ensure_ascii=False),
                "bumped": int(diff.bumped),
            })
            _lock_counts(db, version.article_id, [change.kind for change in diff.changes])
            for seq, change in enumerate(diff.changes):
                change_ids.append(_insert_change(db, change, version.article_id, detected, diff_id, seq,
                                                 at_version=version.number))
            _insert_alerts(db, change_ids, alerts, detected)
        _save_check(db, checked)
    return change_ids


def _marks(values: list | tuple) -> str:
    # One placeholder per value for IN (...); none is IN (NULL), which matches nothing: PostgreSQL has no IN ().
    return ",".join("?" * len(values)) or "NULL"


def _insert(db: Database, table: str, row: dict) -> int:
    cursor = db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) RETURNING id",
                        list(row.values()))
    return cursor.fetchall()[0][0]


def _count(db: Database, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


_CHANGE_COLUMNS = ("diff_id", "article_id", "seq", "kind", "before", "after", "context", "subject", "significance",
                   "detail", "delta", "relative", "detected_at", "origin", "source_id", "at_version")


def _insert_change(db: Database, change: Change, article_id: int, detected: str, diff_id: int | None = None,
                   seq: int | None = None, origin: str = "page", source_id: int | None = None,
                   at_version: int | None = None) -> int | None:
    # A change seen outside a diff is unique by what it says (migration 5): the same event seen
    # again, by an overlapping run say, is ignored and gives None.
    values = {"diff_id": diff_id, "article_id": article_id, "seq": seq, "kind": change.kind, "before": change.before,
              "after": change.after, "context": change.context, "subject": change.subject,
              "significance": change.significance, "detail": change.detail, "delta": change.delta,
              "relative": change.relative, "detected_at": detected, "origin": origin, "source_id": source_id,
              "at_version": at_version}
    row = db.execute(f"INSERT OR IGNORE INTO changes ({', '.join(_CHANGE_COLUMNS)}) "
                     f"VALUES ({', '.join('?' * len(_CHANGE_COLUMNS))}) RETURNING id",
                     [values[name] for name in _CHANGE_COLUMNS]).fetchall()
    return row[0][0] if row else None


def hash_page(raw: bytes) -> str:
    """A raw page's address in the archive (sha256, hex); a check compares it with the last page's."""
    import hashlib  # (OpenSSL's: 3 ms of a start that only reads the archive)

    return hashlib.sha256(raw).hexdigest()


# Raw pages are kept with zstandard, each packed with another page as zstd's dictionary where one is known:
# - an article's later page, against the page that starts its chain: a revision of a 250 kB page costs tens of
#   bytes, not a page. A chain starts afresh every CHAIN pages, so that a delta stays a delta as the story
#   drifts from its first page;
# - a chain's first page, against its site's page (page_bases: a whole page an earlier article from the same
#   origin stored), which shares the site's templates, scripts and styles: on the corpus's publishers with two
#   pages, the second packed against the first takes 0.70 of its size alone. A first page from an origin
#   without one is stored whole and becomes its page, and so does every SITE_PAGES-th, as templates drift.
# Reading a page back unpacks at most three. Chains stored before (each page against the previous one) still
# read: get_blob follows base to its end.
CHAIN = 8
SITE_PAGES = 200
# zstd's level 3 finds few matches in a 250 kB dictionary (later pages: deltas of 800 bytes); level 4 finds
# them (70 bytes), and higher levels gain nothing more. Against another article's page level 6 finds the
# shared parts (level 4: 0.77 of the page alone, 6: 0.70, 9: 0.67 for 1.9 ms more).
_WHOLE_LEVEL, _DELTA_LEVEL, _SITE_LEVEL = 9, 4, 6


def _store_page(db: Database, article_id: int, blob: str, raw: bytes, url: str) -> None:
    import zstandard

    if _one(db, "SELECT 1 AS found FROM blobs WHERE hash = ?", [blob]):
        return  # the same bytes are kept once, whoever fetched them
    base, level = _page_chain_start(db, article_id), _DELTA_LEVEL
    if base is None:
        from pipeline.crawl import origin_of  # (a page is stored by a check, which has loaded it)

        origin = origin_of(url)
        base, level = _site_page(db, origin), _SITE_LEVEL
        if base is None:
            db.execute("INSERT INTO page_bases (origin, hash, pages) VALUES (?, ?, 0) "
                       "ON CONFLICT(origin) DO UPDATE SET hash = excluded.hash, pages = 0", [origin, blob])
        else:
            db.execute("UPDATE page_bases SET pages = pages + 1 WHERE origin = ?", [origin])
    if base is None:
        row = [blob, "zstd", zstandard.ZstdCompressor(level=_WHOLE_LEVEL).compress(raw), None, 0]
    else:
        packer = zstandard.ZstdCompressor(level=level, dict_data=build_dictionary(get_blob(db, base["hash"])))
        row = [blob, "zstd-delta", packer.compress(raw), base["hash"], base["depth"] + 1]
    db.execute("INSERT OR IGNORE INTO blobs (hash, codec, bytes, base, depth) VALUES (?, ?, ?, ?, ?)", row)


def _page_chain_start(db: Database, article_id: int) -> dict | None:
    # The page (hash, depth) that starts the chain of the article's last pages, or None when its next page
    # starts one: its first, the CHAIN-th of a chain, or one after a chain stored before (deeper than a
    # site's delta). A page packed against one of the article's own pages is a later page of a chain.
    pages = _all(db, "SELECT b.hash, b.base, b.depth FROM versions v JOIN blobs b ON b.hash = v.raw_blob "
                 "WHERE v.article_id = ? ORDER BY v.number DESC LIMIT ?", [article_id, CHAIN])
    if not pages:
        return None
    own = {page["hash"]: page for page in pages}
    start = own.get(pages[0]["base"], pages[0])
    later = sum(page["base"] == start["hash"] for page in pages)
    return start if start["depth"] <= 1 and later + 1 < CHAIN else None


def _site_page(db: Database, origin: str) -> dict | None:
    # The whole page the first pages from origin are packed against, while it has served fewer than SITE_PAGES.
    return _one(db, "SELECT b.hash, b.depth FROM page_bases p JOIN blobs b ON b.hash = p.hash "
                "WHERE p.origin = ? AND p.pages < ? AND b.depth = 0", [origin, SITE_PAGES])


def _packed_text(db: Database, version: Version) -> dict:
    # The text and text_base columns of a new version (migration 12) on SQLite; PostgreSQL compresses long
    # texts itself.
    if on_server(db):
        return {}
    return pack_version_text(version.number, version.text, text_chain_start(db, version.article_id))


def text_chain_start(db: Database, article_id: int) -> tuple[int, str] | None:
    """The number and text of the version that starts the article's last chain of texts (SQLite), or None."""
    last = _one(db, "SELECT number, text_base FROM versions WHERE article_id = ? ORDER BY number DESC LIMIT 1",
                [article_id])
    if last is None:
        return None
    start = last["text_base"] or last["number"]
    return start, _version_text(db, article_id, start)


def pack_version_text(number: int, text: str, chain: tuple[int, str] | None) -> dict:
    """The text and text_base columns of version number on SQLite: its text packed against the text that starts
    its chain (text_chain_start's), or whole to start a chain, every CHAIN versions as pages are."""
    if chain is None or number - chain[0] >= CHAIN:
        return {"text": pack_text(text), "text_base": None}
    return {"text": pack_text(text, chain[1]), "text_base": chain[0]}


def _unpack(db: Database, blob_hash: str, codec: str, data: bytes, base: str | None) -> bytes:
    import zstandard

    try:
        if codec == "zlib":  # archives before migration 10
            return zlib.decompress(data)
        if codec == "zstd":
            return zstandard.ZstdDecompressor().decompress(data)
        if codec == "zstd-delta":
            return zstandard.ZstdDecompressor(dict_data=build_dictionary(get_blob(db, base))).decompress(data)
    except (zlib.error, zstandard.ZstdError) as exc:
        raise StorageError(f"raw page {blob_hash}: its bytes do not match its hash ({codec}: {exc})") from exc
    raise StorageError(f"raw page {blob_hash}: codec {codec!r} is unknown (expected zlib, zstd or zstd-delta)")


# A version's own columns, as readers read them: from the view version_texts, whose text is the plain text
# (an SQLite archive packs it, migration 12). PostgreSQL's table also holds its search document, which no
# reader needs.
_VERSION_COLUMNS = ", ".join(f.name for f in fields(Version))
_V_COLUMNS = ", ".join(f"v.{f.name}" for f in fields(Version))  # the same, of versions v in a join


def latest_version(db: Database, article_id: int) -> Version | None:
    """The newest version of the article, or None before the first."""
    return _record(Version, _one(
        db, f"SELECT {_VERSION_COLUMNS} FROM version_texts WHERE article_id = ? ORDER BY number DESC LIMIT 1", [article_id]))


def get_version(db: Database, article_id: int, number: int) -> Version:
    """Version number of the article, or NotFoundError."""
    version = _record(Version, _one(
        db, f"SELECT {_VERSION_COLUMNS} FROM version_texts WHERE article_id = ? AND number = ?", [article_id, number]))
    if version is None:
        raise NotFoundError(f"article {article_id} has no version {number}")
    return version


def list_versions(db: Database, article_id: int) -> list[Version]:
    """All versions of the article, oldest first."""
    return [_record(Version, row) for row in _all(
        db, f"SELECT {_VERSION_COLUMNS} FROM version_texts WHERE article_id = ? ORDER BY number", [article_id])]


def find_revert(db: Database, article_id: int, text_hash: str, title: str | None) -> int | None:
    """The earliest version of the article with this text and headline: the one a new version reverts to."""
    row = _one(db, "SELECT min(number) AS n FROM versions WHERE article_id = ? AND text_hash = ? AND title IS ?",
               [article_id, text_hash, title])
    return row["n"] if row else None


def get_diff(db: Database, article_id: int, to_number: int) -> StoredDiff | None:
    """The stored diff that leads to version to_number, if there is one."""
    diff = _record(StoredDiff, _one(db, "SELECT * FROM diffs WHERE article_id = ? AND to_number = ?",
                                    [article_id, to_number]))
    if diff is None or not _packed(diff.ops):
        return diff
    return replace(diff, ops=_unpack_ops(diff.ops, _version_text(db, article_id, diff.from_number) or ""))


def _version_text(db: Database, article_id: int, number: int) -> str | None:
    row = _one(db, "SELECT text FROM version_texts WHERE article_id = ? AND number = ?", [article_id, number])
    return row and row["text"]


def _pack_ops(ops: Iterable[tuple[int, str]], before: str | None) -> list:
    # A diff stores what changed: a kept run is stored as its length when the ops' old side is the previous
    # version's text (which holds it), whole when it is not (a text read again by a newer extractor).
    ops = [list(op) for op in ops]
    if _old_side(ops) != before:
        return ops
    return [[0, len(text)] if op == 0 else [op, text] for op, text in ops]


def _packed(ops: Iterable[tuple[int, str | int]]) -> bool:
    """Whether ops hold a kept run stored as its length."""
    return any(isinstance(text, int) for _, text in ops)


def _old_side(ops: Iterable[tuple[int, str]]) -> str:
    """The text whole ops run from: what they keep and delete."""
    return "".join(text for op, text in ops if op <= 0)


def _unpack_ops(ops: Iterable[tuple[int, str | int]], before: str) -> tuple[tuple[int, str], ...]:
    whole, at = [], 0
    for op, text in ops:
        if isinstance(text, int):
            text = before[at:at + text]
        at += len(text) if op <= 0 else 0
        whole.append((op, text))
    return tuple(whole)


_CHANGE_FIELDS = (
    "SELECT c.id, c.article_id, a.canonical_url AS url, a.title AS article_title, s.name AS source, c.kind, "
    "c.detail, c.before, c.after, c.context, c.subject, c.significance, c.delta, c.relative, c.detected_at, c.origin, "
    "d.from_number, d.to_number, d.disclosed, d.bumped "
    "FROM changes c LEFT JOIN diffs d ON d.id = c.diff_id JOIN articles a ON a.id = c.article_id "
    "LEFT JOIN sources s ON s.id = a.source_id WHERE (d.extractor_drift IS NULL OR d.extractor_drift = 0)"
)


def list_changes(db: Database, kind: str | None = None, article_id: int | None = None,
                 source: str | None = None, newest: int | None = None) -> list[StoredChange]:
    """Detected changes, oldest first, with their article's URL, title and source and the version
    numbers (none for a change seen in a feed or a fetch; origin says which: page, feed or fetch); newest keeps only the latest that many.

    Changes of a diff that re-extraction showed to be extractor drift are not newsroom edits: left out.
    """
    sql, params = _change_query(kind, article_id, source)
    if newest:
        rows = _all(db, f"SELECT * FROM ({sql} ORDER BY c.detected_at DESC, c.id DESC LIMIT ?) AS newest "
                        "ORDER BY detected_at, id", [*params, newest])
    else:
        rows = _all(db, sql + " ORDER BY c.detected_at, c.id", params)
    return [_record(StoredChange, row) for row in rows]


def stream_changes(db: Database, kind: str | None = None, article_id: int | None = None,
                   source: str | None = None) -> Iterator[StoredChange]:
    """list_changes streamed: every change, oldest first, read as it is iterated (in idx_changes_detected's
    order), so that a whole archive's changes are never in memory at once."""
    sql, params = _change_query(kind, article_id, source)
    return (_record(StoredChange, row) for row in _stream(db, sql + " ORDER BY c.detected_at, c.id", params))


def _change_query(kind: str | None, article_id: int | None, source: str | None) -> tuple[str, list]:
    conditions = {"c.kind = ?": kind, "c.article_id = ?": article_id, "s.name = ?": source}
    chosen = {condition: value for condition, value in conditions.items() if value}
    return _CHANGE_FIELDS + "".join(f" AND {condition}" for condition in chosen), list(chosen.values())


def export_changes(db: Database) -> Iterator[StoredChange]:
    """Every change as list_changes gives it, in the order they were stored, streamed (not loaded)."""
    return (_record(StoredChange, row) for row in _stream(db, _CHANGE_FIELDS + " ORDER BY c.id"))


def export_alerts(db: Database) -> Iterator[Alert]:
    """Every alert with its change, in the order they were made, streamed."""
    return (_record(Alert, row) for row in _stream(db, f"SELECT {_ALERT_FIELDS} ORDER BY al.id"))


def export_versions(db: Database) -> Iterator[tuple[str, str | None, Version]]:
    """Every version with its article's URL and source, article by article, oldest first (streamed, not loaded)."""
    for record in _stream(db, f"SELECT a.canonical_url AS url, s.name AS source, {_V_COLUMNS} FROM version_texts v "
                            "JOIN articles a ON a.id = v.article_id LEFT JOIN sources s ON s.id = a.source_id "
                            "ORDER BY a.id, v.number"):
        yield record["url"], record["source"], _record(Version, record)


def record_reextraction(db: Database, reextraction: Reextraction) -> None:
    """Remember what re-extracting a version's raw page gave: one row per version and extractor."""
    values = {"article_id": reextraction.article_id, "version_number": reextraction.number,
              "extractor": reextraction.extractor, "stored_extractor": reextraction.stored_extractor,
              "text_hash": reextraction.text_hash, "differs": int(reextraction.differs),
              "drift_only": int(reextraction.drift_only), "error": reextraction.error,
              "checked_at": reextraction.checked_at}
    with _immediate(db):
        db.execute(
            f"INSERT INTO reextractions ({', '.join(values)}) VALUES ({', '.join('?' * len(values))}) "
            "ON CONFLICT(article_id, version_number, extractor) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in list(values)[3:]),
            list(values.values()))


def mark_extractor_drift(db: Database, article_id: int, to_number: int) -> None:
    """Flag the diff leading to this version as extractor drift: its changes are not newsroom edits."""
    with _immediate(db):
        db.execute("UPDATE diffs SET extractor_drift = 1 WHERE article_id = ? AND to_number = ?",
                   [article_id, to_number])


def get_blob(db: Database, blob_hash: str) -> bytes:
    """The raw page stored under this hash, decompressed."""
    row = _one(db, "SELECT codec, bytes, base FROM blobs WHERE hash = ?", [blob_hash])
    if row is None:
        raise NotFoundError(f"blob {blob_hash} is not in the database")
    return _unpack(db, blob_hash, row["codec"], bytes(row["bytes"]), row["base"])


# Alerts ------------------------------------------------------------------------------------

_ALERT_FIELDS = (
    "al.id, al.rule, al.channel, al.status, al.attempts, al.last_error, al.created_at, al.next_attempt_at, "
    "al.claimed_at, al.claimed_by, al.sent_at, c.id AS change_id, c.kind, c.detail, c.before, c.after, c.context, c.subject, "
    "c.delta, c.relative, c.significance, c.detected_at, d.from_number, d.to_number, a.id AS article_id, "
    "a.canonical_url AS url, a.title AS article_title, s.name AS source "
    "FROM alerts al JOIN changes c ON c.id = al.change_id JOIN articles a ON a.id = c.article_id "
    "LEFT JOIN diffs d ON d.id = c.diff_id LEFT JOIN sources s ON s.id = a.source_id"
)
# Waiting to be sent: never tried, or failed and due for another attempt.
_DUE = "(al.status = 'pending' OR (al.status = 'failed' AND (al.next_attempt_at IS NULL OR al.next_attempt_at <= ?)))"


def pending_alerts(db: Database, now: datetime) -> list[Alert]:
    """Alerts due for delivery (new, or failed and due again), with their change, versions and article."""
    return [_record(Alert, row) for row in _all(db, f"SELECT {_ALERT_FIELDS} WHERE {_DUE} ORDER BY al.id",
                                                [to_iso(now)])]


def claim_alerts(db: Database, ids: Iterable[int], now: datetime, holder: str | None = None) -> list[int]:
    """Mark these alerts as being sent by this process, if they are still due; returns the ids this
    call claimed.

    The claim commits before anything is sent, so two runs never send one alert, and an alert
    whose run died while sending stays `sending` rather than being sent again.
    """
    holder, ids = holder or lease_holder(), list(ids)
    if not ids:
        return []
    with _immediate(db):  # one statement: a second claimer waiting on these rows finds them no longer due
        claimed = {row[0] for row in db.execute(
            f"UPDATE alerts AS al SET status = 'sending', claimed_at = ?, claimed_by = ? "
            f"WHERE al.id IN ({_marks(ids)}) AND {_DUE} RETURNING id", [to_iso(now), holder, *ids, to_iso(now)]
        ).fetchall()}
    return [alert_id for alert_id in ids if alert_id in claimed]


def finish_alerts(db: Database, ids: Iterable[int], at: datetime, error: str | None = None,
                  retry_at: datetime | None = None) -> None:
    """Record one delivery attempt of claimed alerts: sent (no error), failed and due again at
    retry_at, or abandoned (an error and no retry_at)."""
    ids = list(ids)
    status = "sent" if error is None else "failed" if retry_at else "abandoned"
    with _immediate(db):
        db.execute(
            "UPDATE alerts SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?, "
            "claimed_at = NULL, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END "
            f"WHERE id IN ({_marks(ids)})",
            [status, error, to_iso(retry_at) if retry_at else None, status, to_iso(at), *ids],
        )


def expire_claims(db: Database, claimed_before: datetime, note: str) -> int:
    """Mark alerts whose sending never finished as `uncertain`: claimed by a process that is gone, or
    before that moment (a claim of another host). Their run died while sending: they may or may not
    have arrived, since a channel's acceptance is recorded the moment it answers. Returns how many."""
    with _immediate(db):
        holders = [h for (h,) in db.execute("SELECT DISTINCT claimed_by FROM alerts WHERE status = 'sending' "
                                            "AND claimed_by IS NOT NULL").fetchall()]
        dead = [holder for holder in holders if not _alive(holder)]
        cursor = db.execute(
            "UPDATE alerts SET status = 'uncertain', last_error = ? WHERE status = 'sending' AND (claimed_at < ? "
            f"OR claimed_by IN ({_marks(dead)}))", [note, to_iso(claimed_before), *dead])
    return cursor.rowcount


def list_alerts(db: Database, status: str | None = None, newest: int | None = None) -> list[Alert]:
    """Alerts with their delivery state, change and article, oldest first (or the newest that many)."""
    where = " WHERE al.status = ?" if status else ""
    params = [status] if status else []
    if newest:
        rows = _all(db, f"SELECT * FROM (SELECT {_ALERT_FIELDS}{where} ORDER BY al.id DESC LIMIT ?) AS newest ORDER BY id",
                    [*params, newest])
    else:
        rows = _all(db, f"SELECT {_ALERT_FIELDS}{where} ORDER BY al.id", params)
    return [_record(Alert, row) for row in rows]


def requeue_alerts(db: Database, ids: Iterable[int]) -> list[int]:
    """Make failed, abandoned or uncertain alerts due again now; returns the ids requeued
    (sent alerts, and those being sent, are left alone so nothing is sent twice by mistake)."""
    ids = list(ids)
    if not ids:
        return []
    with _immediate(db):
        requeued = {row[0] for row in db.execute(
            f"UPDATE alerts SET status = 'pending', next_attempt_at = NULL WHERE id IN ({_marks(ids)}) "
            "AND status IN ('failed', 'abandoned', 'uncertain') RETURNING id", ids).fetchall()}
    return [alert_id for alert_id in ids if alert_id in requeued]


# Hosts -------------------------------------------------------------------------------------

def get_host(db: Database, origin: str) -> Host:
    """The stored politeness state of an origin (scheme://host:port); empty fields if it has none."""
    host = _record(Host, _one(db, "SELECT * FROM hosts WHERE origin = ?", [origin])) or Host(origin)
    return replace(host, throttles=host.throttles or 0)


def _upsert_host(db: Database, origin: str, values: dict) -> None:
    columns = ", ".join(values)
    updates = ", ".join(f"{name} = excluded.{name}" for name in values)
    db.execute(f"INSERT INTO hosts (origin, {columns}) VALUES (?{', ?' * len(values)}) "
               f"ON CONFLICT(origin) DO UPDATE SET {updates}", [origin, *values.values()])


def save_robots(db: Database, origin: str, status: int | None, text: str | None,
                fetched_at: datetime, expires_at: datetime) -> None:
    """Cache an origin's robots.txt (status None when it could not be fetched) until expires_at."""
    with _immediate(db):
        _upsert_host(db, origin, {"robots_status": status, "robots_txt": text,
                                  "robots_fetched_at": to_iso(fetched_at), "robots_expires_at": to_iso(expires_at)})


def throttle_host(db: Database, origin: str, until: datetime) -> None:
    """Hold every request to the origin until then, and count the throttle."""
    with _immediate(db):
        db.execute("INSERT INTO hosts (origin, blocked_until, throttles) VALUES (?, ?, 1) ON CONFLICT(origin) "
                   "DO UPDATE SET blocked_until = excluded.blocked_until, throttles = hosts.throttles + 1",
                   [origin, to_iso(until)])


def clear_throttle(db: Database, origin: str) -> None:
    """The origin answered normally again: forget its throttling."""
    with _immediate(db):
        db.execute("UPDATE hosts SET blocked_until = NULL, throttles = 0 WHERE origin = ?", [origin])


def reserve_host_slot(db: Database, origin: str, clock: float, spacing: float) -> float:
    """Book the origin's next request slot, spacing seconds after the one before (any process's);
    returns when it starts, on the same clock (time.time()) as clock."""
    with _immediate(db):
        end = db.execute(
            "INSERT INTO hosts (origin, next_slot_at) VALUES (:origin, :clock + :spacing) ON CONFLICT(origin) "
            "DO UPDATE SET next_slot_at = max(coalesce(hosts.next_slot_at, 0), :clock) + :spacing RETURNING next_slot_at",
            {"origin": origin, "clock": clock, "spacing": spacing},
        ).fetchall()[0][0]  # read to the end, so the statement is finished before the commit
    return end - spacing


def take_host_request(db: Database, origin: str, clock: float, limit: int, hold: float,
                      holder: str | None = None) -> int | None:
    """Count one more request in flight to the origin, if fewer than limit are (whichever process sent them);
    its id, or None when the origin is full. It counts until end_host_request, or until clock + hold passes
    (its process died). clock is time.time()."""
    with _immediate(db):
        if on_server(db):  # the origin's row, made or locked, serialises the count-then-insert of every worker
            db.execute("INSERT INTO hosts (origin) VALUES (?) ON CONFLICT (origin) DO UPDATE SET origin = hosts.origin",
                       [origin])
        db.execute("DELETE FROM host_requests WHERE origin = ? AND until < ?", [origin, clock])
        if db.execute("SELECT count(*) FROM host_requests WHERE origin = ?", [origin]).fetchone()[0] >= limit:
            return None
        return db.execute("INSERT INTO host_requests (origin, holder, until) VALUES (?, ?, ?) RETURNING id",
                          [origin, holder or lease_holder(), clock + hold]).fetchall()[0][0]


def end_host_request(db: Database, request_id: int) -> None:
    """The request counted by take_host_request is over."""
    with _immediate(db):
        db.execute("DELETE FROM host_requests WHERE id = ?", [request_id])


def count_rows(db: Database) -> dict[str, int]:
    """How many rows each of Redline's tables holds."""
    return {name: _count(db, name) for name in
            ("sources", "articles", "versions", "diffs", "changes", "alerts", "fetches")}


# Newsletters -------------------------------------------------------------------------------

def has_issue(db: Database, message_id: str) -> bool:
    """Whether the newsletter issue with this Message-ID is stored (received before, from any mailbox)."""
    return db.execute("SELECT 1 FROM issues WHERE message_id = ?", [message_id]).fetchone() is not None


def record_issue(db: Database, source_id: int, issue: Issue, at: datetime, subject_key: str | None = None,
                 corrects: StoredIssue | None = None) -> int | None:
    """Store a newsletter issue and its links, each with the article tracked at its URL (track them
    first), as a new version of the issue it corrects if any; None when an issue with its Message-ID
    is already stored."""
    with _immediate(db):
        row = db.execute(
            "INSERT OR IGNORE INTO issues (source_id, message_id, subject, sender, list_id, sent_at, text, received_at, "
            "subject_key, version, corrects) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [source_id, issue.message_id, issue.subject, issue.sender, issue.list_id, issue.sent_at, issue.text,
             to_iso(at), subject_key, corrects.version + 1 if corrects else 1, corrects.id if corrects else None]
        ).fetchall()
        if not row:
            return None
        for link in issue.links:
            db.execute("INSERT INTO issue_links (issue_id, position, url, anchor, article_id) VALUES (?, ?, ?, ?, ?)",
                       [row[0][0], link.position, link.url, link.anchor, owner_of(db, link.url)])
    return row[0][0]


def mailbox_state(db: Database, source_id: int) -> tuple[int | None, int]:
    """(UIDVALIDITY, last UID read) of a newsletter's IMAP folder: (None, 0) before its first read."""
    row = db.execute("SELECT uidvalidity, last_uid FROM mailbox_state WHERE source_id = ?", [source_id]).fetchone()
    return (row[0], row[1]) if row else (None, 0)


def save_mailbox_state(db: Database, source_id: int, uidvalidity: int, last_uid: int) -> None:
    """Remember how far a newsletter's IMAP folder was read."""
    with _immediate(db):
        db.execute("INSERT INTO mailbox_state (source_id, uidvalidity, last_uid) VALUES (?, ?, ?) ON CONFLICT(source_id) "
                   "DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
                   [source_id, uidvalidity, last_uid])


def list_issues(db: Database, source: str | None = None, article_id: int | None = None,
                subject_key: str | None = None, sent_between: tuple[str, str] | None = None) -> list[StoredIssue]:
    """Newsletter issues, oldest first, with their links in order: of one source, that linked one
    article, or with a subject key sent in a window (an issue received again, or one a re-send corrects)."""
    where, params = [], []
    if subject_key:
        where.append("i.subject_key = ?")
        params.append(subject_key)
    if sent_between:
        where.append("i.sent_at BETWEEN ? AND ?")
        params.extend(sent_between)
    if source:
        where.append("s.name = ?")
        params.append(source)
    if article_id:
        where.append("i.id IN (SELECT issue_id FROM issue_links WHERE article_id = ?)")
        params.append(article_id)
    rows = _all(db, "SELECT i.id, s.name AS source, i.message_id, i.subject, i.sender, i.list_id, i.sent_at, "
                    "i.received_at, i.version, i.corrects, i.text FROM issues i LEFT JOIN sources s ON s.id = i.source_id"
                    + (" WHERE " + " AND ".join(where) if where else "")
                    + " ORDER BY coalesce(i.sent_at, i.received_at), i.id", params)
    issues = []
    for row in rows:
        links = tuple(db.execute("SELECT url, anchor, article_id FROM issue_links WHERE issue_id = ? ORDER BY position",
                                 [row["id"]]).fetchall())
        issues.append(StoredIssue(**row, links=links))
    return issues


# Maintenance -------------------------------------------------------------------------------

def _page_fault(db: Database, blob_hash: str, base: str | None, damaged: dict[str, bool]) -> str | None:
    """What is wrong with one stored raw page, if anything; damaged remembers the pages already judged."""
    try:
        fault = None if hash_page(get_blob(db, blob_hash)) == blob_hash else \
            f"raw page {blob_hash}: its bytes do not match its hash"
    except (NotFoundError, StorageError) as exc:
        fault = str(exc)
    if fault and base is not None:
        if base not in damaged:
            row = _one(db, "SELECT base FROM blobs WHERE hash = ?", [base])
            damaged[base] = row is None or _page_fault(db, base, row["base"], damaged) is not None
        if damaged[base]:
            fault = f"raw page {blob_hash}: it is packed against raw page {base}, which is missing or damaged"
    damaged[blob_hash] = fault is not None
    return fault


def find_faults(db: Database) -> list[str]:
    """What is wrong with the archive, one line each (none: it is sound): SQLite's own integrity and
    foreign-key checks, the full-text index, raw pages missing or not matching their hash, gaps in
    an article's version numbers, version and change counts kept on articles, and diffs whose versions are missing
    or whose kept runs do not fit the text they were stored against."""
    faults = [] if on_server(db) else _sqlite_faults(db)  # PostgreSQL enforces its keys as it writes
    faults += [f"article {article_id} v{number}: its raw page {blob} is missing"
               for article_id, number, blob in db.execute(
                   "SELECT article_id, number, raw_blob FROM versions v WHERE raw_blob IS NOT NULL "
                   "AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = v.raw_blob)").fetchall()]
    damaged: dict[str, bool] = {}
    after = ""
    # In pages, not one stream: reading a page back asks the connection more (PostgreSQL's is busy while it streams).
    while pages := _all(db, "SELECT hash, base FROM blobs WHERE hash > ? ORDER BY hash LIMIT 500", [after]):
        faults += filter(None, (_page_fault(db, row["hash"], row["base"], damaged) for row in pages))
        after = pages[-1]["hash"]
    faults += [f"article {article_id}: versions numbered {low}..{high} but {count} stored (a gap)"
               for article_id, low, high, count in db.execute(
                   "SELECT article_id, min(number), max(number), count(*) FROM versions GROUP BY article_id "
                   "HAVING min(number) != 1 OR max(number) != count(*)").fetchall()]
    faults += [f"article {article_id}: counts {versions} version(s) and {found} change(s), but {real_versions} and "
               f"{real_changes} are stored (the workspace would rank it wrongly)"
               for article_id, versions, found, real_versions, real_changes in db.execute(
                   "SELECT id, versions, changes_found, real_versions, real_changes FROM (SELECT a.id, a.versions, "
                   "a.changes_found, a.first_update_at, (SELECT count(*) FROM versions v WHERE v.article_id = a.id) "
                   "AS real_versions, (SELECT count(*) FROM changes c WHERE c.article_id = a.id) AS real_changes, "
                   "(SELECT fetched_at FROM versions v WHERE v.article_id = a.id AND v.number = 2) AS second_at "
                   "FROM articles a) AS kept WHERE versions != real_versions OR changes_found != real_changes "
                   "OR first_update_at IS NOT second_at").fetchall()]
    faults += [f"article {article_id}: counts {updates} update(s) and {stealth} stealth edit(s), but its diffs say "
               f"{real_updates} and {real_stealth}"
               for article_id, updates, stealth, real_updates, real_stealth in db.execute(
                   "SELECT id, updates, stealth_edits, real_updates, real_stealth FROM (SELECT a.id, a.updates, "
                   "a.stealth_edits, (SELECT count(*) FROM diffs d WHERE d.article_id = a.id AND d.extractor_drift = 0) "
                   "AS real_updates, (SELECT count(*) FROM diffs d WHERE d.article_id = a.id AND d.extractor_drift = 0 "
                   "AND d.disclosed = 0 AND d.bumped = 0) AS real_stealth FROM articles a) AS kept "
                   "WHERE updates != real_updates OR stealth_edits != real_stealth").fetchall()]
    faults += [f"change counts of source {source_id or '(none)'}, kind {kind}: {kept} kept, {real} stored"
               for source_id, kind, kept, real in db.execute(
                   "SELECT source_id, kind, sum(kept), sum(stored) FROM (SELECT source_id, kind, changes AS kept, 0 AS stored "
                   "FROM change_counts UNION ALL SELECT coalesce(a.source_id, 0), c.kind, 0, 1 FROM changes c "
                   "JOIN articles a ON a.id = c.article_id) AS counts GROUP BY source_id, kind HAVING sum(kept) != sum(stored)"
               ).fetchall()]
    faults += [f"diff {diff_id} of article {article_id}: v{from_number}→v{to_number} lacks a version"
               for diff_id, article_id, from_number, to_number in db.execute(
                   "SELECT d.id, d.article_id, d.from_number, d.to_number FROM diffs d WHERE "
                   "NOT EXISTS (SELECT 1 FROM versions v WHERE v.article_id = d.article_id AND v.number = d.from_number) "
                   "OR NOT EXISTS (SELECT 1 FROM versions v WHERE v.article_id = d.article_id AND v.number = d.to_number)"
               ).fetchall()]
    after = 0
    while diffs := _all(db, f"SELECT d.id, d.article_id, d.from_number, d.to_number, d.ops, v.text, {_base_text(db)} "
                            "AS base FROM diffs d JOIN versions v ON v.article_id = d.article_id AND v.number = d.from_number "
                            "WHERE d.id > ? ORDER BY d.id LIMIT 500", [after]):
        faults += [f"diff {row['id']} of article {row['article_id']}: v{row['from_number']}→v{row['to_number']} keeps "
                   f"runs that are not v{row['from_number']}'s text" for row in diffs
                   if (before := _readable_text(row["text"], row["base"])) is not None and not _ops_fit(row["ops"], before)]
        after = diffs[-1]["id"]
    return faults


def _ops_fit(stored: str, before: str) -> bool:
    """Whether a diff's stored ops read back against the text it was packed against (whole ops always do)."""
    ops = json.loads(stored)
    return not _packed(ops) or _old_side(_unpack_ops(ops, before)) == before


def _sqlite_faults(db: Database) -> list[str]:
    # SQLite's own integrity and foreign-key checks, and its full-text index's.
    faults = [f"integrity: {row[0]}" for row in db.execute("PRAGMA integrity_check").fetchall() if row[0] != "ok"]
    faults += [f"{table} row {rowid}: refers to a missing row of {parent}"
               for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check").fetchall()]
    try:
        db.execute("INSERT INTO versions_fts (versions_fts) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as exc:
        faults.append(f"full-text index: {exc}")
    return faults


def version_texts(db: Database) -> Iterator[tuple[str, int, str, str | None]]:
    """(article URL, number, stored text hash, text) of every version, streamed; the text is None where the
    stored bytes no longer unpack."""
    for row in _stream(db, f"SELECT a.canonical_url, v.number, v.text_hash, v.text, {_base_text(db)} AS base "
                           "FROM versions v JOIN articles a ON a.id = v.article_id ORDER BY v.article_id, v.number"):
        yield row["canonical_url"], row["number"], row["text_hash"], _readable_text(row["text"], row["base"])


def _base_text(db: Database) -> str:
    # The stored text that versions v's text was packed against (migration 12; PostgreSQL packs none).
    return ("NULL" if on_server(db) else
            "(SELECT b.text FROM versions b WHERE b.article_id = v.article_id AND b.number = v.text_base)")


def _readable_text(stored: str | bytes, base: str | bytes | None) -> str | None:
    # What the checks read instead of the view version_texts, whose first damaged text would end the query.
    import zstandard

    try:
        return unpack_text(stored, base)
    except (zstandard.ZstdError, UnicodeDecodeError):
        return None


def backup(db: Database, target: str | Path) -> None:
    """Copy the archive to target through SQLite's online backup: a consistent copy, even while
    another run writes. target must not exist yet."""
    if on_server(db):
        raise StorageError(f"{target}: `redline backup` copies an SQLite archive; an archive on PostgreSQL is "
                           "backed up by the server's own tools (pg_dump), or copied with `redline migrate-archive`")
    target = Path(target)
    if target.exists():
        raise StorageError(f"{target}: already exists (a backup never overwrites a file)")
    target.parent.mkdir(parents=True, exist_ok=True)
    copy = sqlite3.connect(target)
    try:
        db.conn.backup(copy)
    finally:
        copy.close()


def prune_raw_pages(db: Database, checked_before: datetime,
                    statuses: tuple[str, ...] = ("retired", "gone", "redirected")) -> tuple[int, int]:
    """Drop the raw pages of articles no longer checked (of these statuses, last checked before that
    moment); their texts, diffs and changes stay, and so do the pages others are packed against and
    the sites' pages (page_bases). Returns (versions touched, raw pages deleted)."""
    marks = _marks(statuses)
    with _immediate(db):
        touched = db.execute(
            f"UPDATE versions SET raw_blob = NULL WHERE raw_blob IS NOT NULL AND article_id IN (SELECT id FROM "
            f"articles WHERE status IN ({marks}) AND coalesce(last_checked_at, first_seen_at) < ?)",
            [*statuses, to_iso(checked_before)]).rowcount
        deleted = 0
        while dropped := db.execute(  # a page some kept page is a delta against stays, until that one goes
                "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.raw_blob = blobs.hash) "
                "AND NOT EXISTS (SELECT 1 FROM blobs d WHERE d.base = blobs.hash) "
                "AND NOT EXISTS (SELECT 1 FROM page_bases p WHERE p.hash = blobs.hash)").rowcount:
            deleted += dropped
    return touched, deleted


def release_free_pages(db: Database) -> None:
    """Give the archive's free pages back to the file system: those the full-text index leaves as it merges
    its segments (0.5 MB of a 13 MB archive after a round of the replay benchmark), which would otherwise
    wait in the file for later writes. A no-op for an archive made before (until `redline vacuum`), on
    PostgreSQL, and when the write lock stays taken past the busy timeout (the next run releases them)."""
    if on_server(db) or db.conn.in_transaction:
        return
    with suppress(sqlite3.OperationalError):
        db.conn.executescript("PRAGMA incremental_vacuum")  # (execute() would free one page per call)


def vacuum(db: Database) -> None:
    """Give the space of deleted rows back to the file system (it needs the archive to itself a moment); an
    archive made before migration 13 is rebuilt to give its free pages back after each check batch from then on."""
    if not on_server(db):
        db.execute(_INCREMENTAL_VACUUM)
    db.execute("VACUUM")


def measure_archive(db: Database) -> int:
    """The archive's size in bytes: its file's pages, or its database on the server."""
    if on_server(db):
        return db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
