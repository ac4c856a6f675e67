"""Polling a source: fetch its feed, sitemap or URL list, track the articles it names, and
record what its entries say changed (a rewritten headline or summary) before any page is fetched."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import storage
from pipeline import alerts, import_lazily, lifecycle
from pipeline.config import Settings, SourceSettings
from pipeline.crawl import Crawler
from pipeline.errors import FeedError, InvalidURLError
from pipeline.fetch import BINARY_TYPES, decode_body, open_client
from pipeline.masking import mask_text, mask_url
from pipeline.models import Entry, Fetched, Issue, from_iso, to_iso, utcnow
from pipeline.sources import filter_entries, needs_resolving, parse_feed, parse_sitemap, read_source, story_url
from pipeline.values import IMAP_SCHEMES

# Newsletters' mail parsing (email, mailbox, lxml.html) and IMAP load with the first newsletter read.
mail = import_lazily("pipeline.mail")
imap = import_lazily("pipeline.imap")

log = logging.getLogger(__name__)


def poll_source(settings: Settings, name: str, now: datetime | None = None,
                login: tuple[str, str] | None = None) -> dict:
    """Fetch one source, track the articles it lists and record what its entries say changed;
    a failure is recorded on the source, not raised. login: an IMAP newsletter's user and password
    when its credentials are an Airflow Connection (the DAG reads it; Redline's code never imports Airflow)."""
    now = now or utcnow()
    config = settings.source(name)
    db = storage.open_archive(settings)
    source_id = storage.sync_sources(db, [config])[name]
    stored = storage.get_source(db, name)
    new = changes = 0
    with open_client(settings.network) as client:
        crawler = Crawler(settings.network, client, schedule=settings.schedule)
        archive = config.url.startswith(("http://", "https://"))  # a newsletter's web archive: its feed
        if config.kind == "newsletter" and not archive:
            fetched = Fetched(url=config.url, final_url=config.url, status=None, at=now, elapsed_ms=0,
                              skipped="mailbox")  # a mailbox is read, not requested: no fetch to log
        else:
            fetched = crawler.fetch(db, config.url, now, robots=config.robots, etag=stored.etag,
                                    last_modified=stored.last_modified, refuse=BINARY_TYPES)
        error = fetched.error
        try:
            if config.kind == "newsletter" and (fetched.ok or not archive):
                new, error = _read_newsletters(db, crawler, settings, config, source_id, now,
                                               fetched if archive else None, login)
            elif fetched.ok:
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
    log.info("source %s: %s, %d new article(s), %d change(s) from its entries", name,
             "mailbox" if config.kind == "newsletter" else f"HTTP {fetched.status}", new, changes)
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
                      now: datetime, wrapped_if=needs_resolving) -> dict[str, str]:
    # A feedproxy or shortener link (or a newsletter's tracker) costs one request, no body read, the first
    # time it is seen; afterwards it is an alias of the story it led to. Past max_resolved, a first check
    # follows it.
    wrapped = [e for e in entries if wrapped_if(e.url)]
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


def _read_newsletters(db, crawler: Crawler, settings: Settings, config: SourceSettings, source_id: int,
                      now: datetime, archive: Fetched | None = None,
                      login: tuple[str, str] | None = None) -> tuple[int, str | None]:
    """Read a newsletter's mailbox (or, given its fetched feed, its web archive): each issue not stored
    before (by Message-ID) is recorded, and every story it links is tracked. Returns how many articles
    are new, and what could not be read."""
    new, problems = 0, []
    issues = (_archive_issues(db, crawler, settings, config, source_id, archive, now) if archive
              else _mailbox_issues(db, settings, config, source_id, login))
    for key, issue, skipped in issues:
        if skipped:
            problems.append(f"{key}: {skipped}")
            continue
        if not _addressed(config, issue) or storage.has_issue(db, issue.message_id):
            continue
        key, similar = mail.subject_key(issue.subject), []
        if issue.sent_at and key:
            sent = from_iso(issue.sent_at)
            similar = storage.list_issues(db, subject_key=key, sent_between=(to_iso(sent - timedelta(days=7)),
                                                                             to_iso(sent + timedelta(days=1))))
        again, earlier = mail.relate(issue, similar)
        if again:
            continue  # the same issue, received again (by mail and from the archive, say)
        # Anchor texts are no headlines: the entries carry no title, so a later issue's words are no rewrite.
        followed = _resolve_wrappers(db, crawler, settings, config, [Entry(url=link.url) for link in issue.links],
                                     now, mail.needs_following)
        links = [replace(link, url=followed.get(link.url, link.url)) for link in issue.links]
        kept = {entry.url for entry in filter_entries([Entry(url=link.url) for link in links], config.include,
                                                      config.exclude)}
        new += storage.add_articles(db, source_id, [Entry(url=url) for url in kept], now)
        storage.add_aliases(db, followed, "wrapper", now)
        storage.record_issue(db, source_id, replace(issue, links=tuple(link for link in links if link.url in kept)),
                             now, key, earlier)
    return new, "; ".join(problems) or None


