"""When each article is next due: a ladder on the time since its last change."""

from __future__ import annotations

from datetime import datetime, timedelta

from pipeline import import_lazily
from pipeline.config import ScheduleSettings

random = import_lazily("random")  # drawn only when an article is rescheduled: an idle run starts without it


def next_check(
    now: datetime, last_change: datetime, schedule: ScheduleSettings, rng: random.Random | None = None
) -> datetime | None:
    """When to check again, from the ladder and the time since the last change; None retires it."""
    quiet = (now - last_change).total_seconds()
    for age, interval in schedule.ladder:
        if quiet < age:
            return now + timedelta(seconds=_jitter(interval, schedule.jitter, rng))
    return None


def retry_after_failure(
    now: datetime, failures: int, schedule: ScheduleSettings, rng: random.Random | None = None,
    not_before: datetime | None = None,
) -> datetime:
    """When to try again after failures consecutive failed fetches: exponential, capped at a day,
    and never before not_before (what the server's Retry-After asked for)."""
    backoff = _doubling(schedule.failure_backoff, failures, schedule.max_backoff)
    due = now + timedelta(seconds=_jitter(backoff, schedule.jitter, rng))
    return max(due, not_before) if not_before else due


def defer(now: datetime, seconds: float, schedule: ScheduleSettings, rng: random.Random | None = None) -> datetime:
    """A time at least seconds from now (a throttled host's wait), spread by up to the jitter fraction
    so the deferred articles do not all return in the same second."""
    return now + timedelta(seconds=seconds * (1 + (rng or random).uniform(0, schedule.jitter)))


def throttle_delay(throttles: int, retry_after: float | None, schedule: ScheduleSettings) -> float:
    """Seconds to leave a host alone after its throttles-th 429 or 503 in a row: its Retry-After
    (at most max_retry_after), else throttle_backoff doubling per throttle up to max_throttle."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), schedule.max_retry_after)
    return _doubling(schedule.throttle_backoff, throttles, schedule.max_throttle)


def _doubling(first: float, count: int, cap: float) -> float:
    doublings = min(max(count - 1, 0), 32)  # bounded so a years-long outage cannot overflow
    return min(first * 2 ** doublings, cap)


def _jitter(seconds: float, fraction: float, rng: random.Random | None) -> float:
    # Spread checks so that articles found together are not all due in the same minute.
    return seconds * (1 + (rng or random).uniform(-fraction, fraction))
