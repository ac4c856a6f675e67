"""The stage functions that DAGs, the CLI and the tests call.

Each opens the database named in the settings, does one unit of work and
returns small JSON-able counts: XCom carries ids and counts, never pages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from jinja2 import TemplateError

import storage
from pipeline import alerts, lifecycle, schedule
from pipeline.config import Settings, SourceSettings
from pipeline.crawl import Crawler
from pipeline.diff import compare_pages, compare_versions, find_stealth_edit
from pipeline.errors import ExtractionError, FeedError, InputError, WallError
from pipeline.extract import count_words, describe_extractor, ensure_html, extract_article, hash_text, normalize_text
from pipeline.feed import render_feed
from pipeline.fetch import BINARY_TYPES, decode_body, open_client
from pipeline.models import (Article, Change, CheckOutcome, DiffReport, Entry, Extracted, Fetched, Verdict, Version,
                             from_iso, to_iso)
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
        storage.update_article(db, article.id, fetched, **checked, **_ladder_next(settings, article, now, False),
                               suspect_hash=None, suspect_at=None)
        return CheckOutcome(article.id, "not_modified" if fetched.not_modified else "unchanged")
    checked["last_body_hash"] = body_hash
    verdict = judge_page(db, settings, article, fetched, source)
    if verdict.status in ("new_version", "unchanged"):
        settled = _settle_identity(db, settings, article, fetched, verdict.page, verdict.previous, checked, now)
        if settled:
            return settled
    if verdict.status == "new_version":
        return _store_version(db, settings, article, fetched, checked, verdict, now)
    return _record_verdict(db, settings, article, fetched, checked, verdict, now)


def ignore_patterns(settings: Settings, source: SourceSettings | None) -> tuple[str, ...]:
    """The noise patterns for a source's articles: the global ones, then the source's own."""
    return settings.diff.ignore + (source.ignore if source else ())


def _source_of(db, settings: Settings, article: Article) -> SourceSettings | None:
    # Outside a check batch (which maps its sources once), look the article's source up by name.
    name = storage.source_name(db, article.source_id)
    return next((source for source in settings.sources if source.name == name), None)


def judge_page(db, settings: Settings, article: Article, fetched: Fetched,
               source: SourceSettings | None = None) -> Verdict:
    """Whether a fetched page makes a new version of the article, and if not, why.

    Walls and pages without text make none; nor does a text that differs from the last version
    only because the extractor changed. A text that collapsed to less than diff.shrink of the
    last one is held as suspect until a second check finds the same text.
    """
    ignore = ignore_patterns(settings, source)
    try:
        ensure_html(fetched.body, fetched.content_type, fetched.final_url)
        # The HTTP charset first (as browsers do): guessing from the bytes alone garbles e.g. ISO-8859-2.
        html = decode_body(fetched.body, fetched.content_type)
        page = extract_article(html, fetched.final_url, ignore, settings.diff.walls)
    except WallError as exc:
        return Verdict("wall", reason=str(exc))
    except ExtractionError as exc:
        return Verdict("no_text", reason=str(exc))
    previous = storage.latest_version(db, article.id)
    if previous is None:
        return Verdict("new_version", page)
    if _same_page(previous.page(), page):
        return Verdict("unchanged", page, previous, previous.page())
    baseline = reread_version(db, settings, article, previous, ignore)
    if _same_page(baseline, page):
        return Verdict("extractor_drift", page, previous, baseline,
                       reason=f"only the extractor changed ({previous.extractor} -> {page.extractor})")
    before, after = count_words(baseline.text), count_words(page.text)
    if after < settings.diff.shrink * before and article.suspect_hash != hash_text(page.text):
        return Verdict("suspect", page, previous, baseline,
                       reason=f"text shrank from {before} to {after} words; held until the next check confirms it")
    return Verdict("new_version", page, previous, baseline)


def _same_page(old: Extracted, new: Extracted) -> bool:
    return old.text == new.text and old.title == new.title


def reread_version(db, settings: Settings, article: Article, version: Version, ignore: tuple[str, ...]) -> Extracted:
    """The version as today's extractor with these ignore patterns reads its stored page
    (as stored when that is the extractor that stored it)."""
    if version.extractor == describe_extractor(ignore) or not version.raw_blob:
        return version.page()
    try:
        return extract_article(storage.get_blob(db, version.raw_blob), article.canonical_url, ignore,
                               settings.diff.walls)
    except ExtractionError:
        return version.page()


def _record_verdict(db, settings, article, fetched, checked, verdict: Verdict, now) -> CheckOutcome:
    state = {**checked, **_ladder_next(settings, article, now, False)}
    if verdict.status in ("no_text", "wall"):
        state["last_error"] = verdict.reason
    elif verdict.status == "suspect":
        # Keep the validators of the last good page, so the next check extracts this page afresh.
        state.update(last_body_hash=article.last_body_hash, etag=article.etag, last_modified=article.last_modified,
                     suspect_hash=hash_text(verdict.page.text), suspect_at=now)
    else:
        state.update(suspect_hash=None, suspect_at=None)
    if verdict.reason:
        log.info("article %s: %s: %s", article.id, verdict.status, verdict.reason)
    storage.update_article(db, article.id, fetched, **state)
    return CheckOutcome(article.id, verdict.status, error=verdict.reason)


def _store_version(db, settings, article, fetched, checked, verdict: Verdict, now) -> CheckOutcome:
    page, previous = verdict.page, verdict.previous
    text_hash = hash_text(page.text)
    version = Version(
        article_id=article.id, number=previous.number + 1 if previous else 1, fetched_at=to_iso(now),
        text_hash=text_hash, text=page.text, title=page.title, byline=page.byline,
        published_at=page.published, modified_at=page.modified, word_count=len(page.text.split()),
        notices=page.notices, extractor=page.extractor, banner=page.banner,
        revert_of=storage.find_revert(db, article.id, text_hash, page.title) if previous else None,
    )
    diff = compare_pages(verdict.baseline, page) if previous else None
    if diff and (stealth := find_stealth_edit(diff)):
        diff = replace(diff, changes=(*diff.changes, stealth))  # so alert rules can select it
    matched = (alerts.match_rules(settings.alerts, diff.changes, storage.source_name(db, article.source_id))
               if diff else [])
    storage.record_version(db, version, fetched.body, fetched, {
        **checked, **_ladder_next(settings, article, now, True), "title": page.title,
        "last_changed_at": now, "changes": article.changes + (1 if previous else 0),
        "suspect_hash": None, "suspect_at": None,
    }, diff=diff, alerts=matched)
    return CheckOutcome(article.id, "new_version", version.number, len(diff.changes) if diff else 0)


def _record_failure(
    db, settings: Settings, article: Article, fetched: Fetched, checked: dict, now: datetime
) -> CheckOutcome:
    outcome, values, changes = lifecycle.failure_state(article, fetched, now, settings.schedule)
    _record_event(db, settings, article, changes, now, fetched=fetched, **checked, **values)
    return CheckOutcome(article.id, outcome, changes=len(changes), error=fetched.error)


def _record_event(db, settings: Settings, article: Article, changes: list[Change], now: datetime, **values) -> None:
    # A change seen in a fetch rather than in a diff (gone, redirected, a new address), with its alerts.
    matched = alerts.match_rules(settings.alerts, tuple(changes), storage.source_name(db, article.source_id))
    storage.record_changes(db, article.id, changes, "fetch", now, alerts=matched, **values)


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



def diff_versions(settings: Settings, url: str, from_number: int | None = None,
                  to_number: int | None = None) -> DiffReport:
    """The diff between two stored versions of the article at url (default: the latest and the one before).

    When the two were extracted by different extractors, both stored pages are read again by
    the current one, so that the diff shows the newsroom's edits and not the extractor's.
    """
    db = storage.open_db(settings.database)
    article = storage.find_article(db, url)
    latest = storage.latest_version(db, article.id)
    if latest is None or latest.number < 2:
        raise InputError(f"{article.canonical_url}: has fewer than two versions, nothing to compare")
    to_number = to_number or latest.number
    from_number = from_number or to_number - 1
    old, new = storage.get_version(db, article.id, from_number), storage.get_version(db, article.id, to_number)
    old_page, new_page, note = old.page(), new.page(), None
    if old.extractor != new.extractor:
        ignore = ignore_patterns(settings, _source_of(db, settings, article))
        current = describe_extractor(ignore)
        old_page = reread_version(db, settings, article, old, ignore)
        new_page = reread_version(db, settings, article, new, ignore)
        note = (f"v{from_number} was extracted by {old.extractor} and v{to_number} by {new.extractor}; "
                f"both stored pages were read again by {current}")
    return DiffReport(compare_pages(old_page, new_page), article.canonical_url, from_number, to_number,
                      old.title, new.title, new.revert_of, note)


def reextract(settings: Settings, url: str | None = None, now: datetime | None = None) -> list[dict]:
    """Run today's extractor over every stored page (of one article, or all) and say what differs.

    A version whose page now reads exactly like the page before it existed only because the
    extractor changed: it is flagged as drift (its changes are no longer listed), never as an edit.
    """
    now = now or utcnow()
    db = storage.open_db(settings.database)
    articles = [storage.find_article(db, url)] if url else storage.list_articles(db)
    results = []
    for article in articles:
        ignore = ignore_patterns(settings, _source_of(db, settings, article))
        extractor, earlier = describe_extractor(ignore), None
        for version in storage.list_versions(db, article.id):
            record = {"url": article.canonical_url, "number": version.number, "extractor": extractor,
                      "stored_extractor": version.extractor, "differs": False, "drift_only": False, "error": None}
            try:
                page = extract_article(storage.get_blob(db, version.raw_blob), article.canonical_url, ignore,
                                       settings.diff.walls)
            except Exception as exc:  # noqa: BLE001 - one unreadable page never stops the others
                record.update(error=f"{type(exc).__name__}: {exc}", text_hash=None)
                page = None
            else:
                record.update(text_hash=hash_text(page.text), differs=not _same_page(version.page(), page),
                              drift_only=earlier is not None and _same_page(earlier, page))
            if record["drift_only"]:
                storage.mark_extractor_drift(db, article.id, version.number)
            storage.record_reextraction(db, {"article_id": article.id, "version_number": version.number,
                                             "checked_at": now, **{k: record[k] for k in (
                                                 "extractor", "stored_extractor", "text_hash", "differs",
                                                 "drift_only", "error")}})
            results.append({**record, "status": "failed" if page is None else
                            ("differs" if record["differs"] else "same")})
            earlier = page
    return results


MAX_CHANNELS = 8  # channels delivered to at once


def deliver_alerts(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Send the alerts that are due: one message per article, rule and channel.

    Each channel is served by its own thread and database connection, so a slow or
    broken channel never holds back the others. Each group of alerts is claimed
    (committed as `sending`) before its message goes out and marked after, so no alert
    is sent twice, whatever retries or crashes happen; a failure is recorded with its
    error and tried again later with backoff.
    """
    now = now or utcnow()
    db = storage.open_db(settings.database)
    counts = {"sent": 0, "failed": 0, "abandoned": 0, "waiting": 0, "deferred": 0, "messages": 0,
              "uncertain": storage.expire_claims(db, now - timedelta(seconds=alerts.CLAIM_TIMEOUT), alerts.INTERRUPTED)}
    routes = alerts.urls_by_channel(settings)
    by_url: dict[str, list] = {}
    for (rule_name, channel, _), group in alerts.group_alerts(storage.pending_alerts(db, now)).items():
        rule, url = routes.get((rule_name, channel), (None, None))
        if alerts.due_at(group, rule) > now:
            counts["waiting"] += len(group)
        elif url is None:
            if group := _claim(db, group, now):
                _finish_group(db, group, now, f"rule {rule_name!r} no longer sends to {channel}", counts)
        else:
            by_url.setdefault(url, []).append((rule, channel, group))
    for groups in by_url.values():  # least tried first: a message that keeps failing never starves the others
        groups.sort(key=lambda item: (max(alert["attempts"] for alert in item[2]), item[2][0]["id"]))
    if by_url:
        with ThreadPoolExecutor(max_workers=min(MAX_CHANNELS, len(by_url)), thread_name_prefix="redline-deliver") as pool:
            for result in pool.map(lambda item: _deliver_to(settings, *item, now), by_url.items()):
                for key, value in result.items():
                    counts[key] += value
    return counts


