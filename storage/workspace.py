"""The researcher's reads: the article list, full-text search, statistics and an article's timeline.

Each query has an index for its order and returns a page, never a whole table (the workspace
benchmark runs them on a million versions).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Iterator


from pipeline.errors import InputError, NotFoundError
from pipeline.models import ARTICLE_SORTS, Alert, ArchiveStats, ArticleQuery, ArticleSummary, SearchHit, SourceStats, TimelineEntry
from storage.db import _ALERT_FIELDS, _all, _one, _record
from storage.dialect import is_url, on_server
from storage.sqlite import Database

# The order of each of ARTICLE_SORTS (latest, changes, versions, first_seen), each with its index (migration 8).
SORTS = dict(zip(ARTICLE_SORTS, ("a.last_changed_at DESC NULLS LAST, a.id DESC", "a.changes_found DESC, a.id DESC",
                                 "a.versions DESC, a.id DESC", "a.first_seen_at DESC, a.id DESC")))
SEARCH_WINDOW = 5000  # the newest matching versions a search groups into articles
MS_PER_HOUR = 3_600_000
_TERM = re.compile(r'"([^"]*)"|(\S+)')
# Marks around the matched words in a snippet: control characters no article text keeps (extraction
# drops them), so the page can escape the snippet first and then turn them into <mark>.
MARK_START, MARK_END = "\x02", "\x03"


def open_reader(path: str | Path) -> Database:
    """A read-only connection to an existing archive, a file or a postgresql:// URL (the workspace never writes)."""
    if is_url(path):
        from storage.postgres import open_postgres

        return open_postgres(path, read_only=True)
    if not Path(path).is_file():
        raise NotFoundError(f"{path}: no archive here")
    connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 5000")
    return Database(connection)


def _terms(text: str) -> list[str]:
    terms = [quoted or bare for quoted, bare in _TERM.findall(text)]
    terms = [t for t in terms if t.strip()]
    if not terms:
        raise InputError(f"search {text!r}: give at least one word")
    return terms


def match_expression(text: str) -> str:
    """An FTS5 query for what a reader typed: every word must appear, "quoted words" as a phrase.

    Each term is quoted, so FTS5's own syntax (AND, NEAR, column:, *) is searched for as words."""
    return " ".join(f'"{term.replace(chr(34), chr(34) * 2)}"' for term in _terms(text))


def _holds(db: Database, text: str, version: str = "v", each: bool = False) -> tuple[str, dict]:
    # A condition that the versions row named `version` holds what a reader typed, and its parameters. SQLite
    # asks its FTS5 table: for a few rows (each), one lookup per row; else the set of every match, gathered
    # once. PostgreSQL asks its text search, each term a phrase (its own parser splits the words).
    if not on_server(db):
        match = {"match": match_expression(text)}
        if each:
            return (f"EXISTS (SELECT 1 FROM versions_fts WHERE versions_fts MATCH :match "
                    f"AND versions_fts.rowid = {version}.id)", match)
        return f"{version}.id IN (SELECT rowid FROM versions_fts WHERE versions_fts MATCH :match)", match
    query, terms = _text_query(text)
    return f"{version}.search @@ {query}", terms


def _text_query(text: str) -> tuple[str, dict]:
    terms = _terms(text)
    query = " && ".join(f"phraseto_tsquery('simple', :term{i})" for i in range(len(terms)))
    return f"({query})", {f"term{i}": term for i, term in enumerate(terms)}


def _article_filters(db: Database, query: ArticleQuery) -> tuple[list[str], dict]:
    where, params = [], {}
    if query.source:
        where.append("a.source_id = (SELECT id FROM sources WHERE name = :source)")
        params["source"] = query.source
    if query.since or query.until:
        where.append("EXISTS (SELECT 1 FROM changes c WHERE c.article_id = a.id AND c.detected_at >= :since "
                     "AND c.detected_at < :until)")
        params.update(since=query.since or "", until=query.until or "9999")
    if query.figure:
        where.append("EXISTS (SELECT 1 FROM changes c WHERE c.article_id = a.id AND c.kind = 'figure')")
    if query.stealth:
        where.append("a.stealth_edits > 0")
    if query.gone:
        where.append("a.status = 'gone'")
    if query.text:
        holds, terms = _holds(db, query.text)
        where.append(f"a.id IN (SELECT v.article_id FROM versions v WHERE {holds})")
        params.update(terms)
    return where, params


