"""The stage functions that DAGs, the CLI and the tests call.

Each opens the database named in the settings, does one unit of work and
returns small JSON-able counts: XCom carries ids and counts, never pages.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from typing import NamedTuple

import storage
from pipeline import alerts, lifecycle, schedule
from pipeline.config import Settings, SourceSettings
from pipeline.crawl import Crawler
from pipeline.diff import compare_versions
from pipeline.errors import ExtractionError, FeedError
from pipeline.extract import ensure_html, extract_article, hash_text
from pipeline.fetch import BINARY_TYPES, decode_body, open_client
from pipeline.models import Article, Change, CheckOutcome, Entry, Fetched, Version, from_iso, to_iso
from pipeline.sources import (
    canonicalize_url, filter_entries, find_canonical_link, needs_resolving, parse_sitemap, read_source, story_url,
)

log = logging.getLogger(__name__)
MAX_RESOLVED = 50  # redirect wrappers resolved per poll; the rest are settled when first checked


def utcnow() -> datetime:
    """The current time, aware and in UTC: the one clock the stages are handed."""
    return datetime.now(timezone.utc)


def source_names(settings: Settings) -> list[str]:
    """The configured sources' names, for fanning out one poll per source."""
    return [source.name for source in settings.sources]


def poll_source(settings: Settings, name: str, now: datetime | None = None) -> dict:
    """Fetch one source, track the articles it lists and record what its entries say changed;
    a failure is recorded on the source, not raised."""
    now = now or utcnow()
    config = settings.source(name)
    db = storage.open_db(settings.database)
    source_id = storage.sync_sources(db, [config])[name]
    stored = storage.get_source(db, name)
    new = changes = 0
    with open_client(settings.network) as client:
        crawler = Crawler(settings.network, client)
        fetched = crawler.fetch(db, config.url, now, robots=config.robots, etag=stored["etag"],
                                last_modified=stored["last_modified"], refuse=BINARY_TYPES)
        error = fetched.error
        if fetched.ok:
            try:
                found = _discover(db, crawler, config, fetched, now)
                changes = _note_feed_updates(db, settings, source_id, found.entries, now)
                new = storage.add_articles(db, source_id, found.entries, now)
                storage.add_aliases(db, found.wrappers, "wrapper", now)
                error = found.error
            except FeedError as exc:
                error = str(exc)
    storage.record_poll(db, source_id, fetched, error)
    if error:
        log.warning("source %s: %s", name, error)
    return {"source": name, "status": fetched.status, "new_articles": new, "changes": changes, "error": error}


class Discovered(NamedTuple):
    """What one poll found: entries (wrappers resolved, filtered), wrapper URL → story URL, child errors."""

    entries: list[Entry]
    wrappers: dict[str, str]
    error: str | None


def _discover(db, crawler: Crawler, config: SourceSettings, fetched: Fetched, now: datetime) -> Discovered:
    """The source's entries, a sitemap index's children read too (their errors noted, not raised)."""
    found = read_source(fetched.body, config.kind, fetched.final_url)
    entries, errors = list(found.entries), []
    for child in found.children:
        page = crawler.fetch(db, child, now, robots=config.robots, refuse=BINARY_TYPES)
        try:
            if not page.ok:
                raise FeedError(child, page.error)
            entries.extend(parse_sitemap(page.body, page.final_url).entries)
        except FeedError as exc:
            errors.append(str(exc))
    wrappers = _resolve_wrappers(db, crawler, config, entries, now)
    entries = [replace(e, url=wrappers.get(e.url, e.url)) for e in entries]
    return Discovered(filter_entries(entries, config.include, config.exclude), wrappers, "; ".join(errors) or None)