def _deliver_to(settings: Settings, url: str, groups: list, now: datetime) -> dict[str, int]:
    """Claim, send and mark each group of alerts for one channel, on this thread's own connection."""
    counts = {"sent": 0, "failed": 0, "abandoned": 0, "messages": 0, "deferred": 0}
    db = storage.open_db(settings.database)
    try:
        for number, (rule, channel, group) in enumerate(groups):
            if counts["failed"] or counts["abandoned"]:
                # A channel that just failed (or timed out) would likely fail again: what is left waits
                # for the next run rather than holding this thread once more for every message.
                counts["deferred"] += sum(len(rest) for _, _, rest in groups[number:])
                break
            group = _claim(db, group, now)
            if not group:
                continue  # another run took them
            try:
                error = alerts.send_message(url, *alerts.compose_message(group, rule), channel)
            except TemplateError as exc:
                error = f"rule {rule.name!r}: its template failed: {exc}"
            except Exception as exc:  # noqa: BLE001 - recorded on the alerts; the other groups go on
                log.exception("alerts %s: delivery to %s failed", [alert["id"] for alert in group], channel)
                error = f"{type(exc).__name__}: {exc}"
            _finish_group(db, group, now, error, counts)
            counts["messages"] += error is None
    finally:
        db.close()
    return counts