def _mailbox_issues(db, settings: Settings, config: SourceSettings, source_id: int,
                    login: tuple[str, str] | None = None):
    """(key, issue, why skipped) for each message of the newsletter's mailbox."""
    for key, raw, skipped in _messages(db, settings, config, source_id, login):
        try:
            yield f"message {key}", None if skipped else mail.read_message(raw), skipped
        except Exception as exc:  # noqa: BLE001 - one unreadable message never stops the others
            yield f"message {key}", None, f"cannot be read ({type(exc).__name__}: {exc})"


def _archive_issues(db, crawler: Crawler, settings: Settings, config: SourceSettings, source_id: int,
                    feed: Fetched, now: datetime):
    """(key, issue, why skipped) for the newest issues a newsletter's web archive feed lists that are not
    stored yet, each read from its own page."""
    for entry in parse_feed(feed.body, feed.final_url)[:settings.network.archive_issues]:
        message_id = f"<archive:{entry.url}>"
        if storage.has_issue(db, message_id):
            continue
        page = crawler.fetch(db, entry.url, now, robots=config.robots, refuse=BINARY_TYPES)
        if not page.skipped:
            storage.record_fetch(db, page, source_id=source_id)
        if not page.ok:
            yield entry.url, None, page.error or f"not fetched ({page.skipped})"
            continue
        yield entry.url, mail.read_issue_page(decode_body(page.body, page.content_type), page.final_url, message_id,
                                              entry.title, entry.published), None


def _messages(db, settings: Settings, config: SourceSettings, source_id: int, login: tuple[str, str] | None = None):
    """(key, raw message, why skipped) of the newsletter's mailbox: a file or folder, or an IMAP folder
    read from after the last message seen (its state saved once the batch is fetched)."""
    scheme = config.url.split(":", 1)[0]
    if scheme not in IMAP_SCHEMES:
        yield from mail.read_mailbox(scheme, Path(config.url.split(":", 1)[1]))
        return
    user, password = login or _environment_login(config)
    uidvalidity, last_uid = storage.mailbox_state(db, source_id)
    validity, messages = imap.read_imap(config.url, user, password, settings.network, last_uid, uidvalidity)
    for uid, raw, skipped in messages:
        yield f"UID {uid}", raw, skipped
    storage.save_mailbox_state(db, source_id, validity, max([uid for uid, _, _ in messages], default=last_uid
                                                            if validity == uidvalidity else 0))


def _environment_login(config: SourceSettings) -> tuple[str, str]:
    if config.credentials.startswith("airflow:"):
        raise FeedError(mask_url(config.url), f"credentials = {config.credentials!r} are read only when the poll "
                                              "runs under Airflow (use env:NAME with `redline run`)")
    name = config.credentials.removeprefix("env:")
    user, password = os.environ.get(f"{name}_USER"), os.environ.get(f"{name}_PASSWORD")
    if not user or password is None:
        raise FeedError(mask_url(config.url), f"set {name}_USER and {name}_PASSWORD in the environment")
    return user, password


def _addressed(config: SourceSettings, issue: Issue) -> bool:
    """Whether a message passes the source's from and list_id filters (none: every message)."""
    if not (config.senders or config.list_ids):
        return True
    sender, list_id = (issue.sender or "").lower(), (issue.list_id or "").lower()
    return (any(s.lower() in sender for s in config.senders) or any(l.lower() in list_id for l in config.list_ids))


def _note_feed_updates(db, settings: Settings, config: SourceSettings, source_id: int, entries: list[Entry],
                       now: datetime) -> int:
    """Record the headline and summary rewrites the entries reveal, and queue fresh stories first."""
    recorded, by_url = 0, {entry.url: entry for entry in entries}
    # Each article as this source last described it: another feed's title for the story is no rewrite.
    for url, article in storage.find_articles(db, list(by_url), source_id).items():
        changes, updated, bump = lifecycle.feed_update(article, by_url[url])
        if updated is not None:
            matched = alerts.match_rules(settings.alerts, changes, config.name)
            if matched:  # a headline the page's diff already told (at the latest version) is not told again
                matched = alerts.untold(matched, changes, storage.list_headlines(db, article.id, "page"))
            stored = storage.record_feed_update(db, article, updated, changes, now, source_id, matched, bump)
            recorded += len([change_id for change_id in stored or () if change_id is not None])
    return recorded