def list_article_summaries(db: Database, query: ArticleQuery) -> list[ArticleSummary]:
    """One page of the article list (query.limit rows from query.offset), filtered and in query.sort's order."""
    if query.sort not in SORTS:
        raise InputError(f"sort {query.sort!r}: expected one of {', '.join(SORTS)}")
    where, params = _article_filters(db, query)
    sql = (
        "SELECT a.id, a.canonical_url AS url, s.name AS source, coalesce(a.title, a.feed_title) AS title, a.status, "
        "a.first_seen_at, a.last_changed_at, a.versions, a.changes_found AS changes, a.last_error, "
        "(SELECT count(*) FROM changes c WHERE c.article_id = a.id AND c.kind = 'figure') AS figure_changes, "
        "a.stealth_edits FROM articles a LEFT JOIN sources s ON s.id = a.source_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY {SORTS[query.sort]} LIMIT :limit OFFSET :offset"
    )
    rows = _all(db, sql, {**params, "limit": query.limit, "offset": query.offset})
    return [_record(ArticleSummary, row) for row in rows]


def count_articles(db: Database) -> int:
    """How many articles the archive tracks."""
    return db.execute("SELECT count(*) FROM articles").fetchone()[0]


def search_versions(db: Database, text: str, source: str | None = None, since: str | None = None,
                    until: str | None = None, limit: int = 20, offset: int = 0) -> list[SearchHit]:
    """Articles whose stored versions hold the words searched for, the most recently stored first: for each,
    its latest matching version with a snippet, the first version that held them and, when a later version
    dropped them, the version where they disappeared. Looks at the newest SEARCH_WINDOW matching versions."""
    holds, terms = _holds(db, text, "m")
    params = {**terms, "window": SEARCH_WINDOW, "limit": limit, "offset": offset,
              "source": source, "since": since or "", "until": until or "9999"}
    filters = ["v.fetched_at >= :since", "v.fetched_at < :until"]
    if source:
        filters.append("a.source_id = (SELECT id FROM sources WHERE name = :source)")
    # SQLite's FTS5 table gives the newest matches first by itself; PostgreSQL reads them from its index.
    matched = ("SELECT rowid AS id FROM versions_fts WHERE versions_fts MATCH :match ORDER BY rowid DESC" if not
               on_server(db) else f"SELECT m.id FROM versions m WHERE {holds} ORDER BY m.id DESC")
    rows = _all(db, (
        f"WITH matched AS ({matched} LIMIT :window) "
        "SELECT v.article_id, max(v.id) AS version_id, max(v.number) AS version "
        "FROM matched m JOIN versions v ON v.id = m.id JOIN articles a ON a.id = v.article_id "
        f"WHERE {' AND '.join(filters)} GROUP BY v.article_id ORDER BY max(v.id) DESC LIMIT :limit OFFSET :offset"
    ), params)
    # Built once for every hit: the test of each hit's versions, and PostgreSQL's query for the snippet.
    holds, terms = _holds(db, text, each=True)
    query = _text_query(text)[0] if on_server(db) else None
    return [_search_hit(db, row, holds, terms, query) for row in rows]