def _claim(db, group: list[dict], now: datetime) -> list[dict]:
    """The alerts of group this run now holds (claimed as `sending`); others were taken by another run."""
    claimed = set(storage.claim_alerts(db, [alert["id"] for alert in group], now))
    return [alert for alert in group if alert["id"] in claimed]


def _finish_group(db, group: list[dict], now: datetime, error: str | None, counts: dict[str, int]) -> None:
    ids = [alert["id"] for alert in group]
    retry = alerts.retry_at(max(alert["attempts"] for alert in group) + 1, now) if error else None
    if error is None:
        log.info("sent %d alert(s) about article %s to %s", len(ids), group[0]["article_id"], group[0]["channel"])
    else:
        log.warning("alerts %s to %s: %s (%s)", ids, group[0]["channel"], error,
                    f"retry at {to_iso(retry)}" if retry else "giving up")
    storage.finish_alerts(db, ids, now, error, retry)
    counts["sent" if error is None else "failed" if retry else "abandoned"] += len(ids)


def resend_alerts(settings: Settings, ids: list[int]) -> list[int]:
    """Make failed, abandoned or uncertain alerts due again; returns the ids requeued."""
    return storage.requeue_alerts(storage.open_db(settings.database), ids)


def compare_texts(old: str, new: str, old_title: str | None = None, new_title: str | None = None) -> dict:
    """What `redline compare --json` prints for two texts: word ops, statistics and changes."""
    result = compare_versions(normalize_text(old), normalize_text(new), old_title, new_title)
    return {"ops": result.ops, "stats": result.stats, "changes": [asdict(c) for c in result.changes]}


