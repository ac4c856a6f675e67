"""The archive on PostgreSQL: a pooled connection that runs the SQL storage/db.py writes, and the schema.

Statements are written once, in SQLite's dialect, and rewritten by storage.dialect.translate.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg_pool import ConnectionPool

from pipeline.errors import StorageError
from pipeline.masking import mask_url
from storage.dialect import translate
from storage.migrations import VERSION_TEXTS_COLUMNS

# Migrations 1-8 of storage/migrations.py, as one schema (BASELINE); every later migration is written for
# both databases under the same number (MIGRATIONS, at the end of this file).
BASELINE = 8
LOCK_KEY = 0x5265646C696E65  # "Redline": the advisory lock concurrent starters wait on while one migrates
CONNECT_TIMEOUT = 10  # seconds
POOL_SIZE = 24  # connections per process: a check batch holds one per worker thread (network.max_connections)
_POOLS: dict[tuple[str, int], ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()


class Postgres:
    """A connection to an archive on PostgreSQL, taken from the process's pool and given back by close().

    execute() takes SQLite's SQL and parameters (? and :name) and returns psycopg's cursor; transactions
    are explicit (autocommit otherwise), as with SQLite's BEGIN IMMEDIATE."""

    dialect = "postgresql"

    def __init__(self, url: str, read_only: bool = False):
        self.url, self._pool = url, _pool(url)
        try:
            self.connection = self._pool.getconn(timeout=30)
        except psycopg.Error as exc:
            raise StorageError(f"{mask_url(url)}: cannot connect ({_first_line(exc)})") from None
        if read_only:
            self.connection.execute("SET default_transaction_read_only = on")

    def execute(self, sql: str, params=()) -> psycopg.Cursor:
        return self.connection.execute(translate(sql), params or None)

    def stream(self, sql: str, params=()) -> Iterator[dict]:
        """Rows as dicts, one at a time from the server (execute's cursor would load them all first). The
        connection is busy until the last one: ask nothing else of it meanwhile."""
        cursor = self.connection.cursor()
        names = None
        for row in cursor.stream(translate(sql), params or None):
            names = names or [column.name for column in cursor.description]
            yield dict(zip(names, row))

    def executemany(self, sql: str, rows: list) -> None:
        """One statement for many rows, prepared once: an INSERT's plan cannot go wrong with its values (the
        connection prepares nothing otherwise, see _pool)."""
        self.connection.prepare_threshold = 0
        try:
            self.connection.cursor().executemany(translate(sql), rows)
        finally:
            self.connection.prepare_threshold = None

    @contextmanager
    def transaction(self) -> Iterator[Postgres]:
        """One transaction (a savepoint inside one already open): committed at the end, rolled back on error."""
        with self.connection.transaction():
            yield self

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            self._pool.putconn(connection)  # the pool rolls back what was left open and resets the session

    def __del__(self) -> None:
        # Like an SQLite connection, one dropped without close() ends with its last reference: the stages
        # open an archive per call and let it go.
        try:
            self.close()
        except Exception:  # noqa: BLE001 - the pool may be closed already (at exit)
            pass


def _pool(url: str) -> ConnectionPool:
    # One pool per process: a pool (its connections and threads) does not survive a fork, and Airflow's
    # task processes are forks.
    key = (url, os.getpid())
    with _POOLS_LOCK:
        if key not in _POOLS:
            # Once, directly: a pool would retry a server that is not there until its timeout, and say less.
            try:
                psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()
            except psycopg.Error as exc:
                raise StorageError(f"{mask_url(url)}: cannot connect ({_first_line(exc)})") from None
            # No prepared statements: after a few runs PostgreSQL may plan one generically, without its
            # values, and a search for common words then gathered every match (30 ms → 3 s at 1M versions).
            _POOLS[key] = ConnectionPool(url, min_size=0, max_size=POOL_SIZE, reset=_reset, open=True,
                                         kwargs={"autocommit": True, "prepare_threshold": None},
                                         name=f"redline-{os.getpid()}")
        return _POOLS[key]


def _reset(connection: psycopg.Connection) -> None:
    connection.execute("RESET ALL")  # a reader's read-only session ends with it


def close_pools(url: str | None = None) -> None:
    """Close this process's pools (of one URL, or all): their connections end."""
    with _POOLS_LOCK:
        for key in [key for key in _POOLS if url in (None, key[0])]:
            _POOLS.pop(key).close()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def open_postgres(url: str, create: bool = True, read_only: bool = False) -> Postgres:
    """The archive at url, migrated if needed (unless read_only). StorageError names the server
    (password masked) and the problem when it cannot be used."""
    db = Postgres(url, read_only=read_only)
    try:
        if not read_only:
            migrate(db, create)
        elif not _applied(db):
            raise StorageError(f"{mask_url(url)}: no archive there yet (`redline init` makes one)")
    except psycopg.Error as exc:
        db.close()
        raise StorageError(f"{mask_url(url)}: {_first_line(exc)}") from None
    except StorageError:
        db.close()
        raise
    return db