def _search_hit(db: Database, row: dict, holds: str, terms: dict, query: str | None) -> SearchHit:
    if query:
        snippet, versions, which = (
            f"ts_headline('simple', v.text, {query}, 'MaxWords=24, MinWords=12, MaxFragments=1, "
            "FragmentDelimiter=…, StartSel=' || :start || ', StopSel=' || :end)", "versions v", f"{holds} AND v.id = :id")
    else:  # snippet() reads the match of its own FTS5 query
        snippet, versions, which = ("snippet(versions_fts, -1, :start, :end, '…', 24)",
                                    "versions_fts JOIN versions v ON v.id = versions_fts.rowid",
                                    "versions_fts MATCH :match AND versions_fts.rowid = :id")
    found = _one(db, (
        "SELECT v.number, v.fetched_at, coalesce(v.title, a.title) AS title, a.canonical_url AS url, s.name AS source, "
        f"a.versions, {snippet} AS snippet FROM {versions} JOIN articles a ON a.id = v.article_id "
        f"LEFT JOIN sources s ON s.id = a.source_id WHERE {which}"
    ), {**terms, "id": row["version_id"], "start": MARK_START, "end": MARK_END})
    holding = [number for (number,) in db.execute(
        f"SELECT v.number FROM versions v WHERE v.article_id = :article AND {holds} ORDER BY v.number",
        {**terms, "article": row["article_id"]}).fetchall()]
    last = holding[-1] if holding else found["number"]
    return SearchHit(article_id=row["article_id"], url=found["url"], source=found["source"], title=found["title"],
                     version=found["number"], fetched_at=found["fetched_at"],
                     snippet=" ".join((found["snippet"] or "").split()).replace(f"{MARK_END} {MARK_START}", " "),
                     first_version=holding[0] if holding else None,
                     disappeared_at=last + 1 if last < found["versions"] else None, versions=found["versions"])


def summarise_sources(db: Database, source: str | None = None, full: bool = True) -> ArchiveStats:
    """Per source: articles, versions, changes by kind, updates and how many were stealth edits, failing and
    gone articles; when full, also the median time from a story's first version to its first update (it
    reads every article). The totals add the sources up; their median is the median of every story's wait.
    What `redline stats` prints and the workspace shows."""
    one = "WHERE s.name = :source" if source else ""
    sources = _all(db, f"SELECT s.id, s.name, s.kind, s.last_error, s.last_polled_at FROM sources s {one} ORDER BY s.name",
                   {"source": source})
    if source and not sources:
        raise NotFoundError(f"source {source!r} is not in the archive")
    scope = "a.source_id IN (SELECT id FROM sources s " + one + ")" if source else "1 = 1"
    counts = {row["source_id"]: row for row in _all(db, (  # one pass over the articles: the triggers keep the counts
        "SELECT a.source_id, count(*) AS articles, sum(a.versions) AS versions, sum(a.changes_found) AS changes, "
        "sum(a.updates) AS updates, sum(a.stealth_edits) AS stealth, sum(a.bumped_edits) AS bumped, "
        "sum(CASE a.status WHEN 'failing' THEN 1 ELSE 0 END) AS failing, "
        f"sum(CASE a.status WHEN 'gone' THEN 1 ELSE 0 END) AS gone FROM articles a NOT INDEXED WHERE {scope} GROUP BY a.source_id"),
        {"source": source})}
    kinds: dict = {}
    for source_id, kind, count in db.execute(  # kept per source and kind by triggers (migration 8)
            "SELECT nullif(source_id, 0), kind, changes FROM change_counts WHERE changes > 0 "
            + ("AND source_id = (SELECT id FROM sources WHERE name = :source)" if source else ""), {"source": source}):
        kinds.setdefault(source_id, {})[kind] = count
    delays: dict = {}
    if full:
        for source_id, hours in db.execute(
                "SELECT a.source_id, (julianday(a.first_update_at) - julianday(a.first_fetched_at)) * 24 FROM "
                f"articles a NOT INDEXED WHERE a.first_update_at IS NOT NULL AND {scope}", {"source": source}):
            # Times are stored to the millisecond; SQLite's julianday() and PostgreSQL's differ in the last bits
            # of a double, so the wait is rounded to whole milliseconds before anyone compares or prints it.
            delays.setdefault(source_id, []).append(round(hours * MS_PER_HOUR) / MS_PER_HOUR)
    from statistics import median  # (fractions and decimal with it: 3 ms of every command's start, for this page)

    ids = [row["id"] for row in sources] + ([] if source or None not in counts else [None])
    names = {row["id"]: row for row in sources}
    stats = []
    for source_id in ids:
        row, meta = counts.get(source_id, {}), names.get(source_id, {})
        stats.append(SourceStats(
            source=meta.get("name"), kind=meta.get("kind"), articles=row.get("articles") or 0,
            versions=row.get("versions") or 0, changes=row.get("changes") or 0,
            changes_by_kind=kinds.get(source_id, {}), updates=row.get("updates") or 0,
            stealth=row.get("stealth") or 0, bumped=row.get("bumped") or 0,
            median_hours_to_first_update=median(delays[source_id]) if delays.get(source_id) else None,
            failing=row.get("failing") or 0, gone=row.get("gone") or 0, last_error=meta.get("last_error"),
            last_polled_at=meta.get("last_polled_at")))
    every_delay = [hours for source_id in ids for hours in delays.get(source_id, ())]
    return ArchiveStats(tuple(stats), _add_up(stats, median(every_delay) if every_delay else None))