def compare_lines(lines: Iterable[str]) -> Iterator[dict]:
    """compare_texts for each {"old": ..., "new": ...} JSON line (optional "id", "old_title", "new_title");
    a line that cannot be read yields {"line": n, "error": ...} and the others go on."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            try:
                pair = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON object ({exc})") from None
            if not isinstance(pair, dict) or not all(isinstance(pair.get(k), str) for k in ("old", "new")):
                raise ValueError("expected an object with string fields \"old\" and \"new\"")
            titles = [pair.get(k) if isinstance(pair.get(k), str) else None for k in ("old_title", "new_title")]
            record = compare_texts(pair["old"], pair["new"], *titles)
        except ValueError as exc:
            yield {"line": number, "error": f"stdin line {number}: {exc}"}
            continue
        yield {"id": pair["id"], **record} if "id" in pair else record


FEED_ENTRIES = 200  # newest changes a feed holds


def changes_feed(settings: Settings, source: str | None = None, newest: int = FEED_ENTRIES,
                 self_url: str | None = None, now: datetime | None = None) -> bytes:
    """The Atom feed of the newest detected changes, of every source or of one."""
    if source is not None:
        settings.source(source)  # a name that is not configured is an error, not an empty feed
    db = storage.open_db(settings.database)
    return render_feed(storage.list_changes(db, source=source, newest=newest), now or utcnow(), source, self_url)


def write_feeds(settings: Settings, folder: str | Path, now: datetime | None = None) -> list[Path]:
    """Write changes.xml (every source) and changes-<source>.xml for each configured source into folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = now or utcnow()
    written = []
    for source in [None, *source_names(settings)]:
        slug = re.sub(r"[^a-z0-9]+", "-", source.lower()).strip("-") if source else ""
        path = folder / (f"changes-{slug}.xml" if source else "changes.xml")
        temporary = path.with_suffix(".xml.tmp")
        temporary.write_bytes(changes_feed(settings, source, now=now))
        temporary.replace(path)  # a reader never sees half a feed
        written.append(path)
    return written


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