def _resolve_wrappers(
    db, crawler: Crawler, config: SourceSettings, entries: list[Entry], now: datetime
) -> dict[str, str]:
    # A feedproxy or shortener link costs one request (no body read) the first time it is seen;
    # afterwards it is an alias of the story it led to.
    wrapped = [e for e in entries if needs_resolving(e.url)]
    known = storage.find_articles(db, [e.url for e in wrapped])
    resolved = {}
    for entry in [e for e in wrapped if e.url not in known][:MAX_RESOLVED]:
        hop = crawler.fetch(db, entry.url, now, robots=config.robots, read_body=False)
        try:
            target = story_url(hop.final_url, entry.url) if not hop.error else entry.url
        except ValueError:
            continue  # tracked as it is; its first check follows the redirect
        if target != entry.url:
            resolved[entry.url] = target
    for wrapper, article in known.items():
        resolved[wrapper] = article.canonical_url
    return resolved


def _note_feed_updates(db, settings: Settings, source_id: int, entries: list[Entry], now: datetime) -> int:
    """Record the headline and summary rewrites the entries reveal, and queue fresh stories first."""
    recorded, by_url = 0, {entry.url: entry for entry in entries}
    for url, article in storage.find_articles(db, list(by_url)).items():
        entry = by_url[url]
        changes, values = lifecycle.feed_update(article, entry, now)
        if values:
            matched = alerts.match_rules(settings.alerts, changes)
            storage.record_changes(db, article.id, changes, "feed", now, source_id, matched, **values)
            recorded += len(changes)
    return recorded


def poll_sources(settings: Settings, now: datetime | None = None) -> list[dict]:
    """Poll every configured source once."""
    return [poll_source(settings, name, now) for name in source_names(settings)]


def plan_batches(settings: Settings, now: datetime | None = None, everything: bool = False) -> list[list[int]]:
    """Claim the due articles (every live one with everything) and split them into batches."""
    db = storage.open_db(settings.database)
    ids = storage.claim_due_articles(db, now or utcnow(), settings.schedule.lease, everything=everything)
    size = settings.schedule.batch_size
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def check_batch(settings: Settings, article_ids: list[int], now: datetime | None = None) -> dict:
    """Check each article of the batch; one failing article never stops the others.

    Up to network.max_connections articles are in flight at once, but only one thread at a
    time works on the database: the others are waiting on the network meanwhile.
    """
    now = now or utcnow()
    turn, local = threading.Lock(), threading.local()
    with open_client(settings.network) as client:
        crawler = Crawler(settings.network, client, turn)
        sources = _sources_by_id(storage.open_db(settings.database), settings)

        def check(article_id: int) -> CheckOutcome:
            with turn:
                if not hasattr(local, "db"):
                    local.db = storage.open_db(settings.database)
                return _check_safely(local.db, crawler, settings, sources, article_id, now)

        workers = min(settings.network.max_connections, len(article_ids))
        if workers <= 1:  # no thread to start, nothing to hand over
            outcomes = [check(article_id) for article_id in article_ids]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="redline-check") as pool:
                outcomes = list(pool.map(check, article_ids))
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        counts["changes"] = counts.get("changes", 0) + outcome.changes
    return counts


def _sources_by_id(db, settings: Settings) -> dict[int, SourceSettings]:
    configured = {source.name: source for source in settings.sources}
    return {id_: configured[name] for id_, name in storage.source_names_by_id(db).items() if name in configured}


def _check_safely(
    db, crawler: Crawler, settings: Settings, sources: dict, article_id: int, now: datetime
) -> CheckOutcome:
    try:
        article = storage.get_article(db, article_id)
        return check_article(db, crawler, settings, article, now, sources.get(article.source_id))
    except Exception as exc:  # noqa: BLE001 - recorded on the article, and the batch goes on
        log.exception("article %s: check failed", article_id)
        storage.update_article(db, article_id, last_error=f"{type(exc).__name__}: {exc}")
        return CheckOutcome(article_id, "failed", error=str(exc))


def _ladder_next(settings: Settings, article: Article, now: datetime, changed: bool) -> dict:
    last_change = now if changed else from_iso(article.last_changed_at or article.first_seen_at)
    due = schedule.next_check(now, last_change, settings.schedule)
    return {"next_check_at": due, "status": "active" if due else "retired"}


