"""Alert rules (which changes matter to whom), messages, and delivery through Apprise.

Besides fetch.py, this is the one module that touches the network: Apprise sends the
messages. The secrets in Apprise URLs stay here: channels are stored and shown under
a masked name, and errors and the log lines of Apprise and urllib3 are redacted.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

from pipeline.config import DeliverySettings, RuleSettings, Settings
from pipeline.masking import SECRET_KEY, RewritingFilter, install_filter
from pipeline.models import Alert, Change, from_iso
from pipeline.output import describe_change, describe_with_context, workspace_link

INTERRUPTED = ("delivery was interrupted while sending (the run ended before the channel answered); it may or "
               "may not have arrived, so it is not sent again on its own: `redline resend ID` sends it")
REDACTED = "****"
REDACTED_LOGGERS = ("apprise", "urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry",
                    "requests")

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- channels and their secrets


def _apprise():
    # Apprise loads only where a channel is named or a message sent: reading commands never pay for it.
    import apprise

    return apprise


def _plugin(url: str):
    protect_secrets([url])  # Apprise logs the URLs it loads: their secrets must be known first
    return _apprise().Apprise.instantiate(url, suppress_exceptions=True)


def channel_name(url: str) -> str:
    """A name for an Apprise URL that holds none of its secrets: what is stored and shown.

    Credentials are masked and the query (where tokens and headers travel) is dropped;
    a short digest of Apprise's masked URL keeps channels that differ only there apart.
    """
    plugin = _plugin(url)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        return f"{scheme}://(unrecognised URL)"
    masked = plugin.url(privacy=True)
    import hashlib  # (OpenSSL's: loaded where a channel is named, not with every run)

    digest = hashlib.sha256(masked.encode("utf-8")).hexdigest()[:10]
    return f"{masked.split('?', 1)[0]}#{digest}"


def why_undeliverable(url: str) -> str | None:
    """Why Apprise cannot send to url (its scheme unknown, or the URL incomplete), or None if it can.
    The reason names the scheme only: the rest of the URL may hold secrets."""
    scheme = url.split("://", 1)[0] if "://" in url else None
    if not scheme:
        return "no scheme:// at its start"
    if _plugin(url) is None:
        return f"{scheme}:// is not a scheme Apprise knows, or the URL lacks what that service needs"
    return None


_PIECES = re.compile(r"[/:@?&=#,;\s]+")


@lru_cache(maxsize=256)
def url_secrets(url: str) -> frozenset[str]:
    """The parts of an Apprise URL that are secrets, as written and as they may appear encoded.

    Apprise knows which parts of its URLs are secret: they are the parts its privacy
    rendering masks. The password, and query values that carry tokens or headers, are added.
    """
    parts = urlsplit(url)
    found = set()
    _install_redactor()
    _QUIET.on = True  # what Apprise logs while the secrets are not yet known is dropped
    try:
        plugin = _apprise().Apprise.instantiate(url, suppress_exceptions=True)
    finally:
        _QUIET.on = False
    if plugin is None:
        found.update(p for p in _PIECES.split(unquote(url.split("://", 1)[-1])) if len(p) >= 4)
    else:
        shown = set(_PIECES.split(unquote(plugin.url(privacy=True))))
        found.update(p for p in _PIECES.split(unquote(plugin.url(privacy=False))) if p not in shown)
    if parts.password:
        found.add(unquote(parts.password))
        if parts.username:
            import base64  # (Apprise has loaded it by now; a run that sends nothing does not)

            found.add(base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password)}".encode()).decode())
    for key, value in parse_qsl(parts.query):
        if value and SECRET_KEY.search(key):
            found.add(value)
            found.update(word for word in value.split() if len(word) >= 6)
    found = {s for s in found if len(s) >= 4}
    return frozenset(found | {quote(s, safe="") for s in found} | {quote_plus(s) for s in found})


def redact(text: str, secrets: Iterable[str]) -> str:
    """text with every secret replaced by ****, longest first (so no part of one is left showing)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class _Redactor(RewritingFilter):
    """Rewrites log records so that no secret of a configured channel is ever written out."""

    def __init__(self):
        super().__init__()
        self.secrets: frozenset[str] = frozenset()
        self.lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self.lock:
            self.secrets = self.secrets | frozenset(secrets)

    def rewrite(self, text: str) -> str:
        secrets = self.secrets
        return redact(text, secrets) if secrets else text

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_QUIET, "on", False) and super().filter(record)