def _add_up(stats: list[SourceStats], median_hours: float | None) -> SourceStats:
    kinds: dict = {}
    for one in stats:
        for kind, count in one.changes_by_kind.items():
            kinds[kind] = kinds.get(kind, 0) + count
    return SourceStats(
        source=None, kind=None, articles=sum(s.articles for s in stats), versions=sum(s.versions for s in stats),
        changes=sum(s.changes for s in stats), changes_by_kind=dict(sorted(kinds.items())),
        updates=sum(s.updates for s in stats), stealth=sum(s.stealth for s in stats), bumped=sum(s.bumped for s in stats),
        median_hours_to_first_update=median_hours, failing=sum(s.failing for s in stats),
        gone=sum(s.gone for s in stats))


def count_per_day(db: Database, table: str, since: str) -> dict[str | None, dict[str, int]]:
    """How many versions or changes were stored since this ISO time: source (None: no source) → day → count."""
    column = {"versions": "v.fetched_at", "changes": "v.detected_at"}[table]
    counts: dict[str | None, dict[str, int]] = {}
    for source, day, count in db.execute(
            f"SELECT s.name, substr({column}, 1, 10) AS day, count(*) FROM {table} v JOIN articles a ON a.id = "
            f"v.article_id LEFT JOIN sources s ON s.id = a.source_id WHERE {column} >= ? GROUP BY s.name, day "
            "ORDER BY day", [since]):
        counts.setdefault(source, {})[day] = count
    return counts


def update_delays(db: Database, source: str | None = None) -> Iterator[tuple[str | None, float]]:
    """(source, hours) from each story's first version to each later one, streamed."""
    scope = "AND a.source_id = (SELECT id FROM sources WHERE name = :source)" if source else ""
    yield from db.execute(
        "SELECT s.name, (julianday(v.fetched_at) - julianday(v1.fetched_at)) * 24 FROM versions v "
        "JOIN versions v1 ON v1.article_id = v.article_id AND v1.number = 1 JOIN articles a ON a.id = v.article_id "
        f"LEFT JOIN sources s ON s.id = a.source_id WHERE v.number > 1 {scope}", {"source": source})


def list_timeline(db: Database, article_id: int) -> list[TimelineEntry]:
    """The article's versions, oldest first, each with the disclosure and size of the edit that made it."""
    rows = _all(db, (
        "SELECT v.number, v.fetched_at, v.title, v.byline, v.modified_at, v.published_at, v.banner, v.notices, "
        "v.word_count, v.revert_of, d.disclosed, d.disclosures, d.bumped, d.stats, d.extractor_drift "
        "FROM versions v LEFT JOIN diffs d ON d.article_id = v.article_id AND d.to_number = v.number "
        "WHERE v.article_id = ? ORDER BY v.number"), [article_id])
    entries = []
    for row in rows:
        stats = json.loads(row.pop("stats") or "{}")  # the diff's statistics: three of them are the entry's
        entries.append(replace(_record(TimelineEntry, row), words_added=stats.get("words_added", 0),
                               words_removed=stats.get("words_removed", 0),
                               figures_changed=stats.get("figures_changed", 0)))
    return entries


def page_alerts(db: Database, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Alert]:
    """One page of the alert log, newest first, of every state or of one."""
    where = " WHERE al.status = :status" if status else ""
    rows = _all(db, f"SELECT {_ALERT_FIELDS}{where} ORDER BY al.id DESC LIMIT :limit OFFSET :offset",
                {"status": status, "limit": limit, "offset": offset})
    return [_record(Alert, row) for row in rows]
