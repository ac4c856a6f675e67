"""The short face of the stages, which the DAGs and the CLI call.

Each stage lives in its own module (poll, check, deliver, reread, feed); each function
opens the database named in the settings, does one unit of work and returns small
JSON-able counts or records: XCom carries ids and counts, never pages.
"""

from __future__ import annotations

from datetime import datetime

from pipeline import import_lazily
from pipeline.config import Settings
from pipeline.models import utcnow

# A stage's module (and the libraries it needs: httpx, feedparser, trafilatura, diff-match-patch) loads
# when the stage is first used, so a process pays at start only for what it does.
poll = import_lazily("pipeline.poll")
check = import_lazily("pipeline.check")
deliver = import_lazily("pipeline.deliver")
feed = import_lazily("pipeline.feed")
reread = import_lazily("pipeline.reread")
_STAGES = {"poll_source": poll, "poll_sources": poll, "plan_batches": check, "held_elsewhere": check,
           "check_batch": check, "deliver_alerts": deliver, "resend_alerts": deliver, "diff_versions": reread,
           "reextract": reread, "changes_feed": feed, "write_feeds": feed}

__all__ = ["source_names", *_STAGES, "run_cycle", "sum_counts", "utcnow"]


def __getattr__(name: str):
    if name in _STAGES:
        return getattr(_STAGES[name], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def source_names(settings: Settings) -> list[str]:
    """The configured sources' names, for fanning out one poll per source."""
    return [source.name for source in settings.sources]


def run_cycle(settings: Settings, now: datetime | None = None, everything: bool = False) -> dict:
    """One full cycle without Airflow: poll every source, check what is due, deliver alerts."""
    now = now or utcnow()
    polls = poll.poll_sources(settings, now) if settings.sources else []
    batches = check.plan_batches(settings, now, everything)
    held = check.held_elsewhere(settings, now, everything)
    checks = sum_counts([check.check_batch(settings, batch, now) for batch in batches])
    if held:
        checks["held_elsewhere"] = checks.get("held_elsewhere", 0) + held
    return {"polls": polls, "checks": checks, "alerts": deliver.deliver_alerts(settings, now)}


def sum_counts(results: list[dict]) -> dict[str, int]:
    """Add up the counts that check_batch (or poll_source) returns; other values are left out."""
    totals: dict[str, int] = {}
    for counts in results:
        for key, value in counts.items():
            if isinstance(value, int) and not isinstance(value, bool) and key != "status":
                totals[key] = totals.get(key, 0) + value
    return totals