def check_article(
    db, crawler: Crawler, settings: Settings, article: Article, now: datetime, source: SourceSettings | None = None
) -> CheckOutcome:
    """Fetch one article and, if its text changed, store the new version, its diff and alerts."""
    settings = replace(settings, schedule=settings.schedule_for(source))  # the source's own ladder, if any
    fetched = crawler.fetch(db, article.canonical_url, now, robots=source.robots if source else True,
                            etag=article.etag, last_modified=article.last_modified)
    checked = {"last_checked_at": now, "checks": article.checks + 1, "priority": 0}
    if fetched.skipped:
        return _record_skip(db, settings, article, fetched, now)
    if fetched.error:
        return _record_failure(db, settings, article, fetched, checked, now)
    checked.update(etag=fetched.etag or article.etag, last_modified=fetched.last_modified or article.last_modified,
                   consecutive_failures=0, last_error=None)
    body_hash = hashlib.sha256(fetched.body).hexdigest()
    if fetched.not_modified or body_hash == article.last_body_hash:
        storage.update_article(db, article.id, fetched, **checked, **_ladder_next(settings, article, now, False))
        return CheckOutcome(article.id, "not_modified" if fetched.not_modified else "unchanged")
    checked["last_body_hash"] = body_hash
    try:
        ensure_html(fetched.body, fetched.content_type, fetched.final_url)
        # The HTTP charset first (as browsers do): guessing from the bytes alone garbles e.g. ISO-8859-2.
        html = decode_body(fetched.body, fetched.content_type)
        page = extract_article(html, fetched.final_url, settings.diff.ignore)
    except ExtractionError as exc:
        checked["last_error"] = str(exc)
        storage.update_article(db, article.id, fetched, **checked, **_ladder_next(settings, article, now, False))
        return CheckOutcome(article.id, "no_text", error=str(exc))
    text_hash = hash_text(page.text)
    previous = storage.latest_version(db, article.id)
    settled = _settle_identity(db, settings, article, fetched, page, previous, checked, now)
    if settled:
        return settled
    if previous and previous.text_hash == text_hash and previous.title == page.title:
        storage.update_article(db, article.id, fetched, **checked, **_ladder_next(settings, article, now, False))
        return CheckOutcome(article.id, "unchanged")
    version = Version(
        article_id=article.id, number=previous.number + 1 if previous else 1, fetched_at=to_iso(now),
        text_hash=text_hash, text=page.text, title=page.title, byline=page.byline,
        published_at=page.published, modified_at=page.modified, word_count=len(page.text.split()),
        notices=page.notices, extractor=page.extractor,
        revert_of=storage.find_version_by_hash(db, article.id, text_hash) if previous else None,
    )
    diff = previous and compare_versions(previous.text, page.text, previous.title, page.title,
                                         previous.byline, page.byline)
    matched = alerts.match_rules(settings.alerts, diff.changes) if diff else []
    storage.record_version(db, version, fetched.body, fetched, {
        **checked, **_ladder_next(settings, article, now, True), "title": page.title,
        "last_changed_at": now, "changes": article.changes + (1 if previous else 0),
    }, diff=diff or None, alerts=matched)
    return CheckOutcome(article.id, "new_version", version.number, len(diff.changes) if diff else 0)


def _record_failure(
    db, settings: Settings, article: Article, fetched: Fetched, checked: dict, now: datetime
) -> CheckOutcome:
    outcome, values, changes = lifecycle.failure_state(article, fetched, now, settings.schedule)
    _record_event(db, settings, article, changes, now, fetched=fetched, **checked, **values)
    return CheckOutcome(article.id, outcome, changes=len(changes), error=fetched.error)


def _record_event(db, settings: Settings, article: Article, changes: list[Change], now: datetime, **values) -> None:
    # A change seen in a fetch rather than in a diff (gone, redirected, a new address), with its alerts.
    storage.record_changes(db, article.id, changes, "fetch", now,
                           alerts=alerts.match_rules(settings.alerts, tuple(changes)), **values)


