"""The short face of the stages, which the DAGs and the CLI call.

Each stage lives in its own module (poll, check, deliver, reread, feed); each function
opens the database named in the settings, does one unit of work and returns small
JSON-able counts or records: XCom carries ids and counts, never pages.
"""

from __future__ import annotations

from datetime import datetime

from pipeline.check import check_batch, held_elsewhere, plan_batches
from pipeline.config import Settings
from pipeline.deliver import deliver_alerts, resend_alerts
from pipeline.feed import changes_feed, write_feeds
from pipeline.models import utcnow
from pipeline.poll import poll_source, poll_sources
from pipeline.reread import diff_versions, reextract

__all__ = ["source_names", "poll_source", "poll_sources", "plan_batches", "held_elsewhere", "check_batch", "deliver_alerts",
           "resend_alerts", "diff_versions", "reextract", "changes_feed", "write_feeds", "run_cycle", "sum_counts",
           "utcnow"]


def source_names(settings: Settings) -> list[str]:
    """The configured sources' names, for fanning out one poll per source."""
    return [source.name for source in settings.sources]


def run_cycle(settings: Settings, now: datetime | None = None, everything: bool = False) -> dict:
    """One full cycle without Airflow: poll every source, check what is due, deliver alerts."""
    now = now or utcnow()
    polls = poll_sources(settings, now)
    batches = plan_batches(settings, now, everything)
    held = held_elsewhere(settings, now, everything)
    checks = sum_counts([check_batch(settings, batch, now) for batch in batches])
    if held:
        checks["held_elsewhere"] = checks.get("held_elsewhere", 0) + held
    return {"polls": polls, "checks": checks, "alerts": deliver_alerts(settings, now)}


def sum_counts(results: list[dict]) -> dict[str, int]:
    """Add up the counts that check_batch (or poll_source) returns; other values are left out."""
    totals: dict[str, int] = {}
    for counts in results:
        for key, value in counts.items():
            if isinstance(value, int) and not isinstance(value, bool) and key != "status":
                totals[key] = totals.get(key, 0) + value
    return totals
