"""Delivering alerts: one message per article, rule and channel, each sent at most once.

Each channel is served by its own thread and database connection, so a slow or broken
channel never holds back the others. Each group of alerts is claimed (committed as
`sending`) before its message goes out and marked after, so no alert is sent twice,
whatever retries or crashes happen; a failure is recorded with its error and tried
again later with backoff.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import storage
from pipeline import alerts
from pipeline.config import RuleSettings, Settings
from pipeline.models import Alert, to_iso, utcnow

log = logging.getLogger(__name__)


def deliver_alerts(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Send the alerts that are due; returns how many were sent, failed, waited and so on."""
    now = now or utcnow()
    delivery = settings.delivery
    db = storage.open_archive(settings)
    counts = {"sent": 0, "failed": 0, "abandoned": 0, "waiting": 0, "deferred": 0, "messages": 0,
              "uncertain": storage.expire_claims(db, now - timedelta(seconds=delivery.claim_timeout),
                                                 alerts.INTERRUPTED)}
    routes = alerts.urls_by_channel(settings)
    by_url: dict[str, list] = {}
    for (rule_name, channel, _), group in alerts.group_alerts(storage.pending_alerts(db, now)).items():
        rule, url = routes.get((rule_name, channel), (None, None))
        if alerts.due_at(group, rule) > now:
            counts["waiting"] += len(group)
        elif url is None:
            if group := _claim(db, group, now):
                _finish_group(db, settings, group, now, f"rule {rule_name!r} no longer sends to {channel}", counts)
        else:
            by_url.setdefault(url, []).append((rule, channel, group))
    for groups in by_url.values():  # least tried first: a message that keeps failing never starves the others
        groups.sort(key=lambda item: (max(alert.attempts for alert in item[2]), item[2][0].id))
    if by_url:
        from concurrent.futures import ThreadPoolExecutor  # (a run with nothing to send starts without it)

        with ThreadPoolExecutor(max_workers=min(delivery.channels, len(by_url)),
                                thread_name_prefix="redline-deliver") as pool:
            for result in pool.map(lambda item: _deliver_to(settings, *item, now), by_url.items()):
                for key, value in result.items():
                    counts[key] += value
    log.info("alerts: %s", ", ".join(f"{value} {key}" for key, value in counts.items()))
    return counts


def _deliver_to(settings: Settings, url: str, groups: list[tuple[RuleSettings, str, list[Alert]]],
                now: datetime) -> dict[str, int]:
    """Claim, send and mark each group of alerts for one channel, on this thread's own connection."""
    counts = {"sent": 0, "failed": 0, "abandoned": 0, "messages": 0, "deferred": 0}
    db = storage.open_archive(settings)
    try:
        for number, (rule, channel, group) in enumerate(groups):
            if counts["failed"] or counts["abandoned"]:
                # A channel that just failed (or timed out) would likely fail again: what is left waits
                # for the next run rather than holding this thread once more for every message.
                counts["deferred"] += sum(len(rest) for _, _, rest in groups[number:])
                break
            # The message is ready before the claim, so that a claim is followed at once by the
            # sending: little time in which a crash leaves an alert `sending`, and so uncertain.
            message, error = _compose(group, rule, settings.web.base_url)
            claimed = _claim(db, group, now)
            if not claimed:
                continue  # another run took them
            if len(claimed) < len(group):
                message, error = _compose(claimed, rule, settings.web.base_url)
            if message is not None:
                try:
                    error = alerts.send_message(url, *message, channel, settings.delivery.send_timeout)
                except Exception as exc:  # noqa: BLE001 - recorded on the alerts; the other groups go on
                    log.exception("alerts %s: delivery to %s failed", [alert.id for alert in claimed], channel)
                    error = f"{type(exc).__name__}: {exc}"
            _finish_group(db, settings, claimed, now, error, counts)
            counts["messages"] += error is None
    finally:
        db.close()
    return counts


def _compose(group: list[Alert], rule: RuleSettings | None,
             base_url: str | None) -> tuple[tuple[str, str] | None, str | None]:
    """The message for a group, or the error its rule's template gave."""
    from jinja2 import TemplateError  # loaded only when something is delivered

    try:
        return alerts.compose_message(group, rule, base_url), None
    except TemplateError as exc:
        return None, f"rule {rule.name!r}: its template failed: {exc}"


def _claim(db, group: list[Alert], now: datetime) -> list[Alert]:
    """The alerts of group this run now holds (claimed as `sending`); others were taken by another run."""
    claimed = set(storage.claim_alerts(db, [alert.id for alert in group], now))
    return [alert for alert in group if alert.id in claimed]


def _finish_group(db, settings: Settings, group: list[Alert], now: datetime, error: str | None,
                  counts: dict[str, int]) -> None:
    ids = [alert.id for alert in group]
    retry = (alerts.retry_at(max(alert.attempts for alert in group) + 1, now, settings.delivery)
             if error else None)
    if error is None:
        log.info("sent %d alert(s) about article %s (%s) to %s", len(ids), group[0].article_id, group[0].url,
                 group[0].channel)
    else:
        log.warning("alerts %s to %s: %s (%s)", ids, group[0].channel, error,
                    f"retry at {to_iso(retry)}" if retry else "giving up")
    storage.finish_alerts(db, ids, now, error, retry)
    counts["sent" if error is None else "failed" if retry else "abandoned"] += len(ids)


def resend_alerts(settings: Settings, ids: list[int]) -> list[int]:
    """Make failed, abandoned or uncertain alerts due again; returns the ids requeued."""
    return storage.requeue_alerts(storage.open_archive(settings, create=False), ids)