_REDACTOR = _Redactor()
_QUIET = threading.local()


def _install_redactor() -> None:
    install_filter(_REDACTOR, REDACTED_LOGGERS)


def protect_secrets(urls: Iterable[str]) -> frozenset[str]:
    """Redact the secrets of these URLs from Apprise's and urllib3's log records from now on; returns them."""
    secrets = frozenset().union(*(url_secrets(url) for url in urls))
    _REDACTOR.add(secrets)
    return secrets


# --------------------------------------------------------------------------- rules


def rule_matches(rule: RuleSettings, change: Change, source: str | None = None) -> bool:
    """Whether the rule selects this change: its kind, source, words, and for figures how it changed."""
    if change.kind not in rule.kinds:
        return False
    if rule.sources and source not in rule.sources:
        return False
    if change.kind == "figure" and (change.detail or "value") not in rule.figure_changes:
        return False
    haystack = " ".join(filter(None, (change.subject, change.context, change.before, change.after))).lower()
    if rule.keywords and not any(keyword.lower() in haystack for keyword in rule.keywords):
        return False
    if rule.pattern and not re.search(rule.pattern, haystack, re.IGNORECASE):
        return False
    return change.kind != "figure" or not rule.has_threshold or _big_enough(rule, change)


def _big_enough(rule: RuleSettings, change: Change) -> bool:
    # A size or direction only means something for a value that moved in a comparable unit.
    if change.delta is None or change.detail != "value":
        return False
    if rule.direction == "up" and change.delta <= 0 or rule.direction == "down" and change.delta >= 0:
        return False
    if abs(change.delta) < rule.min_change:
        return False
    return change.relative is None or abs(change.relative) >= rule.min_relative


def match_rules(rules: tuple[RuleSettings, ...], changes: tuple[Change, ...],
                source: str | None = None) -> list[tuple[int, str, str]]:
    """(change index, rule name, channel) for every rule, channel and change it selects."""
    return [
        (index, rule.name, channel_name(url))
        for index, change in enumerate(changes)
        for rule in rules if rule_matches(rule, change, source)
        for url in rule.urls
    ]


def _headline_key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def untold(matched: list[tuple[int, str, str]], changes: tuple[Change, ...],
           told: Iterable[str]) -> list[tuple[int, str, str]]:
    """matched without the alerts of headline changes to a headline already told: the feed's rewrite is the
    early warning, the page's diff confirms it (or the other way round) without a second message. Headlines
    are compared by their words, whatever the case and punctuation."""
    keys = {_headline_key(headline) for headline in told}
    return [m for m in matched
            if not (changes[m[0]].kind == "headline" and _headline_key(changes[m[0]].after or "") in keys)]


# --------------------------------------------------------------------------- messages


def diff_link(rule: RuleSettings | None, alert: Alert, base_url: str | None = None) -> str | None:
    """The rule's link to this change's diff; else its diff page in the workspace at base_url; else None."""
    if rule is None or not rule.diff_link:
        return workspace_link(base_url, alert.article_id, alert.from_number, alert.to_number)
    return rule.diff_link.format(article_id=alert.article_id, url=alert.url, change_id=alert.change_id,
                                 from_version=alert.from_number, to_version=alert.to_number)


