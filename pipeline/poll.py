"""Polling a source: fetch its feed, sitemap or URL list, track the articles it names, and
record what its entries say changed (a rewritten headline or summary) before any page is fetched."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

import storage
from pipeline import alerts, lifecycle
from pipeline.config import Settings, SourceSettings
from pipeline.crawl import Crawler
from pipeline.errors import FeedError, InvalidURLError
from pipeline.fetch import BINARY_TYPES, open_client
from pipeline.masking import mask_text, mask_url
from pipeline.models import Entry, Fetched, utcnow
from pipeline.sources import filter_entries, needs_resolving, parse_sitemap, read_source, story_url

log = logging.getLogger(__name__)


def poll_source(settings: Settings, name: str, now: datetime | None = None) -> dict:
    """Fetch one source, track the articles it lists and record what its entries say changed;
    a failure is recorded on the source, not raised."""
    now = now or utcnow()
    config = settings.source(name)
    db = storage.open_archive(settings)
    source_id = storage.sync_sources(db, [config])[name]
    stored = storage.get_source(db, name)
    new = changes = 0
    with open_client(settings.network) as client:
        crawler = Crawler(settings.network, client, schedule=settings.schedule)
        fetched = crawler.fetch(db, config.url, now, robots=config.robots, etag=stored.etag,
                                last_modified=stored.last_modified, refuse=BINARY_TYPES)
        error = fetched.error
        if fetched.ok:
            try:
                found = _discover(db, crawler, settings, config, fetched, now)
                changes = _note_feed_updates(db, settings, config, source_id, found.entries, now)
                new = storage.add_articles(db, source_id, found.entries, now)
                storage.add_aliases(db, found.wrappers, "wrapper", now)
                error = found.error
            except FeedError as exc:
                error = str(exc)
            except Exception as exc:  # noqa: BLE001 - recorded on the source; the other sources are polled
                log.exception("source %s (%s): the poll failed", name, mask_url(config.url))
                error = f"{mask_url(config.url)}: the poll failed ({type(exc).__name__}: {exc})"
    storage.record_poll(db, source_id, fetched, error)
    if error:
        log.warning("source %s (%s): %s", name, mask_url(config.url), mask_text(error))
    log.info("source %s: HTTP %s, %d new article(s), %d change(s) from its entries", name, fetched.status, new, changes)
    return {"source": name, "status": fetched.status, "new_articles": new, "changes": changes,
            "error": mask_text(error)}


def poll_sources(settings: Settings, now: datetime | None = None) -> list[dict]:
    """Poll every configured source once."""
    return [poll_source(settings, source.name, now) for source in settings.sources]


class Discovered(NamedTuple):
    """What one poll found: entries (wrappers resolved, filtered), wrapper URL → story URL, child errors."""

    entries: list[Entry]
    wrappers: dict[str, str]
    error: str | None


def _discover(db, crawler: Crawler, settings: Settings, config: SourceSettings, fetched: Fetched,
              now: datetime) -> Discovered:
    """The source's entries, the newest of a sitemap index's children read too (their errors noted, not raised)."""
    found = read_source(fetched.body, config.kind, fetched.final_url)
    entries, errors = list(found.entries), [f"{fetched.final_url}: {why}" for why in found.skipped]
    for child in found.children[:settings.network.sitemap_children]:
        page = crawler.fetch(db, child, now, robots=config.robots, refuse=BINARY_TYPES)
        try:
            if not page.ok:
                raise FeedError(child, page.error)
            entries.extend(parse_sitemap(page.body, page.final_url).entries)
        except FeedError as exc:
            errors.append(str(exc))
    wrappers = _resolve_wrappers(db, crawler, settings, config, entries, now)
    entries = [replace(e, url=wrappers.get(e.url, e.url)) for e in entries]
    return Discovered(filter_entries(entries, config.include, config.exclude), wrappers, "; ".join(errors) or None)


def _resolve_wrappers(db, crawler: Crawler, settings: Settings, config: SourceSettings, entries: list[Entry],
                      now: datetime) -> dict[str, str]:
    # A feedproxy or shortener link costs one request (no body read) the first time it is seen;
    # afterwards it is an alias of the story it led to. Past max_resolved, a first check follows it.
    wrapped = [e for e in entries if needs_resolving(e.url)]
    known = storage.find_articles(db, [e.url for e in wrapped])
    resolved = {}
    for entry in [e for e in wrapped if e.url not in known][:settings.network.max_resolved]:
        hop = crawler.fetch(db, entry.url, now, robots=config.robots, read_body=False)
        try:
            target = story_url(hop.final_url, entry.url) if not hop.error else entry.url
        except InvalidURLError:
            continue  # tracked as it is; its first check follows the redirect
        if target != entry.url:
            resolved[entry.url] = target
    for wrapper, article in known.items():
        resolved[wrapper] = article.canonical_url
    return resolved


def _note_feed_updates(db, settings: Settings, config: SourceSettings, source_id: int, entries: list[Entry],
                       now: datetime) -> int:
    """Record the headline and summary rewrites the entries reveal, and queue fresh stories first."""
    recorded, by_url = 0, {entry.url: entry for entry in entries}
    # Each article as this source last described it: another feed's title for the story is no rewrite.
    for url, article in storage.find_articles(db, list(by_url), source_id).items():
        changes, updated, bump = lifecycle.feed_update(article, by_url[url])
        if updated is not None:
            matched = alerts.match_rules(settings.alerts, changes, config.name)
            stored = storage.record_feed_update(db, article, updated, changes, now, source_id, matched, bump)
            recorded += len([change_id for change_id in stored or () if change_id is not None])
    return recorded