def _record_skip(db, settings: Settings, article: Article, fetched: Fetched, now: datetime) -> CheckOutcome:
    # No request was sent: nothing is logged, and the article is neither checked nor failing.
    if fetched.skipped == "throttled":
        due = schedule.defer(now, fetched.retry_after or 0.0, settings.schedule)
        storage.update_article(db, article.id, next_check_at=due, last_error=fetched.error)
        return CheckOutcome(article.id, "deferred", error=fetched.error)
    storage.update_article(db, article.id, last_error=fetched.error, **_ladder_next(settings, article, now, False))
    return CheckOutcome(article.id, "disallowed", error=fetched.error)


def _settle_identity(db, settings: Settings, article: Article, fetched: Fetched, page, previous: Version | None,
                     checked: dict, now: datetime) -> CheckOutcome | None:
    """Follow a page that names another URL as its own (a redirect, rel=canonical): an outcome if the
    check ends here (a duplicate, or a redirect to a different story), None to go on storing it."""
    final = canonicalize_url(fetched.final_url)
    target = find_canonical_link(fetched.body, fetched.final_url) or final
    if target == article.canonical_url:
        return None
    redirected = final != article.canonical_url
    owner = storage.owner_of(db, target)
    other = owner not in (None, article.id)
    owner_version = storage.latest_version(db, owner) if other else None
    action = lifecycle.settle_identity(other, redirected, previous and previous.text,
                                       owner_version and owner_version.text, page.text)
    if action == "adopt":
        owner = storage.claim_url(db, article.id, target, "redirect" if redirected else "canonical", now)
        if owner == article.id:
            if previous:  # a story researchers already follow changed address
                _record_event(db, settings, article, [Change("url", article.canonical_url, target)], now)
            return None
        action = "merge" if previous is None else "redirected"  # another check claimed it first
    if action == "merge":
        storage.record_fetch(db, fetched, article_id=owner)
        storage.merge_article(db, article.id, owner, now)
        return CheckOutcome(article.id, "duplicate")
    if action == "redirected":
        changes = [Change("redirected", article.canonical_url, target, context=page.title)]
        _record_event(db, settings, article, changes, now, fetched=fetched, **checked,
                      status="redirected", next_check_at=None)
        return CheckOutcome(article.id, "redirected", changes=1)
    return None


def deliver_alerts(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Send every pending alert: one message per article, rule and channel."""
    now = now or utcnow()
    db = storage.open_db(settings.database)
    urls = alerts.urls_by_channel(settings)
    counts = {"sent": 0, "failed": 0}
    for (rule, channel, _), group in alerts.group_alerts(storage.pending_alerts(db, alerts.MAX_ATTEMPTS)).items():
        url = urls.get((rule, channel))
        if url is None:
            error = f"rule {rule!r} no longer sends to {channel}"
        else:
            error = alerts.send_message(url, *alerts.compose_message(group), channel)
        for alert in group:
            storage.mark_alert(db, alert["id"], "failed" if error else "sent", now, error)
        counts["failed" if error else "sent"] += len(group)
    return counts


def run_cycle(settings: Settings, now: datetime | None = None, everything: bool = False) -> dict:
    """One full cycle without Airflow: poll every source, check what is due, deliver alerts."""
    now = now or utcnow()
    polls = poll_sources(settings, now)
    checks = sum_counts([check_batch(settings, batch, now) for batch in plan_batches(settings, now, everything)])
    return {"polls": polls, "checks": checks, "alerts": deliver_alerts(settings, now)}


def sum_counts(results: list[dict]) -> dict[str, int]:
    """Add up the counts that check_batch (or poll_source) returns; other values are left out."""
    totals: dict[str, int] = {}
    for counts in results:
        for key, value in counts.items():
            if isinstance(value, int) and not isinstance(value, bool) and key != "status":
                totals[key] = totals.get(key, 0) + value
    return totals
