"""Checking articles: claim the due ones, fetch each politely, and store what its page now says.

A check fetches the article (conditionally), judges the page (a new version, or why not),
settles its identity when the page names another URL as its own, and stores the outcome.
An article's new version, diff, changes, pending alerts and checking state commit in one
transaction; every other outcome stores the article's state through one named storage call.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import storage
from pipeline import alerts, lifecycle, schedule
from pipeline.config import DiffSettings, ScheduleSettings, Settings, SourceSettings
from pipeline.errors import ExtractionError, WallError
from pipeline.models import (Article, Change, CheckOutcome, Extracted, Fetched, Verdict, Version, from_iso, to_iso,
                             utcnow)

if TYPE_CHECKING:
    from pipeline.crawl import Crawler

# The network, extraction, diffing and URL canonicalisation are imported by the functions that use them:
# planning loads no httpx, and a run whose pages all answer 304 or come back byte-identical never compiles
# extraction's rules (14 ms) nor loads diff-match-patch, the figure tables, courlan or feedparser (an import
# inside a function is thread-safe; after the first, it is a dict lookup).

log = logging.getLogger(__name__)


def plan_batches(settings: Settings, now: datetime | None = None, everything: bool = False,
                 hand_off: bool = False) -> list[list[int]]:
    """Claim the due articles (every live one with everything) and split them into batches.

    The claims are this process's, so a run killed before it checked them gives them up at once;
    with hand_off (Airflow's planning task) they wait, until the lease expires, for the processes
    that check the batches to take them over.
    """
    now = now or utcnow()
    db = storage.open_archive(settings)
    ids = storage.claim_due_articles(db, now, settings.schedule.lease, everything=everything,
                                     holder=storage.lease_holder(hand_off))
    size = settings.schedule.batch_size
    log.info("claimed %d due article(s) in %d batch(es)", len(ids), -(-len(ids) // size))
    if held := storage.count_held_elsewhere(db, now, everything):
        log.warning("%d due article(s) skipped: another run that is still alive holds them", held)
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def held_elsewhere(settings: Settings, now: datetime | None = None, everything: bool = False) -> int:
    """How many due articles another live run holds (this run skips them)."""
    return storage.count_held_elsewhere(storage.open_archive(settings), now or utcnow(), everything)


def check_batch(settings: Settings, article_ids: list[int], now: datetime | None = None) -> dict:
    """Check each article of the batch; one failing article never stops the others.

    Up to network.max_connections articles are in flight at once (no more than their hosts'
    host_connections allow), but only one thread at a time works on the database: the others are
    waiting on the network meanwhile.
    """
    from pipeline.crawl import Crawler, origin_of
    from pipeline.fetch import open_client

    now = now or utcnow()
    db = storage.open_archive(settings)
    held = storage.hold_articles(db, article_ids, now, settings.schedule.lease)
    if skipped := len(article_ids) - len(held):
        log.warning("%d article(s) of the batch skipped: another run that is still alive holds them", skipped)
    article_ids = held
    sources = _sources_by_id(db, settings)
    turn, local = threading.Lock(), threading.local()
    local.db = db
    # The threads take turns at the database, so on SQLite they share this connection (a connection each
    # drops its page cache whenever another has written: an unchanged check at eight threads 4.51 -> 4.32 ms
    # of CPU, median of five alternating runs). On PostgreSQL each worker takes its own from the pool.
    shared = not storage.on_server(db)
    with open_client(settings.network) as client:
        crawler = Crawler(settings.network, client, turn, settings.schedule)

        def check(article_id: int) -> CheckOutcome:
            with turn:
                if not hasattr(local, "db"):
                    local.db = db if shared else storage.open_archive(settings)
                return _check_safely(local.db, crawler, settings, sources, article_id, now)

        # No more threads than requests that may be in flight: a batch from one site waits on its
        # host_connections, and each thread more only hands the turn round (and grows memory).
        origins = {origin_of(url) for url in storage.article_urls_by_id(db, article_ids).values()}
        workers = min(settings.network.max_connections, len(article_ids),
                      len(origins) * settings.network.host_connections)
        with _fewer_collections():
            if workers <= 1:  # no thread to start, nothing to hand over
                outcomes = [check(article_id) for article_id in article_ids]
            else:
                from concurrent.futures import ThreadPoolExecutor  # (a run with nothing due starts without it)

                _share_malloc_arenas()
                with _one_cpu(settings.schedule.one_cpu), \
                        ThreadPoolExecutor(workers, thread_name_prefix="redline-check") as pool:
                    outcomes = list(pool.map(check, article_ids))
    storage.release_free_pages(db)
    counts: dict[str, int] = {"held_elsewhere": skipped} if skipped else {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        counts["changes"] = counts.get("changes", 0) + outcome.changes
    log.info("checked %d article(s): %s", len(outcomes), ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return counts


# Python's cyclic garbage collector looks at the young objects every 700 allocations, and now and then at all
# of them: the modules loaded, trafilatura's tables, jusText's 154,000 stop words. A check allocates tens of
# thousands of objects, nearly all freed by their reference counts as soon as it is done with them; during a
# batch the collector looks every 10,000 instead. bench_replay's changed round (150 checks in one process):
# 0.12 s of collections -> 0.045 (timed by gc.callbacks), none over every object; 34.1 -> 33.3 ms of CPU a
# changed check (medians of 21 alternating runs). Batches at once in one process (threads) share the setting:
# the first to begin sets it, the last to end gives the old one back.
_COLLECT_EVERY = 10_000
_collecting: dict = {"batches": 0, "threshold": None}
_collecting_lock = threading.Lock()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    with _collecting_lock:
        if _collecting["batches"] == 0:
            threshold = _collecting["threshold"] = gc.get_threshold()
            if threshold[0]:  # (0: the process turned automatic collection off, and it stays off)
                gc.set_threshold(max(_COLLECT_EVERY, threshold[0]), *threshold[1:])
        _collecting["batches"] += 1
    try:
        yield
    finally:
        with _collecting_lock:
            _collecting["batches"] -= 1
            if _collecting["batches"] == 0:
                gc.set_threshold(*_collecting["threshold"])


@contextmanager
def _one_cpu(wanted: bool) -> Iterator[None]:
    """The threads started inside run on the CPU this one is on (when wanted and allowed another), then it
    runs where it could before."""
    # The check threads take turns (at the database, and at Python's GIL, which sqlite3 and socket reads
    # release and take back on every call): across two CPUs each hand-over wakes a thread on the other core,
    # and the data moves with it. bench_replay's changed check: 54.0 -> 50.8 ms of CPU (medians of 15
    # alternating runs), as cheap as one thread, with the requests still in flight together. Linux sets
    # affinity per thread, and a thread inherits its creator's: the pool's threads are started inside.
    allowed = os.sched_getaffinity(0) if wanted and hasattr(os, "sched_setaffinity") else set()
    cpu = _current_cpu() if len(allowed) > 1 else None
    if cpu not in allowed:
        yield
        return
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def _current_cpu() -> int | None:
    # The CPU the scheduler last ran this thread on (the 39th field of its stat line): where it placed the
    # process among the others, so two batches running at once are on two CPUs.
    try:
        with open("/proc/thread-self/stat", "rb") as stat:
            return int(stat.read().rpartition(b")")[2].split()[36])
    except (OSError, ValueError, IndexError):
        return None


def _share_malloc_arenas() -> None:
    # glibc gives each thread that allocates its own malloc arena (up to eight per core) and keeps what each
    # arena grew to. The check threads take turns at the CPU, so arenas of their own only add up: peak RSS of
    # bench_replay's 150-page round 263 -> 167 MiB with two, CPU unchanged. An explicit MALLOC_ARENA_MAX wins.
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # no glibc: its allocator is left as it is
        pass


def _sources_by_id(db, settings: Settings) -> dict[int, SourceSettings]:
    configured = {source.name: source for source in settings.sources}
    return {id_: configured[name] for id_, name in storage.source_names_by_id(db).items() if name in configured}


def _check_safely(db, crawler: Crawler, settings: Settings, sources: dict, article_id: int,
                  now: datetime) -> CheckOutcome:
    article = None
    try:
        article = storage.get_article(db, article_id)
        outcome = check_article(db, crawler, settings, article, now, sources.get(article.source_id))
    except Exception as exc:  # noqa: BLE001 - recorded on the article, and the batch goes on
        log.exception("article %s: check failed", article_id)
        error = f"{type(exc).__name__}: {exc}"
        if article is None:
            storage.record_check_error(db, article_id, error)
        else:  # backs off like any failed fetch, so a page that breaks the check is not retried every run
            failed = Fetched(article.canonical_url, article.canonical_url, None, now, 0, error=error)
            _, state, _ = lifecycle.failure_state(article, failed, now, settings.schedule_for(sources.get(article.source_id)))
            storage.record_check(db, state)
        return CheckOutcome(article_id, "failed", error=error)
    if outcome.error:
        log.warning("article %s (%s): %s: %s", article_id, article.canonical_url, outcome.status, outcome.error)
    return outcome


def check_article(db, crawler: Crawler, settings: Settings, article: Article, now: datetime,
                  source: SourceSettings | None = None) -> CheckOutcome:
    """Fetch one article and, if its text changed, store the new version, its diff and alerts."""
    ladder = settings.schedule_for(source)  # the source's own ladder, if any
    fetched = crawler.fetch(db, article.canonical_url, now, robots=source.robots if source else True,
                            etag=article.etag, last_modified=article.last_modified)
    if fetched.skipped:
        return _record_skip(db, ladder, article, fetched, now)
    checked = replace(article, last_checked_at=to_iso(now), checks=article.checks + 1, priority=0)
    if fetched.error:
        return _record_failure(db, settings, ladder, checked, fetched, now)
    checked = replace(checked, etag=fetched.etag or article.etag, consecutive_failures=0, last_error=None,
                      last_modified=fetched.last_modified or article.last_modified)
    body_hash = storage.hash_page(fetched.body)
    if fetched.not_modified or body_hash == article.last_body_hash:
        status = "not_modified" if fetched.not_modified else "unchanged"
        storage.record_check(db, _note_suspect(_reschedule(ladder, checked, now), status, None, now), fetched)
        return CheckOutcome(article.id, status)
    checked = replace(checked, last_body_hash=body_hash)
    verdict = judge_page(db, settings, article, fetched, source)
    if verdict.status in ("new_version", "unchanged"):
        settled = _settle_identity(db, crawler, settings, source, checked, fetched, verdict.page, verdict.previous,
                                   now)
        if settled:
            return settled
    if verdict.status == "new_version":
        return _store_version(db, settings, ladder, checked, fetched, verdict, now)
    return _record_verdict(db, ladder, article, checked, fetched, verdict, now)


def judge_page(db, settings: Settings, article: Article, fetched: Fetched,
               source: SourceSettings | None = None) -> Verdict:
    """Whether a fetched page makes a new version of the article, and if not, why.

    Walls and pages without text make none; nor does a text that differs from the last version
    only because the extractor changed. A text that collapsed to less than diff.shrink of the
    last one is held as suspect until a second check finds the same text.
    """
    from pipeline.extract import hash_text
    from pipeline.reread import reread_version, same_page

    rules = settings.diff_for(source)
    try:
        page = _read_page(fetched, rules)
    except WallError as exc:
        return Verdict("wall", reason=str(exc))
    except ExtractionError as exc:
        return Verdict("no_text", reason=str(exc))
    previous = storage.latest_version(db, article.id)
    if previous is None:
        return Verdict("new_version", page)
    if same_page(previous.page(), page):
        return Verdict("unchanged", page, previous, previous.page())
    baseline = reread_version(db, rules, article, previous)
    if same_page(baseline, page):
        return Verdict("extractor_drift", page, previous, baseline,
                       reason=f"only the extractor changed ({previous.extractor} -> {page.extractor})")
    before, after = baseline.words, page.words
    if after < rules.shrink * before and article.suspect_hash != hash_text(page.text):
        return Verdict("suspect", page, previous, baseline,
                       reason=f"text shrank from {before} to {after} words; held until the next check confirms it")
    return Verdict("new_version", page, previous, baseline)


def _read_page(fetched: Fetched, rules: DiffSettings) -> Extracted:
    """The article a fetched page holds; WallError or ExtractionError when it holds none."""
    from pipeline.extract import ensure_html, extract_article
    from pipeline.fetch import decode_body

    ensure_html(fetched.body, fetched.content_type, fetched.final_url)
    # The HTTP charset first (as browsers do): guessing from the bytes alone garbles e.g. ISO-8859-2.
    return extract_article(decode_body(fetched.body, fetched.content_type), fetched.final_url, rules)


def _reschedule(ladder: ScheduleSettings, article: Article, now: datetime, changed: bool = False) -> Article:
    # The ladder counts from the last change; an article it no longer reaches is retired.
    last_change = now if changed else from_iso(article.last_changed_at or article.first_seen_at)
    due = schedule.next_check(now, last_change, ladder)
    return replace(article, next_check_at=due and to_iso(due), status="active" if due else "retired")


def _note_suspect(article: Article, status: str, page: Extracted | None, now: datetime) -> Article:
    """The one place a collapsed text is held or let go: held for a suspect page, kept past a wall or
    a page without text (which say nothing of the article's text), let go after any other page."""
    if status == "suspect":
        from pipeline.extract import hash_text

        return replace(article, suspect_hash=hash_text(page.text), suspect_at=to_iso(now))
    if status in ("no_text", "wall"):
        return article
    return replace(article, suspect_hash=None, suspect_at=None)


def _record_verdict(db, ladder: ScheduleSettings, article: Article, checked: Article, fetched: Fetched,
                    verdict: Verdict, now: datetime) -> CheckOutcome:
    state = _reschedule(ladder, checked, now)
    if verdict.status in ("no_text", "wall"):
        state = replace(state, last_error=verdict.reason)
    elif verdict.status == "suspect":
        # Keep the validators of the last good page, so the next check extracts this page afresh.
        state = replace(state, last_body_hash=article.last_body_hash, etag=article.etag,
                        last_modified=article.last_modified)
    if verdict.reason:
        log.info("article %s: %s: %s", article.id, verdict.status, verdict.reason)
    storage.record_check(db, _note_suspect(state, verdict.status, verdict.page, now), fetched)
    return CheckOutcome(article.id, verdict.status, error=verdict.reason)


def _store_version(db, settings: Settings, ladder: ScheduleSettings, checked: Article, fetched: Fetched,
                   verdict: Verdict, now: datetime) -> CheckOutcome:
    from pipeline.diff import compare_pages, find_stealth_edit
    from pipeline.extract import hash_text

    page, previous = verdict.page, verdict.previous
    text_hash = hash_text(page.text)
    version = Version(
        article_id=checked.id, number=previous.number + 1 if previous else 1, fetched_at=to_iso(now),
        text_hash=text_hash, text=page.text, title=page.title, byline=page.byline,
        published_at=page.published, modified_at=page.modified, word_count=len(page.text.split()),
        notices=page.notices, extractor=page.extractor, banner=page.banner,
        revert_of=storage.find_revert(db, checked.id, text_hash, page.title) if previous else None,
    )
    diff = compare_pages(verdict.baseline, page, settings.diff.language) if previous else None
    if diff and (stealth := find_stealth_edit(diff)):
        diff = replace(diff, changes=(*diff.changes, stealth))  # so alert rules can select it
    matched = (alerts.match_rules(settings.alerts, diff.changes, storage.source_name(db, checked.source_id))
               if diff else [])
    if matched:  # a headline the feed already told (since the last version) is not told again
        matched = alerts.untold(matched, diff.changes, storage.list_headlines(db, checked.id, "feed", previous.number))
    state = replace(_note_suspect(_reschedule(ladder, checked, now, changed=True), "new_version", page, now),
                    title=page.title, last_changed_at=to_iso(now), changes=checked.changes + (1 if previous else 0))
    storage.record_version(db, version, fetched.body, fetched, state, diff=diff, alerts=matched,
                           raw_hash=state.last_body_hash)
    return CheckOutcome(checked.id, "new_version", version.number, len(diff.changes) if diff else 0)


def _record_failure(db, settings: Settings, ladder: ScheduleSettings, checked: Article, fetched: Fetched,
                    now: datetime) -> CheckOutcome:
    if fetched.status in lifecycle.GONE and (fallback := _found_under(db, checked)):
        # The address was adopted from the page's rel=canonical and now fails: the story goes back to
        # the address it was found under, checked again at once, rather than being lost as gone.
        storage.claim_url(db, checked.id, fallback, "unconfirmed", now)
        _record_events(db, settings, checked, [Change("url", checked.canonical_url, fallback, context=fetched.error)],
                       now, replace(checked, next_check_at=to_iso(now), last_error=fetched.error), fetched)
        return CheckOutcome(checked.id, "fell_back", changes=1, error=fetched.error)
    outcome, failed, changes = lifecycle.failure_state(checked, fetched, now, ladder)
    _record_events(db, settings, checked, changes, now, failed, fetched)
    return CheckOutcome(checked.id, outcome, changes=len(changes), error=fetched.error)


def _record_events(db, settings: Settings, article: Article, changes: list[Change] | tuple[Change, ...],
                   now: datetime, checked: Article | None = None, fetched: Fetched | None = None) -> None:
    # A change seen in a fetch rather than in a diff (gone, redirected, a new address), with its alerts.
    matched = alerts.match_rules(settings.alerts, tuple(changes), storage.source_name(db, article.source_id))
    storage.record_events(db, article.id, changes, now, matched, checked, fetched)


def _record_skip(db, ladder: ScheduleSettings, article: Article, fetched: Fetched, now: datetime) -> CheckOutcome:
    # No request was sent: nothing is logged, and the article is neither checked nor failing.
    if fetched.skipped == "throttled":
        due = schedule.defer(now, fetched.retry_after or 0.0, ladder)
        storage.record_check(db, replace(article, next_check_at=to_iso(due), last_error=fetched.error))
        return CheckOutcome(article.id, "deferred", error=fetched.error)
    storage.record_check(db, _reschedule(ladder, replace(article, last_error=fetched.error), now))
    return CheckOutcome(article.id, "disallowed", error=fetched.error)


def _found_under(db, article: Article) -> str | None:
    """The address an article was found under before it adopted its page's rel=canonical, if it did."""
    return next((alias.url for alias in reversed(storage.list_aliases(db, article.id)) if alias.kind == "canonical"),
                None)


def _answers_with(db, crawler: Crawler, settings: Settings, source: SourceSettings | None, article: Article,
                  url: str, page: Extracted, now: datetime) -> bool:
    """Whether url answers with the same story as page: what a rel=canonical must prove before it is adopted."""
    fetched = crawler.fetch(db, url, now, robots=source.robots if source else True)
    if not fetched.skipped:
        storage.record_fetch(db, fetched, article_id=article.id)
    if not fetched.ok:
        return False
    try:
        there = _read_page(fetched, settings.diff_for(source))
    except ExtractionError:
        return False
    return there.text == page.text or lifecycle.same_story(page.text, there.text)


def _settle_identity(db, crawler: Crawler, settings: Settings, source: SourceSettings | None, checked: Article,
                     fetched: Fetched, page: Extracted, previous: Version | None, now: datetime) -> CheckOutcome | None:
    """Follow a page that names another URL as its own (a redirect, rel=canonical): an outcome if the
    check ends here (a duplicate, or a redirect to a different story), None to go on storing it."""
    from pipeline.sources import canonicalize_url, find_canonical_link

    final = canonicalize_url(fetched.final_url)
    target = find_canonical_link(fetched.body, fetched.final_url) or final
    if target == checked.canonical_url:
        return None
    redirected = final != checked.canonical_url
    owner = storage.owner_of(db, target)
    other = owner not in (None, checked.id)
    owner_version = storage.latest_version(db, owner) if other else None
    action = lifecycle.settle_identity(other, redirected, previous and previous.text,
                                       owner_version and owner_version.text, page.text)
    if action == "adopt" and target != final and not _answers_with(db, crawler, settings, source, checked, target,
                                                                   page, now):
        return None  # a canonical link that does not answer with this story is not the story's address
    if action == "adopt":
        owner = storage.claim_url(db, checked.id, target, "redirect" if redirected else "canonical", now)
        if owner == checked.id:
            if previous:  # a story researchers already follow changed address
                _record_events(db, settings, checked, [Change("url", checked.canonical_url, target)], now)
            return None
        action = "merge" if previous is None else "redirected"  # another check claimed it first
    if action == "merge":
        storage.record_fetch(db, fetched, article_id=owner)
        storage.merge_article(db, checked.id, owner, now)
        return CheckOutcome(checked.id, "duplicate")
    if action == "redirected":
        changes = [Change("redirected", checked.canonical_url, target, context=page.title)]
        _record_events(db, settings, checked, changes, now, replace(checked, status="redirected", next_check_at=None),
                       fetched)
        return CheckOutcome(checked.id, "redirected", changes=1)
    return None
