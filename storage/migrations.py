"""Numbered schema changes; each runs once, in order, inside a transaction.

Each is written with sqlite-utils' table API, reached through storage.sqlite.Database (which loads it
only when a migration runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.sqlite import Database


def _initial(db: Database) -> None:
    db["sources"].create({
        "id": int, "name": str, "kind": str, "location": str, "etag": str,
        "last_modified": str, "last_polled_at": str, "last_error": str,
    }, pk="id", not_null={"name", "kind", "location"})
    db["sources"].create_index(["name"], unique=True)

    db["articles"].create({
        "id": int, "canonical_url": str, "source_id": int, "first_seen_at": str, "title": str,
        "feed_title": str, "feed_summary": str, "status": str, "next_check_at": str,
        "last_checked_at": str, "last_changed_at": str, "checks": int, "changes": int,
        "etag": str, "last_modified": str, "last_body_hash": str, "consecutive_failures": int,
        "last_error": str, "lease_until": str,
    }, pk="id", not_null={"canonical_url", "status"}, defaults={
        "status": "active", "checks": 0, "changes": 0, "consecutive_failures": 0,
    }, foreign_keys=[("source_id", "sources", "id")])
    db["articles"].create_index(["canonical_url"], unique=True)
    db["articles"].create_index(["status", "next_check_at"])

    db["blobs"].create({"hash": str, "codec": str, "bytes": bytes}, pk="hash")

    db["versions"].create({
        "id": int, "article_id": int, "number": int, "fetched_at": str, "text_hash": str,
        "title": str, "byline": str, "published_at": str, "modified_at": str, "text": str,
        "word_count": int, "notices": str, "extractor": str, "raw_blob": str, "revert_of": int,
    }, pk="id", not_null={"article_id", "number", "text_hash", "text"},
       foreign_keys=[("article_id", "articles", "id"), ("raw_blob", "blobs", "hash")])
    db["versions"].create_index(["article_id", "number"], unique=True)
    db["versions"].create_index(["article_id", "text_hash"])
    db["versions"].enable_fts(["title", "text"], create_triggers=True)

    db["diffs"].create({
        "id": int, "article_id": int, "from_number": int, "to_number": int, "stats": str,
        "ops": str, "created_at": str,
    }, pk="id", foreign_keys=[("article_id", "articles", "id")])
    db["diffs"].create_index(["article_id", "from_number", "to_number"], unique=True)

    db["changes"].create({
        "id": int, "diff_id": int, "article_id": int, "seq": int, "kind": str, "before": str,
        "after": str, "context": str, "subject": str, "significance": float, "detected_at": str,
    }, pk="id", foreign_keys=[("diff_id", "diffs", "id"), ("article_id", "articles", "id")])
    db["changes"].create_index(["diff_id", "seq"], unique=True)
    db["changes"].create_index(["kind", "detected_at"])

    db["alerts"].create({
        "id": int, "change_id": int, "rule": str, "channel": str, "status": str,
        "attempts": int, "last_error": str, "created_at": str, "sent_at": str,
    }, pk="id", defaults={"status": "pending", "attempts": 0},
       foreign_keys=[("change_id", "changes", "id")])
    db["alerts"].create_index(["change_id", "rule", "channel"], unique=True)
    db["alerts"].create_index(["status"])

    db["fetches"].create({
        "id": int, "url": str, "article_id": int, "source_id": int, "at": str, "status": int,
        "bytes": int, "elapsed_ms": int, "error": str,
    }, pk="id")
    db["fetches"].create_index(["article_id", "at"])


def _alert_delivery(db: Database) -> None:
    # Figure changes say what kind of change they are and by how much; alerts carry their
    # delivery state: when to try again, and when a run claimed them for sending.
    db["changes"].add_column("detail", str)
    db["changes"].add_column("delta", float)
    db["changes"].add_column("relative", float)
    db["alerts"].add_column("next_attempt_at", str)
    db["alerts"].add_column("claimed_at", str)
    db["alerts"].create_index(["status", "next_attempt_at"], index_name="idx_alerts_status_next_attempt")
    db["changes"].create_index(["article_id", "detected_at"], index_name="idx_changes_article_detected")


def _trustworthy_diffs(db: Database) -> None:
    # Issue 4: whether a diff was disclosed, versions' update banners, texts held as suspect,
    # and re-extractions of stored pages by a newer extractor.
    db["versions"].add_column("banner", str)
    db["diffs"].add_column("disclosed", int)
    db["diffs"].add_column("disclosures", str)
    db["diffs"].add_column("extractor_drift", int, not_null_default=0)
    db["articles"].add_column("suspect_hash", str)
    db["articles"].add_column("suspect_at", str)
    db["reextractions"].create({
        "id": int, "article_id": int, "version_number": int, "extractor": str, "stored_extractor": str,
        "text_hash": str, "differs": int, "drift_only": int, "error": str, "checked_at": str,
    }, pk="id", foreign_keys=[("article_id", "articles", "id")])
    db["reextractions"].create_index(["article_id", "version_number", "extractor"], unique=True)


def _lifecycle(db: Database) -> None:
    # A change seen outside a page diff (a feed rewrote a headline, a page went away) has no
    # diff: its diff_id stays NULL and origin says where it was seen, source_id through which feed.
    db["changes"].add_column("origin", str, not_null_default="page")
    db["changes"].add_column("source_id", int)

    # What the feed last said of the story, and a bump to the front of the check queue.
    db["articles"].add_column("feed_updated", str)
    db["articles"].add_column("priority", int, not_null_default=0)

    # Every other URL under which an article's story was found (wrapper, duplicate, old address).
    db["article_urls"].create({
        "url": str, "article_id": int, "kind": str, "seen_at": str,
    }, pk="url", not_null={"article_id", "kind"}, foreign_keys=[("article_id", "articles", "id")])
    db["article_urls"].create_index(["article_id"])

    # Per-origin politeness shared by every process: cached robots.txt, throttling, request spacing.
    db["hosts"].create({
        "origin": str, "robots_status": int, "robots_txt": str, "robots_fetched_at": str,
        "robots_expires_at": str, "blocked_until": str, "throttles": int, "next_slot_at": float,
    }, pk="origin", defaults={"throttles": 0})


def _no_doubles(db: Database) -> None:
    # A change seen outside a diff (a feed's rewrite, a page gone) is unique by what it says:
    # overlapping runs recorded some twice. at_version is the version it belongs to (for a
    # diff's changes, the diff's newer version; otherwise the latest version when it was seen).
    db["changes"].add_column("at_version", int)
    db.execute("UPDATE changes SET at_version = (SELECT to_number FROM diffs WHERE diffs.id = changes.diff_id) "
               "WHERE diff_id IS NOT NULL")
    doubles = ("SELECT id FROM changes c WHERE diff_id IS NULL AND EXISTS (SELECT 1 FROM changes o WHERE "
               "o.diff_id IS NULL AND o.id < c.id AND o.article_id = c.article_id AND o.origin = c.origin AND "
               "o.kind = c.kind AND o.before IS c.before AND o.after IS c.after)")
    db.execute(f"DELETE FROM alerts WHERE change_id IN ({doubles})")
    db.execute(f"DELETE FROM changes WHERE id IN ({doubles})")
    db.execute("CREATE UNIQUE INDEX idx_changes_event ON changes (article_id, origin, kind, coalesce(before, ''), "
               "coalesce(after, ''), coalesce(at_version, 0)) WHERE diff_id IS NULL")

    # What each source last said of each story: two feeds may title one story differently.
    db["article_feeds"].create({
        "article_id": int, "source_id": int, "title": str, "summary": str, "updated": str,
    }, pk=("article_id", "source_id"), foreign_keys=[("article_id", "articles", "id"), ("source_id", "sources", "id")])
    db.execute("INSERT INTO article_feeds (article_id, source_id, title, summary, updated) "
               "SELECT id, source_id, feed_title, feed_summary, feed_updated FROM articles WHERE source_id IS NOT NULL")


def _lease_holders(db: Database) -> None:
    # Who holds an article's lease, or sends an alert (host, pid, start time): what a killed run held
    # is taken over, or settled as uncertain, at once.
    db["articles"].add_column("lease_holder", str)
    db["alerts"].add_column("claimed_by", str)


def _newsletters(db: Database) -> None:
    # Newsletter issues (one per Message-ID, however often received) and the article links each carried.
    # subject_key: the subject without "Correction:" and the like, to find an issue received twice
    # (by mail and from the archive) or re-sent corrected (a new version, corrects = the one it corrects).
    db["issues"].create({
        "id": int, "source_id": int, "message_id": str, "subject": str, "sender": str, "list_id": str,
        "sent_at": str, "text": str, "received_at": str, "subject_key": str, "version": int, "corrects": int,
    }, pk="id", not_null={"message_id", "received_at"}, defaults={"version": 1},
       foreign_keys=[("source_id", "sources", "id"), ("corrects", "issues", "id")])
    db["issues"].create_index(["message_id"], unique=True)
    db["issues"].create_index(["subject_key", "sent_at"])
    db["issue_links"].create({
        "issue_id": int, "position": int, "url": str, "anchor": str, "article_id": int,
    }, pk=("issue_id", "position"), foreign_keys=[("issue_id", "issues", "id"), ("article_id", "articles", "id")])
    db["issue_links"].create_index(["article_id"])
    # How far an IMAP folder was read: messages after last_uid, while its UIDVALIDITY holds.
    db["mailbox_state"].create({"source_id": int, "uidvalidity": int, "last_uid": int}, pk="source_id",
                               foreign_keys=[("source_id", "sources", "id")])


def _workspace(db: Database) -> None:
    # The workspace lists, ranks and sums up without counting rows per request (a million versions):
    # per article its versions, changes and the times of its first and second versions; per source and
    # kind its changes. Triggers keep them, so every path that stores a version or a change (and a merge
    # that moves changes) keeps them true; check-db verifies them. Each order of the list has its index.
    db["articles"].add_column("versions", int, not_null_default=0)
    db["articles"].add_column("changes_found", int, not_null_default=0)
    db["articles"].add_column("first_fetched_at", str)  # version 1's fetch
    db["articles"].add_column("first_update_at", str)  # version 2's: the wait for a first update
    db["articles"].add_column("updates", int, not_null_default=0)  # diffs that are the newsroom's edits
    db["articles"].add_column("stealth_edits", int, not_null_default=0)  # ... that the page showed nothing of
    db["articles"].add_column("bumped_edits", int, not_null_default=0)  # ... of which it only bumped a timestamp
    # A diff whose page only bumped a timestamp (a new "Updated …" banner, a later dateModified) without saying
    # what changed: disclosed 0 and bumped 1. Those stored before were all counted as disclosed.
    db["diffs"].add_column("bumped", int, not_null_default=0)
    db.execute("UPDATE articles SET versions = coalesce((SELECT max(number) FROM versions v WHERE v.article_id = "
               "articles.id), 0), changes_found = (SELECT count(*) FROM changes c WHERE c.article_id = articles.id), "
               "first_fetched_at = (SELECT fetched_at FROM versions v WHERE v.article_id = articles.id AND number = 1), "
               "first_update_at = (SELECT fetched_at FROM versions v WHERE v.article_id = articles.id AND number = 2)")
    edits = ("UPDATE articles SET updates = (SELECT count(*) FROM diffs d WHERE d.article_id = articles.id AND "
             "d.extractor_drift = 0), stealth_edits = (SELECT count(*) FROM diffs d WHERE d.article_id = articles.id "
             "AND d.extractor_drift = 0 AND d.disclosed = 0 AND d.bumped = 0), bumped_edits = (SELECT count(*) "
             "FROM diffs d WHERE d.article_id = articles.id AND d.extractor_drift = 0 AND d.bumped = 1)")
    db.execute(edits)
    db.execute("CREATE TABLE change_counts (source_id INTEGER NOT NULL, kind TEXT NOT NULL, changes INTEGER NOT NULL, "
               "PRIMARY KEY (source_id, kind))")  # source_id 0: articles of no source
    db.execute("INSERT INTO change_counts SELECT coalesce(a.source_id, 0), c.kind, count(*) FROM changes c "
               "JOIN articles a ON a.id = c.article_id GROUP BY 1, 2")
    count = ("INSERT INTO change_counts (source_id, kind, changes) SELECT coalesce(source_id, 0), {kind}, {n} "
             "FROM articles WHERE id = {article} ON CONFLICT (source_id, kind) DO UPDATE SET changes = changes + {n};")
    triggers = {
        "versions_counted": "AFTER INSERT ON versions BEGIN UPDATE articles SET versions = max(versions, NEW.number), "
        "first_fetched_at = CASE NEW.number WHEN 1 THEN NEW.fetched_at ELSE first_fetched_at END, "
        "first_update_at = CASE NEW.number WHEN 2 THEN NEW.fetched_at ELSE first_update_at END "
        "WHERE id = NEW.article_id; END",
        "versions_uncounted": "AFTER DELETE ON versions BEGIN UPDATE articles SET versions = "
        "coalesce((SELECT max(number) FROM versions WHERE article_id = OLD.article_id), 0) WHERE id = OLD.article_id; END",
        "changes_counted": "AFTER INSERT ON changes BEGIN "
        "UPDATE articles SET changes_found = changes_found + 1 WHERE id = NEW.article_id; "
        + count.format(kind="NEW.kind", n="1", article="NEW.article_id") + " END",
        "changes_uncounted": "AFTER DELETE ON changes BEGIN "
        "UPDATE articles SET changes_found = changes_found - 1 WHERE id = OLD.article_id; "
        + count.format(kind="OLD.kind", n="-1", article="OLD.article_id") + " END",
        "changes_moved": "AFTER UPDATE OF article_id ON changes WHEN OLD.article_id != NEW.article_id BEGIN "
        "UPDATE articles SET changes_found = changes_found - 1 WHERE id = OLD.article_id; "
        "UPDATE articles SET changes_found = changes_found + 1 WHERE id = NEW.article_id; "
        + count.format(kind="OLD.kind", n="-1", article="OLD.article_id")
        + count.format(kind="NEW.kind", n="1", article="NEW.article_id") + " END",
        "articles_moved": "AFTER UPDATE OF source_id ON articles WHEN OLD.source_id IS NOT NEW.source_id BEGIN "
        "INSERT INTO change_counts (source_id, kind, changes) SELECT coalesce(OLD.source_id, 0), kind, -count(*) "
        "FROM changes WHERE article_id = NEW.id GROUP BY kind ON CONFLICT (source_id, kind) "
        "DO UPDATE SET changes = changes + excluded.changes; "
        "INSERT INTO change_counts (source_id, kind, changes) SELECT coalesce(NEW.source_id, 0), kind, count(*) "
        "FROM changes WHERE article_id = NEW.id GROUP BY kind ON CONFLICT (source_id, kind) "
        "DO UPDATE SET changes = changes + excluded.changes; END",
    }
    for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"), ("UPDATE OF disclosed, bumped, extractor_drift", "NEW")):
        triggers[f"edits_{event.split()[0].lower()}"] = (
            f"AFTER {event} ON diffs BEGIN {edits} WHERE id = {row}.article_id; END")
    for name, body in triggers.items():  # one statement each: executescript would commit the migration halfway
        db.execute(f"CREATE TRIGGER {name} {body}")
    for columns in (["changes_found", "id"], ["versions", "id"], ["last_changed_at", "id"], ["first_seen_at", "id"],
                    ["source_id", "status"]):
        db["articles"].create_index(columns, index_name="idx_articles_" + "_".join(columns))
    db["versions"].create_index(["fetched_at"], index_name="idx_versions_fetched_at")
    db["changes"].create_index(["article_id", "kind"], index_name="idx_changes_article_kind")
    # covering: the statistics count updates and stealth edits per article from the index alone
    db["diffs"].create_index(["article_id", "disclosed", "bumped", "extractor_drift"],
                             index_name="idx_diffs_article_disclosed")


def _host_requests(db: Database) -> None:
    # Requests in flight per origin, whichever process sent them: on a shared archive (PostgreSQL, several
    # workers) a host's connection limit holds across workers. A row lives until its request ends, or
    # until `until` (time.time() of its deadline) for one whose process died.
    db.execute("CREATE TABLE host_requests (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, holder TEXT, "
               "until REAL NOT NULL)")
    db.execute("CREATE INDEX idx_host_requests_origin ON host_requests (origin, until)")


def _packed_pages(db: Database) -> None:
    # Raw pages in zstandard, a later page of an article as a delta against the page named by base (depth:
    # how many deltas lie between it and a whole page). Pages stored before keep their codec (zlib).
    db["blobs"].add_column("base", str)
    db["blobs"].add_column("depth", int, not_null_default=0)
    db["blobs"].create_index(["base"], index_name="idx_blobs_base")


def _scale_indexes(db: Database) -> None:
    # Queries that read a whole table on a large archive: `redline changes` lists every change oldest first
    # (read in this index's order, not sorted each call), and every run looks for live leases.
    db["changes"].create_index(["detected_at"], index_name="idx_changes_detected")
    db["articles"].create_index(["lease_until"], index_name="idx_articles_lease_until")


# A version's columns as readers see them (the view version_texts, migration 12), its text apart.
VERSION_TEXTS_COLUMNS = ("id, article_id, number, fetched_at, text_hash, title, byline, published_at, modified_at, "
                         "word_count, notices, extractor, raw_blob, revert_of, banner")


def _packed_texts(db) -> None:
    # Texts kept as zstandard frames (storage.sqlite.pack_text), a later version's packed against its chain's
    # first text, which text_base numbers. Readers read the view version_texts, whose text column unpacks
    # them (redline_text); the full-text index reads its content through the same view, so snippets quote
    # the plain text. The texts stored before are packed one by one here, and the index rebuilt.
    from storage.sqlite import add_functions, pack_text

    add_functions(db.conn)  # a test may migrate a bare sqlite-utils connection
    db.execute("ALTER TABLE versions ADD COLUMN text_base INTEGER")
    for trigger in ("versions_ai", "versions_ad", "versions_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute("DROP TABLE IF EXISTS versions_fts")
    db.conn.create_function("redline_pack", 1, pack_text, deterministic=True)
    db.execute("UPDATE versions SET text = redline_pack(text) WHERE typeof(text) = 'text'")
    db.execute(f"CREATE VIEW version_texts AS SELECT {', '.join(f'v.{c}' for c in VERSION_TEXTS_COLUMNS.split(', '))}, "
               "redline_text(v.text, b.text) AS text FROM versions v "
               "LEFT JOIN versions b ON b.article_id = v.article_id AND b.number = v.text_base")
    db.execute("CREATE VIRTUAL TABLE versions_fts USING fts5 (title, text, content='version_texts', content_rowid='id')")
    # (not FTS5's 'rebuild', which fails on a table dropped and made again in the same transaction)
    db.execute("INSERT INTO versions_fts (rowid, title, text) SELECT id, title, text FROM version_texts")
    unpacked = "redline_text({row}.text, (SELECT b.text FROM versions b WHERE b.article_id = {row}.article_id " \
               "AND b.number = {row}.text_base))"
    add = f"INSERT INTO versions_fts (rowid, title, text) VALUES (new.id, new.title, {unpacked.format(row='new')});"
    remove = (f"INSERT INTO versions_fts (versions_fts, rowid, title, text) "
              f"VALUES ('delete', old.id, old.title, {unpacked.format(row='old')});")
    db.execute(f"CREATE TRIGGER versions_ai AFTER INSERT ON versions BEGIN {add} END")
    db.execute(f"CREATE TRIGGER versions_ad AFTER DELETE ON versions BEGIN {remove} END")
    db.execute(f"CREATE TRIGGER versions_au AFTER UPDATE OF title, text, text_base ON versions BEGIN {remove} {add} END")


def _page_bases(db) -> None:
    # Per origin, the whole page that the first pages of its later articles are packed against (storage.db
    # _store_page), and how many have been.
    db.execute("CREATE TABLE page_bases (origin TEXT PRIMARY KEY, hash TEXT NOT NULL, pages INTEGER NOT NULL)")


MIGRATIONS = [
    (1, "initial schema", _initial),
    (2, "feed revisions, lifecycle, aliases, hosts", _lifecycle),
    (3, "disclosure, banners, suspect texts, re-extractions", _trustworthy_diffs),
    (4, "alert delivery state, figure change details", _alert_delivery),
    (5, "changes outside diffs unique, feed titles per source", _no_doubles),
    (6, "lease and claim holders", _lease_holders),
    (7, "newsletter issues and their links", _newsletters),
    (8, "workspace: counts kept per article and per source and kind, an index per list order; diffs.bumped", _workspace),
    (9, "requests in flight per host, across processes", _host_requests),
    (10, "raw pages packed with zstandard, later pages as deltas", _packed_pages),
    (11, "indexes for changes in time order and for live leases", _scale_indexes),
    (12, "texts packed with zstandard, later texts as deltas; the view version_texts", _packed_texts),
    (13, "a page per origin that new articles' first pages are packed against", _page_bases),
]