def _applied(db: Postgres) -> set[int]:
    if db.connection.execute("SELECT to_regclass('migrations')").fetchone()[0] is None:
        return set()
    return {row[0] for row in db.connection.execute("SELECT id FROM migrations")}


def migrate(db: Postgres, create: bool = True) -> list[int]:
    """Apply the migrations this archive has not seen (SCHEMA for 1-8, then MIGRATIONS); a second process
    starting meanwhile waits on the advisory lock, then finds them done. Returns the numbers applied."""
    from storage.migrations import MIGRATIONS as NAMES  # both archives list the same history

    wanted = [number for number, _, _ in NAMES]
    if set(wanted) <= _applied(db):
        return []  # the usual case: no lock taken
    if not create and not _applied(db):
        raise StorageError(f"{mask_url(db.url)}: no archive there yet (`redline init` makes one)")
    applied = []
    with db.transaction():
        db.connection.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        done = _applied(db)
        for number, name, _ in NAMES:
            if number in done:
                continue
            for statement in SCHEMA if number <= BASELINE else MIGRATIONS[number]:
                if number == 1 or number > BASELINE:  # the baseline's script runs once, as migration 1
                    db.connection.execute(statement)
            db.connection.execute("INSERT INTO migrations (id, name, applied_at) VALUES (%s, %s, now()::text)",
                                  [number, name])
            applied.append(number)
    return applied


# The schema: SQLite's migrations 1-8 in PostgreSQL's types ------------------------------------------

