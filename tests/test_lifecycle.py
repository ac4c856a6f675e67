"""Tests for pipeline/lifecycle.py: feed revisions, queue bumps, failures and identity, as pure decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.config import ScheduleSettings
from pipeline.lifecycle import failure_state, feed_revisions, feed_update, is_newer, same_story, settle_identity
from pipeline.models import Article, Change, Entry, Fetched, from_iso, to_iso

FAILING_AFTER = ScheduleSettings().failing_after
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
EXACT = ScheduleSettings(jitter=0)
ARTICLE = Article(id=1, canonical_url="https://x.example/story", source_id=1, status="active",
                  first_seen_at=to_iso(NOW - timedelta(days=1)), title="Flood toll rises",
                  feed_title="Flood toll rises", feed_summary="The toll rose overnight.",
                  last_checked_at=to_iso(NOW - timedelta(hours=1)))
STORY = ("The Meridian River burst its banks on Sunday night, flooding the lower town. "
         "At least 12 people were killed and hundreds of homes were damaged, officials said. "
         "Rescue teams worked through the night to reach families stranded on rooftops.")


def entry(**values) -> Entry:
    return Entry(url=ARTICLE.canonical_url, **{"title": ARTICLE.feed_title, "summary": ARTICLE.feed_summary, **values})


def failed(status: int | None, error: str | None = None, retry_after: float | None = None) -> Fetched:
    return Fetched(url=ARTICLE.canonical_url, final_url=ARTICLE.canonical_url, status=status, at=NOW,
                   elapsed_ms=5, error=error or f"HTTP {status}", retry_after=retry_after)


# Feeds -----------------------------------------------------------------------------------

def test_a_rewritten_feed_title_is_a_headline_change():
    assert feed_revisions(ARTICLE, entry(title="Flood toll rises to 19")) == (
        Change("headline", "Flood toll rises", "Flood toll rises to 19", context="(in the feed)"),)


def test_a_rewritten_summary_is_a_summary_change():
    [change] = feed_revisions(ARTICLE, entry(summary="The toll rose to 19 overnight."))
    assert (change.kind, change.before, change.after) == ("summary", "The toll rose overnight.",
                                                          "The toll rose to 19 overnight.")


@pytest.mark.parametrize("values", [
    {},                                           # nothing changed
    {"title": "Flood  toll rises "},              # only spacing
    {"title": None, "summary": None},             # the feed stopped giving them: absence is no revision
])
def test_no_revision(values):
    assert feed_revisions(ARTICLE, entry(**values)) == ()


def test_the_first_title_a_feed_gives_is_no_revision():
    assert feed_revisions(replace(ARTICLE, feed_title=None), entry(title="Anything")) == ()


def test_entry_newer_than_the_last_check():
    assert is_newer(entry(updated=to_iso(NOW - timedelta(minutes=5))), ARTICLE)
    assert not is_newer(entry(updated=to_iso(NOW - timedelta(hours=2))), ARTICLE)
    assert not is_newer(entry(), ARTICLE)
    assert is_newer(entry(updated=to_iso(NOW)), replace(ARTICLE, last_checked_at=None))


def test_the_same_updated_date_bumps_only_once():
    seen = replace(ARTICLE, feed_updated=to_iso(NOW - timedelta(minutes=5)))
    assert not is_newer(entry(updated=seen.feed_updated), seen)


def test_feed_update_bumps_the_article_to_the_front_of_the_queue():
    changes, updated, bump = feed_update(ARTICLE, entry(title="New", updated=to_iso(NOW)))
    assert [c.kind for c in changes] == ["headline"]
    assert (updated.feed_title, updated.feed_updated, bump) == ("New", to_iso(NOW), True)


def test_feed_update_of_a_fresh_entry_without_revisions():
    changes, updated, bump = feed_update(ARTICLE, entry(updated=to_iso(NOW)))
    assert changes == () and bump and updated.feed_updated == to_iso(NOW)


def test_feed_update_with_nothing_new_is_empty():
    assert feed_update(ARTICLE, entry()) == ((), None, False)


def test_feed_update_brings_a_retired_story_back():
    # Waking a retired story is storage.record_feed_update's work (it leaves a gone one alone): here, the bump.
    _, updated, bump = feed_update(replace(ARTICLE, status="retired"), entry(title="Reopened"))
    assert bump and updated.feed_title == "Reopened"


# Failures --------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [404, 410])
def test_404_and_410_make_the_article_gone_with_a_change(status):
    assert failure_state(ARTICLE, failed(status), NOW, EXACT)[0] == "failed"  # once may be a moment's
    article = replace(ARTICLE, consecutive_failures=EXACT.gone_after - 1)
    outcome, values, changes = failure_state(article, failed(status), NOW, EXACT)
    assert outcome == "gone"
    assert values.status == "gone" and values.next_check_at is None
    assert changes == (Change("gone", "Flood toll rises", f"HTTP {status}", context=ARTICLE.canonical_url),)


def test_failures_back_off_and_then_mark_the_article_failing():
    article, delays = ARTICLE, []
    for _ in range(FAILING_AFTER):
        outcome, values, changes = failure_state(article, failed(500), NOW, EXACT)
        assert outcome == "failed" and changes == ()
        delays.append((from_iso(values.next_check_at) - NOW).total_seconds())
        article = values
    assert delays == [900, 1800, 3600, 7200, 14400]
    assert article.status == "failing"


def test_a_retry_after_longer_than_the_backoff_wins():
    _, values, _ = failure_state(ARTICLE, failed(503, retry_after=7200), NOW, EXACT)
    assert values.next_check_at == to_iso(NOW + timedelta(hours=2))


def test_a_network_error_is_a_failure_not_gone():
    outcome, values, _ = failure_state(ARTICLE, failed(None, "timed out"), NOW, EXACT)
    assert outcome == "failed" and values.last_error == "timed out"


# Identity --------------------------------------------------------------------------------

def test_same_story_survives_edits():
    edited = STORY.replace("At least 12", "At least 19") + " The mayor declared an emergency."
    assert same_story(STORY, edited)
    assert same_story(STORY, STORY[: len(STORY) // 2])  # a shortened version


def test_different_stories_are_not_the_same():
    other = ("The city council voted on Tuesday to approve the harbour redevelopment plan after a long "
             "debate, with seven members in favour and four against the proposal.")
    assert not same_story(STORY, other)
    assert not same_story(STORY, "")


@pytest.mark.parametrize("other, redirected, previous, owner, new, action", [
    (False, True, None, None, STORY, "adopt"),            # first check of a wrapper or an old URL
    (False, False, None, None, STORY, "adopt"),           # first check: rel=canonical names the real URL
    (False, True, STORY, None, STORY + " More.", "adopt"),  # the story moved to a new slug
    (False, True, STORY, None, "A different story entirely, about a council vote on the harbour.", "redirected"),
    (False, False, STORY, None, "A different story entirely, about a council vote on the harbour.", "keep"),
    (True, False, None, STORY, STORY, "merge"),           # a second URL of a tracked story
    (True, False, None, None, STORY, "merge"),            # ... tracked but not yet fetched
    (True, True, STORY, STORY, STORY, "redirected"),      # a tracked story now sends readers to another
    (True, False, None, "Something else, about a council vote on the harbour plan.", STORY, "keep"),
])
def test_settle_identity(other, redirected, previous, owner, new, action):
    assert settle_identity(other, redirected, previous, owner, new) == action
