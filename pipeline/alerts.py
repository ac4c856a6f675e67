"""Alert rules (which changes matter to whom) and delivery through Apprise."""

from __future__ import annotations

import hashlib
from collections import defaultdict
import apprise

from pipeline.config import RuleSettings, Settings
from pipeline.models import Change
from pipeline.output import describe_change

MAX_ATTEMPTS = 5


def channel_name(url: str) -> str:
    """A name for an Apprise URL that holds none of its secrets: what is stored and shown.

    Credentials are masked and the query (where tokens and headers travel) is dropped;
    a short digest of Apprise's masked URL keeps channels that differ only there apart.
    """
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        return f"{scheme}://(unrecognised URL)"
    masked = plugin.url(privacy=True)
    digest = hashlib.sha256(masked.encode("utf-8")).hexdigest()[:10]
    return f"{masked.split('?', 1)[0]}#{digest}"


def rule_matches(rule: RuleSettings, change: Change) -> bool:
    """Whether the rule selects this change: its kind, and any keyword in what changed."""
    if change.kind not in rule.kinds:
        return False
    if not rule.keywords:
        return True
    haystack = " ".join(filter(None, (change.subject, change.context, change.before, change.after))).lower()
    return any(keyword.lower() in haystack for keyword in rule.keywords)


def match_rules(rules: tuple[RuleSettings, ...], changes: tuple[Change, ...]) -> list[tuple[int, str, str]]:
    """(change index, rule name, channel) for every rule, channel and change it selects."""
    return [
        (index, rule.name, channel_name(url))
        for index, change in enumerate(changes)
        for rule in rules if rule_matches(rule, change)
        for url in rule.urls
    ]


def compose_message(alerts: list[dict]) -> tuple[str, str]:
    """Title and body of one message that gathers an article's changes for one channel."""
    first = alerts[0]
    title = f"Redline: {len(alerts)} change{'s' * (len(alerts) > 1)} in '{first['article_title'] or first['url']}'"
    lines = []
    for alert in alerts:
        lines.append(describe_change(alert))
        if alert["context"] and alert["context"] not in (alert["before"], alert["after"]):
            lines.append(f"    \"{alert['context']}\"")
    lines.append(f"{first['url']} (detected {first['detected_at']})")
    return title, "\n".join(lines)


def urls_by_channel(settings: Settings) -> dict[tuple[str, str], str]:
    """The real Apprise URL behind each (rule name, masked channel) pair."""
    return {(rule.name, channel_name(url)): url for rule in settings.alerts for url in rule.urls}


def group_alerts(alerts: list[dict]) -> dict[tuple[str, str, int], list[dict]]:
    """Pending alerts gathered per (rule, channel, article): each group is one message."""
    groups: dict[tuple[str, str, int], list[dict]] = defaultdict(list)
    for alert in alerts:
        groups[(alert["rule"], alert["channel"], alert["article_id"])].append(alert)
    return groups


def send_message(url: str, title: str, body: str, channel: str) -> str | None:
    """Deliver one message through Apprise; returns the error, or None when it was accepted."""
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return f"{channel}: not a URL Apprise can send to"
    return None if notifier.notify(title=title, body=body) else f"delivery to {channel} failed"