_ID = "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
SCHEMA = [
    "CREATE TABLE migrations (id integer PRIMARY KEY, name text, applied_at text)",
    f"CREATE TABLE sources (id {_ID}, name text NOT NULL UNIQUE, kind text NOT NULL, location text NOT NULL, "
    "etag text, last_modified text, last_polled_at text, last_error text)",
    f"CREATE TABLE articles (id {_ID}, canonical_url text NOT NULL UNIQUE, source_id bigint REFERENCES sources (id), "
    "first_seen_at text, title text, feed_title text, feed_summary text, status text NOT NULL DEFAULT 'active', "
    "next_check_at text, last_checked_at text, last_changed_at text, checks integer DEFAULT 0, "
    "changes integer DEFAULT 0, etag text, last_modified text, last_body_hash text, "
    "consecutive_failures integer DEFAULT 0, last_error text, lease_until text, suspect_hash text, suspect_at text, "
    "feed_updated text, priority integer NOT NULL DEFAULT 0, lease_holder text, "
    "versions integer NOT NULL DEFAULT 0, changes_found integer NOT NULL DEFAULT 0, first_fetched_at text, "
    "first_update_at text, updates integer NOT NULL DEFAULT 0, stealth_edits integer NOT NULL DEFAULT 0, "
    "bumped_edits integer NOT NULL DEFAULT 0)",
    "CREATE INDEX idx_articles_status_next_check_at ON articles (status, next_check_at)",
    "CREATE TABLE blobs (hash text PRIMARY KEY, codec text, bytes bytea)",
    f"CREATE TABLE versions (id {_ID}, article_id bigint NOT NULL REFERENCES articles (id), number integer NOT NULL, "
    "fetched_at text, text_hash text NOT NULL, title text, byline text, published_at text, modified_at text, "
    "text text NOT NULL, word_count integer, notices text, extractor text, raw_blob text REFERENCES blobs (hash), "
    "revert_of integer, banner text, UNIQUE (article_id, number))",
    "CREATE INDEX idx_versions_article_id_text_hash ON versions (article_id, text_hash)",
    "CREATE INDEX idx_versions_fetched_at ON versions (fetched_at)",
    # SQLite's FTS5 table indexes title and text with its unicode61 tokenizer: words, case folded, no stemming;
    # 'simple' is that configuration here. Stored, so that a search for common words can also walk the versions
    # newest first and test each cheaply, stopping at its limit, where the index would gather every match.
    "ALTER TABLE versions ADD COLUMN search tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || text)) STORED",
    "CREATE INDEX idx_versions_search ON versions USING gin (search)",
    f"CREATE TABLE diffs (id {_ID}, article_id bigint REFERENCES articles (id), from_number integer, "
    "to_number integer, stats text, ops text, created_at text, disclosed integer, disclosures text, "
    "extractor_drift integer NOT NULL DEFAULT 0, bumped integer NOT NULL DEFAULT 0, "
    "UNIQUE (article_id, from_number, to_number))",
    "CREATE INDEX idx_diffs_article_disclosed ON diffs (article_id, disclosed, bumped, extractor_drift)",
    f"CREATE TABLE changes (id {_ID}, diff_id bigint REFERENCES diffs (id), article_id bigint REFERENCES articles (id), "
    "seq integer, kind text, before text, after text, context text, subject text, significance double precision, "
    "detected_at text, detail text, delta double precision, relative double precision, "
    "origin text NOT NULL DEFAULT 'page', source_id bigint, at_version integer, UNIQUE (diff_id, seq))",
    "CREATE INDEX idx_changes_kind_detected_at ON changes (kind, detected_at)",
    "CREATE INDEX idx_changes_article_detected ON changes (article_id, detected_at)",
    "CREATE INDEX idx_changes_article_kind ON changes (article_id, kind)",
    "CREATE UNIQUE INDEX idx_changes_event ON changes (article_id, origin, kind, coalesce(before, ''), "
    "coalesce(after, ''), coalesce(at_version, 0)) WHERE diff_id IS NULL",
    f"CREATE TABLE alerts (id {_ID}, change_id bigint REFERENCES changes (id), rule text, channel text, "
    "status text DEFAULT 'pending', attempts integer DEFAULT 0, last_error text, created_at text, sent_at text, "
    "next_attempt_at text, claimed_at text, claimed_by text, UNIQUE (change_id, rule, channel))",
    "CREATE INDEX idx_alerts_status ON alerts (status)",
    "CREATE INDEX idx_alerts_status_next_attempt ON alerts (status, next_attempt_at)",
    f"CREATE TABLE fetches (id {_ID}, url text, article_id bigint, source_id bigint, at text, status integer, "
    "bytes integer, elapsed_ms integer, error text)",
    "CREATE INDEX idx_fetches_article_id_at ON fetches (article_id, at)",
    f"CREATE TABLE reextractions (id {_ID}, article_id bigint REFERENCES articles (id), version_number integer, "
    "extractor text, stored_extractor text, text_hash text, differs integer, drift_only integer, error text, "
    "checked_at text, UNIQUE (article_id, version_number, extractor))",
    "CREATE TABLE article_urls (url text PRIMARY KEY, article_id bigint NOT NULL REFERENCES articles (id), "
    "kind text NOT NULL, seen_at text)",
    "CREATE INDEX idx_article_urls_article_id ON article_urls (article_id)",
    "CREATE TABLE hosts (origin text PRIMARY KEY, robots_status integer, robots_txt text, robots_fetched_at text, "
    "robots_expires_at text, blocked_until text, throttles integer DEFAULT 0, next_slot_at double precision)",
    "CREATE TABLE article_feeds (article_id bigint REFERENCES articles (id), source_id bigint REFERENCES sources (id), "
    "title text, summary text, updated text, PRIMARY KEY (article_id, source_id))",
    f"CREATE TABLE issues (id {_ID}, source_id bigint REFERENCES sources (id), message_id text NOT NULL UNIQUE, "
    "subject text, sender text, list_id text, sent_at text, text text, received_at text NOT NULL, subject_key text, "
    "version integer DEFAULT 1, corrects bigint REFERENCES issues (id))",
    "CREATE INDEX idx_issues_subject_key_sent_at ON issues (subject_key, sent_at)",
    "CREATE TABLE issue_links (issue_id bigint REFERENCES issues (id), position integer, url text, anchor text, "
    "article_id bigint REFERENCES articles (id), PRIMARY KEY (issue_id, position))",
    "CREATE INDEX idx_issue_links_article_id ON issue_links (article_id)",
    "CREATE TABLE mailbox_state (source_id bigint PRIMARY KEY REFERENCES sources (id), uidvalidity bigint, "
    "last_uid bigint)",
    "CREATE TABLE change_counts (source_id bigint NOT NULL, kind text NOT NULL, changes integer NOT NULL, "
    "PRIMARY KEY (source_id, kind))",
    # One per order of the workspace's list (storage.workspace.SORTS), in that order: PostgreSQL cannot read
    # an ascending index backwards as "DESC NULLS LAST".
    *(f"CREATE INDEX idx_articles_{name} ON articles ({columns})"
      for name, columns in (("changes_found_id", "changes_found, id"), ("versions_id", "versions, id"),
                            ("last_changed_at_id", "last_changed_at DESC NULLS LAST, id DESC"),
                            ("first_seen_at_id", "first_seen_at, id"), ("source_id_status", "source_id, status"))),
]


def _trigger(name: str, table: str, event: str, body: str, when: str = "") -> list[str]:
    return [f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when} EXECUTE FUNCTION {name}()"]


# The counts migration 8 keeps by triggers, kept the same way here.
_COUNT = ("INSERT INTO change_counts (source_id, kind, changes) SELECT coalesce(source_id, 0), {kind}, {n} "
          "FROM articles WHERE id = {article} ON CONFLICT (source_id, kind) DO UPDATE "
          "SET changes = change_counts.changes + {n};")
