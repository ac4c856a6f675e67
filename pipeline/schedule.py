"""When each article is next due: a ladder on the time since its last change."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from pipeline.config import ScheduleSettings

FAILURE_BACKOFF = 15 * 60.0  # first retry after a failed fetch; doubles per failure
MAX_BACKOFF = 86400.0
FAILING_AFTER = 5  # consecutive failures that mark an article failing


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
    now: datetime, failures: int, schedule: ScheduleSettings, rng: random.Random | None = None
) -> datetime:
    """When to try again after failures consecutive failed fetches: exponential, capped at a day."""
    doublings = min(max(failures - 1, 0), 32)  # bounded so a years-long outage cannot overflow
    delay = min(FAILURE_BACKOFF * 2 ** doublings, MAX_BACKOFF)
    return now + timedelta(seconds=_jitter(delay, schedule.jitter, rng))


def _jitter(seconds: float, fraction: float, rng: random.Random | None) -> float:
    # Spread checks so that articles found together are not all due in the same minute.
    return seconds * (1 + (rng or random).uniform(-fraction, fraction))