def template_values(alert: Alert, rule: RuleSettings | None = None, base_url: str | None = None) -> dict:
    """What a message template can use for one change."""
    return {
        "kind": alert.kind, "detail": alert.detail, "before": alert.before, "after": alert.after,
        "context": alert.context, "subject": alert.subject, "delta": alert.delta, "relative": alert.relative,
        "title": alert.article_title or alert.url, "url": alert.url, "source": alert.source, "rule": alert.rule,
        "detected_at": alert.detected_at, "from_version": alert.from_number, "to_version": alert.to_number,
        "article_id": alert.article_id, "link": diff_link(rule, alert, base_url), "line": describe_change(alert),
    }


@lru_cache(maxsize=64)
def _compiled_template(text: str):
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(undefined=StrictUndefined)
    return environment.from_string(text)


def compose_message(alerts: list[Alert], rule: RuleSettings | None = None,
                    base_url: str | None = None) -> tuple[str, str]:
    """Title and body of one message that gathers an article's changes for one channel.

    With a rule that has a template, the body is the template rendered for each change;
    a template error raises jinja2.TemplateError.
    """
    first = alerts[0]
    title = f"Redline: {len(alerts)} change{'s' * (len(alerts) > 1)} in '{first.article_title or first.url}'"
    if rule is not None and rule.template:
        template = _compiled_template(rule.template)
        return title, "\n".join(template.render(template_values(alert, rule, base_url)).rstrip("\n") for alert in alerts)
    lines = [line for alert in alerts for line in describe_with_context(alert)]
    lines.append(f"{first.url} (detected {first.detected_at})")
    link = diff_link(rule, alerts[-1], base_url)
    if link:
        lines.append(link)
    return title, "\n".join(lines)


# --------------------------------------------------------------------------- planning and sending


def urls_by_channel(settings: Settings) -> dict[tuple[str, str], tuple[RuleSettings, str]]:
    """The rule and the real Apprise URL behind each (rule name, masked channel) pair."""
    return {(rule.name, channel_name(url)): (rule, url) for rule in settings.alerts for url in rule.urls}


def group_alerts(alerts: list[Alert]) -> dict[tuple[str, str, int], list[Alert]]:
    """Due alerts gathered per (rule, channel, article): each group is one message."""
    groups: dict[tuple[str, str, int], list[Alert]] = defaultdict(list)
    for alert in alerts:
        groups[(alert.rule, alert.channel, alert.article_id)].append(alert)
    return groups


def due_at(group: list[Alert], rule: RuleSettings | None) -> datetime:
    """When a group may be sent: a new alert waits out the rule's debounce window, so changes
    found meanwhile join the same message; a failed one waits for its retry."""
    debounce = timedelta(seconds=rule.debounce if rule else 0)
    return min(
        from_iso(alert.created_at) + debounce if alert.status == "pending"
        else from_iso(alert.next_attempt_at or alert.created_at)
        for alert in group
    )


def retry_at(attempts: int, now: datetime, delivery: DeliverySettings) -> datetime | None:
    """When to try again after `attempts` failed attempts (doubling each time), or None to give up."""
    if attempts >= delivery.max_attempts:
        return None
    return now + timedelta(seconds=min(delivery.first_retry * 2 ** (attempts - 1), delivery.last_retry))


def send_message(url: str, title: str, body: str, channel: str, timeout: float) -> str | None:
    """Deliver one message through Apprise; returns the error (secrets redacted), or None when it was accepted."""
    secrets = protect_secrets([url])
    # Sequential inside Apprise: this call already runs on its channel's own thread.
    apprise = _apprise()
    notifier = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
    if not notifier.add(url):
        return f"{channel}: not a URL Apprise can send to"
    try:
        # The body is plain text (article text is untrusted): Apprise escapes it for HTML channels such as e-mail.
        result = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT, timeout=timeout,
                                 log_level=logging.WARNING)
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is this channel's error, not the run's
        return redact(f"delivery to {channel} failed: {type(exc).__name__}: {exc}", secrets)
    if result:
        return None
    reasons = dict.fromkeys(entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL"))
    return redact(f"delivery to {channel} failed: {'; '.join(reasons) or 'Apprise reported no success'}", secrets)
