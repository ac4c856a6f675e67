"""What a poll or a check means for an article's life: pure decisions, the clock passed in.

- A feed that rewrites an entry's title or summary makes a `headline` or `summary`
  change of the article at once, before its page is fetched again.
- An entry dated newer than the last check moves the article to the front of the queue.
- 404 and 410, schedule.gone_after times in a row, make the article `gone` (a change researchers
  see; until then they are failures); other failures back
  off exponentially and, after schedule.failing_after in a row, mark it `failing` until
  a fetch succeeds again.
- A page that names another URL as its own (a redirect or rel=canonical) is the same
  story at a new address, a duplicate of a tracked story, or a different story.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pipeline import schedule
from pipeline.config import ScheduleSettings
from pipeline.models import IN_THE_FEED, Article, Change, Entry, Fetched, to_iso

if TYPE_CHECKING:
    import random

GONE = (404, 410)
SAME_STORY = 0.5  # share of the shorter text's word 4-grams that the other must contain
_WORD = re.compile(r"\w+")


# Feeds -----------------------------------------------------------------------------------

def feed_revisions(article: Article, entry: Entry) -> tuple[Change, ...]:
    """The headline and summary changes between what the source said of the story before and now."""
    changes = []
    for kind, before, after in (("headline", article.feed_title, entry.title),
                                ("summary", article.feed_summary, entry.summary)):
        if before and after and " ".join(before.split()) != " ".join(after.split()):
            changes.append(Change(kind, before, after, context=IN_THE_FEED))
    return tuple(changes)


def is_newer(entry: Entry, article: Article) -> bool:
    """Whether the source dates the story after the last check (and after the date it gave before)."""
    if not entry.updated or (article.feed_updated and entry.updated <= article.feed_updated):
        return False
    return article.last_checked_at is None or entry.updated > article.last_checked_at


def feed_update(article: Article, entry: Entry) -> tuple[tuple[Change, ...], Article | None, bool]:
    """What a new poll says of a tracked story: the changes it reveals, the article with the source's
    new title, summary and date (None when none moved), and whether to check the story at once
    (first in the queue, and again if it had been retired: the newsroom touched it)."""
    changes = feed_revisions(article, entry)
    values = {name: new for name, old, new in (("feed_title", article.feed_title, entry.title),
                                               ("feed_summary", article.feed_summary, entry.summary),
                                               ("feed_updated", article.feed_updated, entry.updated))
              if new and new != old}
    bump = bool(changes) or is_newer(entry, article)
    if not values and not bump:
        return changes, None, False
    return changes, replace(article, **values), bump


# Failures --------------------------------------------------------------------------------

def failure_state(
    article: Article, fetched: Fetched, now: datetime, settings: ScheduleSettings, rng: random.Random | None = None
) -> tuple[str, Article, tuple[Change, ...]]:
    """After a failed fetch: the check's outcome, the article's new state and the changes to record."""
    failures = article.consecutive_failures + 1
    failed = replace(article, consecutive_failures=failures, last_error=fetched.error)
    # A page can 404 for a moment (a deploy, a CDN hiccup): gone is final only when it says so settings.gone_after times.
    if fetched.status in GONE and failures >= settings.gone_after:
        gone = Change("gone", article.title or article.feed_title or article.canonical_url,
                      f"HTTP {fetched.status}", context=fetched.final_url)
        return "gone", replace(failed, status="gone", next_check_at=None), (gone,)
    not_before = now + timedelta(seconds=fetched.retry_after) if fetched.retry_after else None
    due = schedule.retry_after_failure(now, failures, settings, rng, not_before)
    return "failed", replace(failed, status="failing" if failures >= settings.failing_after else article.status,
                             next_check_at=to_iso(due)), ()


# Identity --------------------------------------------------------------------------------

def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + 4]) for i in range(max(len(words) - 3, 1))} if words else set()


def same_story(old_text: str, new_text: str) -> bool:
    """Whether two texts tell the same story: most word 4-grams of the shorter appear in the longer."""
    old, new = _shingles(old_text), _shingles(new_text)
    if not old or not new:
        return False
    return len(old & new) / min(len(old), len(new)) >= SAME_STORY


def settle_identity(
    owned_by_other: bool, redirected: bool, previous_text: str | None, owner_text: str | None, new_text: str
) -> str:
    """What to do when a page names another URL as its own.

    owned_by_other: another tracked article has that URL; redirected: the fetch was redirected
    there (otherwise only the page's rel=canonical names it). Returns one of
    "adopt" (same story, new address: track it there), "merge" (a duplicate of the other
    article, with nothing of its own yet), "redirected" (the story was replaced by a different
    one) or "keep" (an untrustworthy canonical link: go on as before).
    """
    if owned_by_other:
        if previous_text is None and (owner_text is None or same_story(owner_text, new_text)):
            return "merge"
        return "redirected" if redirected else "keep"
    if previous_text is None or same_story(previous_text, new_text):
        return "adopt"
    return "redirected" if redirected else "keep"
