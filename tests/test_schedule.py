"""Tests for pipeline/schedule.py: the checking ladder, jitter and failure backoff."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.config import ScheduleSettings
from pipeline.schedule import (
    defer, next_check, retry_after_failure, throttle_delay,
)

DEFAULTS = ScheduleSettings()
MAX_BACKOFF, MAX_THROTTLE, MAX_RETRY_AFTER = DEFAULTS.max_backoff, DEFAULTS.max_throttle, DEFAULTS.max_retry_after

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
EXACT = ScheduleSettings(jitter=0)


def delay(due: datetime) -> float:
    return (due - NOW).total_seconds()


@pytest.mark.parametrize("quiet, interval", [
    (timedelta(0), 15 * 60),
    (timedelta(hours=1), 15 * 60),
    (timedelta(hours=3), 3600),          # a rung's age is exclusive: 3 h quiet moves up a rung
    (timedelta(hours=12), 3600),
    (timedelta(days=2), 3 * 3600),
    (timedelta(days=10), 3 * 86400),
    (timedelta(days=100), 30 * 86400),
])
def test_default_ladder_rungs(quiet, interval):
    assert delay(next_check(NOW, NOW - quiet, EXACT)) == interval


@pytest.mark.parametrize("quiet", [timedelta(days=365), timedelta(days=400)])
def test_quiet_for_a_year_retires(quiet):
    assert next_check(NOW, NOW - quiet, EXACT) is None


def test_default_jitter_is_near_the_rung():
    due = next_check(NOW, NOW - timedelta(hours=1), ScheduleSettings(), random.Random(1))
    assert 15 * 60 * 0.9 <= delay(due) <= 15 * 60 * 1.1


@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_jitter_stays_within_the_fraction(fraction):
    settings = ScheduleSettings(jitter=fraction)
    rng = random.Random(42)
    delays = [delay(next_check(NOW, NOW - timedelta(days=2), settings, rng)) for _ in range(500)]
    base = 3 * 3600
    assert all(base * (1 - fraction) <= d <= base * (1 + fraction) for d in delays)
    assert min(delays) < base < max(delays)  # it does spread, both ways


def test_jitter_is_reproducible_with_a_seed():
    settings = ScheduleSettings(jitter=0.3)
    first = [next_check(NOW, NOW, settings, random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1


def test_custom_ladder():
    settings = ScheduleSettings(ladder=((60.0, 10.0), (120.0, 30.0)), jitter=0)
    assert delay(next_check(NOW, NOW - timedelta(seconds=30), settings)) == 10
    assert delay(next_check(NOW, NOW - timedelta(seconds=90), settings)) == 30
    assert next_check(NOW, NOW - timedelta(seconds=120), settings) is None


@pytest.mark.parametrize("failures, seconds", [
    (1, 15 * 60), (2, 30 * 60), (3, 60 * 60), (4, 2 * 3600), (7, 16 * 3600), (8, 86400), (20, 86400),
])
def test_retry_after_failure_doubles_and_caps_at_a_day(failures, seconds):
    assert delay(retry_after_failure(NOW, failures, EXACT)) == seconds


def test_retry_with_no_recorded_failures_uses_the_first_backoff():
    assert delay(retry_after_failure(NOW, 0, EXACT)) == 15 * 60


def test_retry_jitter_stays_within_the_fraction():
    rng = random.Random(3)
    settings = ScheduleSettings(jitter=0.2)
    delays = [delay(retry_after_failure(NOW, 30, settings, rng)) for _ in range(200)]
    assert all(MAX_BACKOFF * 0.8 <= d <= MAX_BACKOFF * 1.2 for d in delays)


def test_retry_caps_even_after_very_many_failures():
    assert delay(retry_after_failure(NOW, 1100, EXACT)) == MAX_BACKOFF


def test_retry_never_comes_before_what_the_server_asked():
    asked = NOW + timedelta(hours=5)
    assert retry_after_failure(NOW, 1, EXACT, not_before=asked) == asked
    assert delay(retry_after_failure(NOW, 1, EXACT, not_before=NOW + timedelta(minutes=1))) == 15 * 60


@pytest.mark.parametrize("throttles, retry_after, seconds", [
    (1, None, 60), (2, None, 120), (3, None, 240), (20, None, MAX_THROTTLE), (5000, None, MAX_THROTTLE),
    (1, 30.0, 30), (9, 30.0, 30), (1, 10 * 86400.0, MAX_RETRY_AFTER), (1, -5.0, 0),
])
def test_throttle_delay(throttles, retry_after, seconds):
    assert throttle_delay(throttles, retry_after, ScheduleSettings()) == seconds


def test_throttle_delay_follows_the_settings():
    quick = ScheduleSettings(throttle_backoff=5.0, max_throttle=30.0, max_retry_after=60.0)

    assert [throttle_delay(n, None, quick) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 30.0]
    assert throttle_delay(1, 3600.0, quick) == 60.0


def test_defer_is_never_early_and_spreads_late():
    rng = random.Random(5)
    delays = [delay(defer(NOW, 600, ScheduleSettings(jitter=0.2), rng)) for _ in range(200)]
    assert all(600 <= d <= 720 for d in delays) and max(delays) > 650