_EDITS = ("UPDATE articles SET updates = (SELECT count(*) FROM diffs d WHERE d.article_id = articles.id AND "
          "d.extractor_drift = 0), stealth_edits = (SELECT count(*) FROM diffs d WHERE d.article_id = articles.id "
          "AND d.extractor_drift = 0 AND d.disclosed = 0 AND d.bumped = 0), bumped_edits = (SELECT count(*) "
          "FROM diffs d WHERE d.article_id = articles.id AND d.extractor_drift = 0 AND d.bumped = 1) WHERE id = {}.article_id;")
_MOVE = ("INSERT INTO change_counts (source_id, kind, changes) SELECT coalesce({row}.source_id, 0), kind, {sign}count(*) "
         "FROM changes WHERE article_id = NEW.id GROUP BY kind ON CONFLICT (source_id, kind) "
         "DO UPDATE SET changes = change_counts.changes + excluded.changes;")
SCHEMA += [
    *_trigger("versions_counted", "versions", "INSERT",
              "UPDATE articles SET versions = greatest(versions, NEW.number), first_fetched_at = CASE NEW.number "
              "WHEN 1 THEN NEW.fetched_at ELSE first_fetched_at END, first_update_at = CASE NEW.number WHEN 2 THEN "
              "NEW.fetched_at ELSE first_update_at END WHERE id = NEW.article_id;"),
    *_trigger("versions_uncounted", "versions", "DELETE",
              "UPDATE articles SET versions = coalesce((SELECT max(number) FROM versions WHERE article_id = "
              "OLD.article_id), 0) WHERE id = OLD.article_id;"),
    *_trigger("changes_counted", "changes", "INSERT",
              "UPDATE articles SET changes_found = changes_found + 1 WHERE id = NEW.article_id; "
              + _COUNT.format(kind="NEW.kind", n="1", article="NEW.article_id")),
    *_trigger("changes_uncounted", "changes", "DELETE",
              "UPDATE articles SET changes_found = changes_found - 1 WHERE id = OLD.article_id; "
              + _COUNT.format(kind="OLD.kind", n="-1", article="OLD.article_id")),
    *_trigger("changes_moved", "changes", "UPDATE OF article_id",
              "UPDATE articles SET changes_found = changes_found - 1 WHERE id = OLD.article_id; "
              "UPDATE articles SET changes_found = changes_found + 1 WHERE id = NEW.article_id; "
              + _COUNT.format(kind="OLD.kind", n="-1", article="OLD.article_id")
              + _COUNT.format(kind="NEW.kind", n="1", article="NEW.article_id"),
              "WHEN (OLD.article_id IS DISTINCT FROM NEW.article_id)"),
    *_trigger("articles_moved", "articles", "UPDATE OF source_id",
              _MOVE.format(row="OLD", sign="-") + _MOVE.format(row="NEW", sign=""),
              "WHEN (OLD.source_id IS DISTINCT FROM NEW.source_id)"),
    *_trigger("edits_insert", "diffs", "INSERT", _EDITS.format("NEW")),
    *_trigger("edits_delete", "diffs", "DELETE", _EDITS.format("OLD")),
    *_trigger("edits_update", "diffs", "UPDATE OF disclosed, bumped, extractor_drift", _EDITS.format("NEW")),
    # SQLite's julianday() for the workspace's waits (ISO times with their offset).
    "CREATE FUNCTION julianday(t text) RETURNS double precision LANGUAGE sql STABLE "
    "AS $$ SELECT extract(epoch FROM t::timestamptz)::double precision / 86400 + 2440587.5 $$",
]


# Migrations after the baseline, by number (their names are storage/migrations.py's).
MIGRATIONS = {
    9: ["CREATE TABLE host_requests (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, origin text NOT NULL, "
        "holder text, until double precision NOT NULL)",
        "CREATE INDEX idx_host_requests_origin ON host_requests (origin, until)"],
    10: ["ALTER TABLE blobs ADD COLUMN base text", "ALTER TABLE blobs ADD COLUMN depth integer NOT NULL DEFAULT 0",
         "CREATE INDEX idx_blobs_base ON blobs (base)"],
    11: ["CREATE INDEX idx_changes_detected ON changes (detected_at, id)",
         "CREATE INDEX idx_articles_lease_until ON articles (lease_until)"],
    # What readers read, as on SQLite; PostgreSQL compresses long texts itself (TOAST), so they stay plain.
    12: [f"CREATE VIEW version_texts AS SELECT {VERSION_TEXTS_COLUMNS}, text FROM versions"],
    13: ["CREATE TABLE page_bases (origin text PRIMARY KEY, hash text NOT NULL, pages integer NOT NULL)"],
}
