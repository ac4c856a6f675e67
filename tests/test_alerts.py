"""Tests for pipeline.alerts (rules, channels, secrets, messages) and cycle.deliver_alerts (delivery)."""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from jinja2 import TemplateError

import storage
from pipeline import cycle
from pipeline.alerts import (INTERRUPTED, channel_name, compose_message, due_at, match_rules, redact, retry_at, rule_matches,
                             url_secrets)
from pipeline.config import DeliverySettings, RuleSettings
from pipeline.models import Alert, Change, to_iso

ROOT = Path(__file__).resolve().parent.parent
DELIVERY = DeliverySettings()
FIGURE = Change("figure", "at least 12", "at least 19", context="Rescuers said at least 19 people were killed in the flood.",
                subject="people killed", significance=7 / 12, detail="value", delta=7.0, relative=7 / 12)
FALL = Change("figure", "$80 million", "$18 million", context="The contract is worth $18 million.", subject="contract",
              significance=62 / 80, detail="value", delta=-62e6, relative=-62 / 80)
QUALIFIER = Change("figure", "at least 60", "more than 60", context="More than 60 homes burned.", subject="homes burned",
                   significance=0.0, detail="qualifier", delta=0.0, relative=0.0)
NEW_FIGURE = Change("figure", None, "about 600", context="About 600 people spent the night in a shelter.",
                    subject="people spent", detail="added")
OTHER_CURRENCY = Change("figure", "$300,000", "€300,000", context="The fine was €300,000.", detail="value")
HEADLINE = Change("headline", "Flood kills 12", "Flood kills 19", context="Flood kills 19")
ADDED = Change("sentence_added", None, "The Red Cross opened a shelter.", context="The Red Cross opened a shelter.")


def rule(name="r", urls=("json://127.0.0.1:9/x",), kinds=("figure",), **keys) -> RuleSettings:
    return RuleSettings(name=name, urls=tuple(urls), kinds=tuple(kinds), **keys)


# --------------------------------------------------------------------------- a local webhook


class Webhook:
    """A local HTTP endpoint that records what is posted to it and answers with `status`.

    Clear `open` to hold requests (received, not answered) until it is set again: all of
    them, or only the next `hold` ones when hold is set.
    """

    def __init__(self):
        self.status = 500
        self.hold: int | None = None
        self.received: list[dict] = []
        self.requests: list[dict] = []  # path and headers of each request
        self.arrived = threading.Event()
        self.open = threading.Event()
        self.open.set()
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    hook.received.append(json.loads(body or b"null"))
                    hook.requests.append({"path": self.path, "headers": dict(self.headers)})
                    held = hook.hold is None or hook.hold > 0
                    if hook.hold:
                        hook.hold -= 1
                hook.arrived.set()
                if held:
                    hook.open.wait(timeout=60)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path="hook", credentials="", patient=False) -> str:
        """The Apprise URL of this hook; a patient one waits a minute for answers (Apprise's default is 4 s)."""
        return f"json://{credentials}127.0.0.1:{self.port}/{path}" + ("?rto=60" if patient else "")

    def messages(self) -> str:
        with self._lock:
            return "\n".join(f"{m['title']}\n{m['message']}" for m in self.received)


def start_webhook():
    hook = Webhook()
    hook.thread.start()
    return hook


def stop_webhook(hook):
    hook.open.set()
    hook.server.shutdown()
    hook.server.server_close()
    hook.thread.join(timeout=5)


@pytest.fixture
def webhook():
    hook = start_webhook()
    yield hook
    stop_webhook(hook)


@pytest.fixture
def second_webhook():
    hook = start_webhook()
    yield hook
    stop_webhook(hook)


def wait_until(condition, timeout: float = 60.0) -> bool:
    """Whether condition() came true within timeout seconds (checked every 50 ms)."""
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if condition():
            return True
        done.wait(0.05)
    return condition()


def alert_rows(settings) -> list[Alert]:
    return storage.list_alerts(storage.open_db(settings.database))


def newsroom_with(newsroom, make_settings, *rules):
    return make_settings(sources=[{"name": "newsroom", "kind": "rss", "url": f"{newsroom.url}/feed.xml"}],
                         alerts=list(rules))


def track_two_versions(newsroom, settings, now=None) -> None:
    """Store the first version of every demo story, then the second: changes and alerts are recorded."""
    now = now or cycle.utcnow()
    cycle.run_cycle(settings, now, everything=True)
    newsroom.advance()
    cycle.run_cycle(settings, now + timedelta(minutes=1), everything=True)


def queue_alerts(newsroom, settings, now) -> None:
    """Like track_two_versions, but the second round stops before delivery: the alerts are left pending."""
    cycle.run_cycle(settings, now, everything=True)
    newsroom.advance()
    cycle.poll_sources(settings, now)
    for batch in cycle.plan_batches(settings, now, everything=True):
        cycle.check_batch(settings, batch, now)


# --------------------------------------------------------------------------- rule_matches


def test_rule_matches_by_kind():
    assert rule_matches(rule(kinds=("figure",)), FIGURE)
    assert not rule_matches(rule(kinds=("figure",)), HEADLINE)
    assert rule_matches(rule(kinds=("figure", "headline")), HEADLINE)
    assert not rule_matches(rule(kinds=("figure", "headline")), ADDED)


@pytest.mark.parametrize("keyword", ["KILLED", "Flood", "at least 12", "least 19", "people killed"])
def test_rule_matches_a_keyword_anywhere_in_the_change_ignoring_case(keyword):
    assert rule_matches(rule(keywords=(keyword,)), FIGURE)


@pytest.mark.parametrize(("field", "value"), [
    ("subject", "evacuees"), ("context", "The evacuees were moved."), ("before", "12 evacuees"), ("after", "19 evacuees"),
])
def test_rule_matches_keyword_in_each_field(field, value):
    change = Change(**{"kind": "figure", "before": None, "after": None, "context": None, "subject": None, field: value})

    assert rule_matches(rule(keywords=("Evacuees",)), change)


def test_rule_matches_needs_one_of_the_keywords():
    assert rule_matches(rule(keywords=("wildfire", "flood")), FIGURE)
    assert not rule_matches(rule(keywords=("wildfire", "election")), FIGURE)


def test_rule_matches_keyword_does_not_override_kind():
    assert not rule_matches(rule(kinds=("headline",), keywords=("killed",)), FIGURE)


def test_rule_matches_a_pattern_ignoring_case():
    assert rule_matches(rule(pattern=r"\b(killed|dead)\b"), FIGURE)
    assert not rule_matches(rule(pattern=r"\binjured\b"), FIGURE)
    assert not rule_matches(rule(keywords=("flood",), pattern="injured"), FIGURE)  # both must hold


def test_rule_matches_by_source():
    assert rule_matches(rule(sources=("Wire",)), FIGURE, source="Wire")
    assert not rule_matches(rule(sources=("Wire",)), FIGURE, source="Gazette")
    assert not rule_matches(rule(sources=("Wire",)), FIGURE, source=None)
    assert rule_matches(rule(), FIGURE, source="Gazette")  # no sources: every source


def test_rule_matches_figure_changes_by_what_happened_to_the_figure():
    only_values = rule(figure_changes=("value",))

    assert rule_matches(only_values, FIGURE)
    assert not rule_matches(only_values, QUALIFIER)
    assert not rule_matches(only_values, NEW_FIGURE)
    assert rule_matches(rule(figure_changes=("added", "removed")), NEW_FIGURE)


@pytest.mark.parametrize(("keys", "figure", "fall"), [
    ({"min_change": 7}, True, True),
    ({"min_change": 8}, False, True),
    ({"min_relative": 0.5}, True, True),
    ({"min_relative": 0.6}, False, True),
    ({"min_relative": 0.8}, False, False),
    ({"direction": "up"}, True, False),
    ({"direction": "down"}, False, True),
    ({"direction": "down", "min_change": 1e8}, False, False),
])
def test_rule_matches_figures_by_size_and_direction_of_change(keys, figure, fall):
    assert rule_matches(rule(**keys), FIGURE) is figure
    assert rule_matches(rule(**keys), FALL) is fall


def test_a_size_or_direction_leaves_out_figures_that_did_not_move_comparably():
    for keys in ({"min_change": 0.5}, {"min_relative": 0.01}, {"direction": "up"}):
        assert not rule_matches(rule(**keys), QUALIFIER)
        assert not rule_matches(rule(**keys), NEW_FIGURE)
        assert not rule_matches(rule(**keys), OTHER_CURRENCY)
    assert rule_matches(rule(), OTHER_CURRENCY)


def test_a_size_says_nothing_about_other_kinds_of_change():
    assert rule_matches(rule(kinds=("figure", "headline"), min_relative=0.9), HEADLINE)


# --------------------------------------------------------------------------- match_rules and channel_name


def test_match_rules_gives_one_entry_per_change_rule_and_url():
    figures = rule("figures", urls=("json://127.0.0.1:9/a", "json://127.0.0.1:9/b"), kinds=("figure",))
    headlines = rule("headlines", urls=("json://127.0.0.1:9/c",), kinds=("headline", "figure"), keywords=("flood",))

    matched = match_rules((figures, headlines), (ADDED, FIGURE, HEADLINE))

    assert sorted(matched) == sorted([
        (1, "figures", channel_name("json://127.0.0.1:9/a")),
        (1, "figures", channel_name("json://127.0.0.1:9/b")),
        (1, "headlines", channel_name("json://127.0.0.1:9/c")),
        (2, "headlines", channel_name("json://127.0.0.1:9/c")),
    ])


def test_match_rules_passes_the_source_on():
    wire = rule("wire", sources=("Wire",))

    assert match_rules((wire,), (FIGURE,), source="Wire") == [(0, "wire", channel_name("json://127.0.0.1:9/x"))]
    assert match_rules((wire,), (FIGURE,), source="Gazette") == []


def test_match_rules_with_nothing_selected_is_empty():
    assert match_rules((rule(kinds=("correction",)),), (FIGURE, HEADLINE)) == []
    assert match_rules((), (FIGURE,)) == []


def test_channel_name_masks_the_password():
    name = channel_name("json://user:s3cret@127.0.0.1:9/x")

    assert "s3cret" not in name
    assert name.startswith("json://user:")
    assert "127.0.0.1:9/x" in name


def test_channel_name_is_stable_and_keeps_the_address():
    assert channel_name("json://127.0.0.1:9/_sink") == channel_name("json://127.0.0.1:9/_sink")
    assert "127.0.0.1:9/_sink" in channel_name("json://127.0.0.1:9/_sink")


def test_channel_name_of_an_unknown_url_hides_it():
    name = channel_name("nosuchscheme://user:s3cret@host/path")

    assert "s3cret" not in name
    assert name.startswith("nosuchscheme://")


def test_channel_name_masks_a_token_passed_as_a_header():
    # Regression: at 22a891d Apprise's privacy URL kept custom headers, token included.
    assert "s3cret" not in channel_name("json://127.0.0.1:9/x?+Authorization=Bearer%20s3cret")


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(("url", "secrets", "not_secret"), [
    ("json://user:s3cretpw@127.0.0.1:9/hook", {"s3cretpw", base64.b64encode(b"user:s3cretpw").decode()}, "hook"),
    ("json://127.0.0.1:9/x?+Authorization=Bearer%20t0kent0ken", {"Bearer t0kent0ken", "t0kent0ken"}, "127.0.0.1"),
    ("json://127.0.0.1:9/x?-apikey=k3yk3yk3y", {"k3yk3yk3y"}, "apikey"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
     {"T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"}, "general"),
    ("ntfy://user:pa55w0rd@ntfy.example.org/topic", {"pa55w0rd"}, "topic"),
    ("nosuchscheme://user:s3cretpw@host.example/path", {"s3cretpw"}, None),
])
def test_url_secrets_are_the_parts_apprise_masks(url, secrets, not_secret):
    found = url_secrets(url)

    assert secrets <= found
    if not_secret:
        assert not_secret not in found


def test_redact_replaces_every_secret_however_it_is_written():
    secrets = url_secrets("json://127.0.0.1:9/x?+Authorization=Bearer%20t0kent0ken")
    text = "sent Bearer t0kent0ken, Bearer%20t0kent0ken and Bearer+t0kent0ken"

    assert redact(text, secrets) == "sent ****, **** and ****"


# --------------------------------------------------------------------------- compose_message


def pending(kind, before, after, context=None, subject=None, title="Flood kills 19", url="http://127.0.0.1/news/a",
            **more):
    """An alert as storage.pending_alerts returns it."""
    return Alert(**{"id": 1, "rule": "r", "channel": "json://x", "status": "pending", "attempts": 0, "kind": kind,
                    "detail": None, "before": before, "after": after, "context": context, "subject": subject,
                    "delta": None, "relative": None, "detected_at": "2025-03-11T09:15:00.000+00:00",
                    "created_at": "2025-03-11T09:15:00.000+00:00", "next_attempt_at": None, "article_id": 7,
                    "change_id": 3, "url": url, "article_title": title, "source": "Wire", "from_number": 1,
                    "to_number": 2, **more})


def test_compose_message_gathers_an_articles_changes_into_one_message():
    alerts_ = [
        pending("headline", "Flood kills 12", "Flood kills 19", context="Flood kills 19"),
        pending("figure", "at least 12", "at least 19", context="At least 19 people were killed.",
                subject="people killed", detail="value", delta=7.0, relative=7 / 12),
        pending("figure", None, "about 600", context="About 600 people spent the night in a shelter.",
                subject="people spent", detail="added"),
        pending("correction", None, "Correction: the river is the Meridian.",
                context="Correction: the river is the Meridian."),
    ]

    title, body = compose_message(alerts_)

    assert title == "Redline: 4 changes in 'Flood kills 19'"
    assert "headline: Flood kills 12 → Flood kills 19" in body
    assert "figure: at least 12 → at least 19 (people killed) +7 (+58%)" in body
    assert '    "At least 19 people were killed."' in body  # the sentence, quoted under its figure
    assert "figure added: about 600 (people spent)" in body
    assert "correction: Correction: the river is the Meridian." in body
    assert body.count("Correction: the river is the Meridian.") == 1  # context equal to after is not repeated
    assert body.splitlines()[-1] == "http://127.0.0.1/news/a (detected 2025-03-11T09:15:00.000+00:00)"


def test_compose_message_of_one_change_without_title_names_the_url():
    title, body = compose_message([pending("figure", "300", "450", title=None, url="http://127.0.0.1/news/b")])

    assert title == "Redline: 1 change in 'http://127.0.0.1/news/b'"
    assert body.splitlines()[0] == "figure: 300 → 450"


def test_compose_message_writes_large_deltas_in_words():
    _, body = compose_message([pending("figure", "$80 million", "$18 million", detail="value", delta=-62e6,
                                       relative=-0.775)])

    assert body.splitlines()[0] == "figure: $80 million → $18 million -62 million (-78%)"


def test_compose_message_renders_the_rules_template_for_each_change():
    template = ("{{ subject or kind }}: {{ before }} → {{ after }} in '{{ title }}'"
                "{% if relative is not none %} ({{ '%+.0f' % (relative * 100) }}%){% endif %}\n"
                "> {{ context }}\n{{ link }} [{{ source }}, v{{ from_version }}→v{{ to_version }}]")
    with_template = rule(template=template, diff_link="https://redline.example/a/{article_id}/{from_version}..{to_version}")

    title, body = compose_message([
        pending("figure", "at least 12", "at least 19", context="At least 19 people were killed.",
                subject="people killed", detail="value", delta=7.0, relative=7 / 12),
        pending("headline", "Flood kills 12", "Flood kills 19", context="Flood kills 19"),
    ], with_template)

    assert title == "Redline: 2 changes in 'Flood kills 19'"
    assert body.splitlines() == [
        "people killed: at least 12 → at least 19 in 'Flood kills 19' (+58%)",
        "> At least 19 people were killed.",
        "https://redline.example/a/7/1..2 [Wire, v1→v2]",
        "headline: Flood kills 12 → Flood kills 19 in 'Flood kills 19'",
        "> Flood kills 19",
        "https://redline.example/a/7/1..2 [Wire, v1→v2]",
    ]


def test_compose_message_without_a_template_ends_with_the_rules_diff_link():
    _, body = compose_message([pending("figure", "300", "450")], rule(diff_link="https://redline.example/{article_id}"))

    assert body.splitlines()[-1] == "https://redline.example/7"


def test_compose_message_with_a_template_naming_an_unknown_value_raises():
    with pytest.raises(TemplateError, match="befor"):
        compose_message([pending("figure", "300", "450")], rule(template="{{ befor }}"))


# --------------------------------------------------------------------------- debounce and backoff


def test_due_at_waits_out_the_debounce_window_from_the_first_change():
    group = [pending("figure", "1", "2", created_at="2025-03-11T09:15:00.000+00:00"),
             pending("figure", "3", "4", created_at="2025-03-11T09:20:00.000+00:00")]

    assert to_iso(due_at(group, rule(debounce=600))) == "2025-03-11T09:25:00.000+00:00"
    assert to_iso(due_at(group, rule())) == "2025-03-11T09:15:00.000+00:00"
    assert to_iso(due_at(group, None)) == "2025-03-11T09:15:00.000+00:00"


def test_due_at_of_a_failed_alert_is_its_next_attempt():
    group = [pending("figure", "1", "2", status="failed", next_attempt_at="2025-03-11T09:17:00.000+00:00")]

    assert to_iso(due_at(group, rule(debounce=600))) == "2025-03-11T09:17:00.000+00:00"


def test_retry_at_doubles_up_to_an_hour_then_gives_up():
    now = cycle.utcnow()

    delays = [(retry_at(n, now, DELIVERY) - now).total_seconds() for n in range(1, DELIVERY.max_attempts)]

    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert retry_at(DELIVERY.max_attempts, now, DELIVERY) is None


# --------------------------------------------------------------------------- delivery, end to end


def test_alerts_reach_the_sink_once(newsroom, newsroom_settings):
    now = cycle.utcnow()
    first = cycle.run_cycle(newsroom_settings, now, everything=True)
    assert first["alerts"]["sent"] == first["alerts"]["messages"] == 0  # first versions: nothing changed yet
    assert newsroom.received == []

    newsroom.advance()
    second = cycle.run_cycle(newsroom_settings, now + timedelta(minutes=1), everything=True)

    assert second["alerts"]["failed"] == 0
    assert second["alerts"]["sent"] > 0
    texts = [f"{m['title']}\n{m['message']}" for m in newsroom.received]
    assert len(texts) == second["alerts"]["messages"]
    flood = [t for t in texts if "at least 12" in t]
    assert len(flood) == 1  # the headline and the figure change of one article travel together
    assert "at least 19" in flood[0]
    assert "/news/flood-toll" in flood[0]
    rows = alert_rows(newsroom_settings)
    assert len(rows) == second["alerts"]["sent"]
    assert {r.status for r in rows} == {"sent"}
    assert all(r.sent_at and r.attempts == 1 and r.claimed_at is None for r in rows)

    received = len(newsroom.received)
    assert cycle.deliver_alerts(newsroom_settings, now + timedelta(minutes=2))["sent"] == 0
    assert len(newsroom.received) == received

    cycle.run_cycle(newsroom_settings, now + timedelta(minutes=3), everything=True)  # nothing new to fetch or send
    assert len(newsroom.received) == received


def test_only_selected_kinds_are_alerted(newsroom, newsroom_settings):
    track_two_versions(newsroom, newsroom_settings)

    assert {row.kind for row in alert_rows(newsroom_settings)} <= {"figure", "headline", "correction"}
    assert "figure" in {row.kind for row in alert_rows(newsroom_settings)}


def test_failed_delivery_is_recorded_with_its_error_and_retried_with_backoff(newsroom, make_settings, webhook):
    settings = newsroom_with(newsroom, make_settings, {"name": "hook", "kinds": ["figure"], "urls": [webhook.url()]})
    webhook.status = 500
    now = cycle.utcnow()
    first_try = now + timedelta(minutes=1)

    track_two_versions(newsroom, settings, now)

    rows = alert_rows(settings)
    failed = [r.id for r in rows if r.status == "failed"]
    assert failed and len(webhook.received) == 1  # the channel failed: its other messages wait for the next run
    assert {r.status for r in rows if r.id not in failed} == {"pending"}
    for row in (r for r in rows if r.id in failed):
        assert (row.attempts, row.sent_at) == (1, None)
        assert f"127.0.0.1:{webhook.port}/hook" in row.last_error and "500" in row.last_error
        assert row.next_attempt_at == to_iso(first_try + timedelta(seconds=DELIVERY.first_retry))

    webhook.status = 200
    soon = cycle.deliver_alerts(settings, first_try + timedelta(seconds=30))

    assert soon["sent"] == len(rows) - len(failed)  # the deferred ones go at once...
    assert {r.status for r in alert_rows(settings) if r.id in failed} == {"failed"}  # ...the failed one backs off
    assert len(webhook.received) == 1 + soon["messages"]

    later = cycle.deliver_alerts(settings, first_try + timedelta(seconds=DELIVERY.first_retry))

    assert (later["sent"], later["failed"]) == (len(failed), 0)
    rows = alert_rows(settings)
    assert {r.status for r in rows} == {"sent"}
    for row in (r for r in rows if r.id in failed):
        assert (row.attempts, row.last_error, row.next_attempt_at) == (2, None, None) and row.sent_at
    assert len(webhook.received) == 2 + soon["messages"]
    assert "at least 19" in webhook.messages()
    delivered = len(webhook.received)
    assert cycle.deliver_alerts(settings, first_try + timedelta(hours=1))["sent"] == 0
    assert len(webhook.received) == delivered


def test_a_channel_that_keeps_failing_is_given_up_visibly_and_can_be_resent(newsroom, make_settings, webhook):
    settings = newsroom_with(newsroom, make_settings, {"name": "hook", "kinds": ["figure"], "urls": [webhook.url()]})
    now = cycle.utcnow()
    track_two_versions(newsroom, settings, now)
    messages = len({r.article_id for r in alert_rows(settings)})
    at = now + timedelta(minutes=1)

    for _ in range(DELIVERY.max_attempts * messages):
        if not {r.status for r in alert_rows(settings)} & {"pending", "failed"}:
            break
        at += timedelta(hours=2)
        assert cycle.deliver_alerts(settings, at)["sent"] == 0

    rows = alert_rows(settings)
    assert {(r.status, r.attempts) for r in rows} == {("abandoned", DELIVERY.max_attempts)}
    assert all("500" in r.last_error and r.next_attempt_at is None for r in rows)
    assert len(webhook.received) == DELIVERY.max_attempts * messages  # every message tried its share, none starved
    assert cycle.deliver_alerts(settings, at + timedelta(days=1))["sent"] == 0
    assert len(webhook.received) == DELIVERY.max_attempts * messages  # given up: no more attempts

    webhook.status = 200
    assert cycle.resend_alerts(settings, [r.id for r in rows]) == [r.id for r in rows]
    assert cycle.deliver_alerts(settings, at + timedelta(days=1))["sent"] == len(rows)
    assert {r.status for r in alert_rows(settings)} == {"sent"}


def test_a_broken_channel_never_holds_back_the_others(newsroom, make_settings, webhook, second_webhook):
    settings = newsroom_with(newsroom, make_settings,
                             {"name": "both", "kinds": ["figure"], "urls": [webhook.url(), second_webhook.url()]})
    webhook.status, second_webhook.status = 500, 200

    track_two_versions(newsroom, settings)

    rows = alert_rows(settings)
    broken, working = channel_name(webhook.url()), channel_name(second_webhook.url())
    assert {r.status for r in rows if r.channel == working} == {"sent"}
    assert {r.status for r in rows if r.channel == broken} == {"failed", "pending"}
    assert "at least 19" in second_webhook.messages()


def test_a_channel_that_hangs_never_holds_back_the_others(newsroom, make_settings, webhook, second_webhook):
    settings = newsroom_with(newsroom, make_settings, {
        "name": "both", "kinds": ["figure"], "urls": [webhook.url(patient=True), second_webhook.url()]})
    webhook.status = second_webhook.status = 200
    now = cycle.utcnow()
    queue_alerts(newsroom, settings, now)
    webhook.open.clear()  # the first channel takes every request and answers none, for now
    result = {}
    run = threading.Thread(target=lambda: result.update(cycle.deliver_alerts(settings, now)))
    run.start()
    try:
        assert webhook.arrived.wait(timeout=60)
        second = channel_name(second_webhook.url())
        # The second channel's alerts are all delivered and marked while the first one still hangs.
        assert wait_until(lambda: {r.status for r in alert_rows(settings) if r.channel == second} == {"sent"})
        assert (channel_name(webhook.url(patient=True)), "sending") in {
            (r.channel, r.status) for r in alert_rows(settings)}
        assert run.is_alive()
    finally:
        webhook.open.set()
        run.join(timeout=60)
    assert {r.status for r in alert_rows(settings)} == {"sent"}
    assert result["failed"] == 0


def test_debounce_gathers_an_articles_changes_into_one_message(newsroom, make_settings, webhook):
    settings = newsroom_with(newsroom, make_settings, {
        "name": "hook", "kinds": ["figure"], "keywords": ["killed"], "debounce": "10m", "urls": [webhook.url()]})
    webhook.status = 200
    now = cycle.utcnow()
    cycle.run_cycle(settings, now, everything=True)
    newsroom.advance()

    second = cycle.run_cycle(settings, now + timedelta(minutes=1), everything=True)  # 12 -> 19 found
    assert (second["alerts"]["sent"], second["alerts"]["waiting"]) == (0, 1)
    newsroom.advance()
    third = cycle.run_cycle(settings, now + timedelta(minutes=6), everything=True)  # 19 -> 27 found
    assert (third["alerts"]["sent"], third["alerts"]["waiting"]) == (0, 2)
    assert webhook.received == []

    counts = cycle.deliver_alerts(settings, now + timedelta(minutes=11))

    assert (counts["sent"], counts["messages"]) == (2, 1)
    message, = webhook.received
    assert "at least 12 → at least 19" in message["message"] and "at least 19 → at least 27" in message["message"]
    newsroom.advance()
    fourth = cycle.run_cycle(settings, now + timedelta(minutes=12), everything=True)  # 27 -> 31: a new window
    assert fourth["alerts"]["waiting"] == 1
    assert cycle.deliver_alerts(settings, now + timedelta(minutes=22))["messages"] == 1
    assert "at least 27 → at least 31" in webhook.received[-1]["message"]


def test_a_retried_delivery_task_sends_nothing_twice(newsroom, make_settings, webhook):
    settings = newsroom_with(newsroom, make_settings, {"name": "hook", "kinds": ["figure"], "urls": [webhook.url()]})
    webhook.status = 200
    now = cycle.utcnow()
    queue_alerts(newsroom, settings, now)

    first = cycle.deliver_alerts(settings, now)
    retried = cycle.deliver_alerts(settings, now)  # what an Airflow retry of the same task does

    assert first["sent"] > 0
    assert (retried["sent"], retried["messages"]) == (0, 0)
    assert len(webhook.received) == first["messages"]


def test_two_runs_at_once_send_each_alert_once(newsroom, make_settings, webhook):
    settings = newsroom_with(newsroom, make_settings, {"name": "hook", "kinds": ["figure"],
                                                       "urls": [webhook.url(patient=True)]})
    webhook.status = 200
    now = cycle.utcnow()
    queue_alerts(newsroom, settings, now)
    webhook.open.clear()
    webhook.hold = 1  # the first run's first message hangs; the rest pass
    first = {}
    run = threading.Thread(target=lambda: first.update(cycle.deliver_alerts(settings, now)))
    run.start()
    try:
        assert webhook.arrived.wait(timeout=60)  # the first run has claimed one group and is sending it
        second = cycle.deliver_alerts(settings, now)  # overlapping: takes what the first has not claimed
    finally:
        webhook.open.set()
        run.join(timeout=60)

    rows = alert_rows(settings)
    assert len(rows) > 1
    assert first["messages"] == 1 and second["messages"] == len(webhook.received) - 1
    assert first["sent"] + second["sent"] == len(rows)
    assert all(r.status == "sent" and r.attempts == 1 for r in rows)
    titles = [m["title"] + m["message"] for m in webhook.received]
    assert len(set(titles)) == len(titles)


def write_toml(path: Path, settings_dict: dict) -> Path:
    lines = [f'[database]\npath = "{settings_dict["database"]}"\n[network]\nallow_private = true\n']
    for source in settings_dict["sources"]:
        lines.append(f'[[sources]]\nname = "{source["name"]}"\nkind = "{source["kind"]}"\nurl = "{source["url"]}"\n')
    for item in settings_dict["alerts"]:
        lines.append(f'[[alerts]]\nname = "{item["name"]}"\nkinds = {json.dumps(item["kinds"])}\n'
                     f'urls = {json.dumps(item["urls"])}\n')
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_a_run_that_dies_while_sending_never_sends_again_on_its_own(newsroom, make_settings, webhook, tmp_path):
    rules = [{"name": "hook", "kinds": ["figure"], "urls": [webhook.url()]}]
    settings = newsroom_with(newsroom, make_settings, *rules)
    webhook.status = 200
    now = cycle.utcnow()
    queue_alerts(newsroom, settings, now)
    config = write_toml(tmp_path / "redline.toml", {
        "database": str(settings.database), "alerts": rules,
        "sources": [{"name": "newsroom", "kind": "rss", "url": f"{newsroom.url}/feed.xml"}]})
    webhook.open.clear()
    worker = subprocess.Popen(
        [sys.executable, "-c", "from pipeline import config, cycle; cycle.deliver_alerts(config.load_settings())"],
        env={**os.environ, "REDLINE_CONFIG": str(config), "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    try:
        assert webhook.arrived.wait(timeout=60)  # the message is on the wire, unanswered...
    finally:
        worker.send_signal(signal.SIGKILL)  # ...when the worker dies
        worker.wait(timeout=60)
        webhook.open.set()
    in_flight = [r.id for r in alert_rows(settings) if r.status == "sending"]
    assert in_flight  # only the group on the wire is at stake; the others were never claimed
    assert {r.status for r in alert_rows(settings) if r.id not in in_flight} <= {"pending"}

    retried = cycle.deliver_alerts(settings, now + timedelta(minutes=1))  # an Airflow retry of the task

    assert retried["sent"] == len(alert_rows(settings)) - len(in_flight)
    assert len(webhook.received) == 1 + retried["messages"]  # the interrupted message was not sent again
    # Its claimer is dead: uncertain at once, not after claim_timeout.
    assert retried["uncertain"] == len(in_flight)
    later = cycle.deliver_alerts(settings, now + timedelta(seconds=DELIVERY.claim_timeout + 60))
    assert (later["sent"], later["uncertain"]) == (0, 0)
    assert len(webhook.received) == 1 + retried["messages"]
    uncertain = [r for r in alert_rows(settings) if r.id in in_flight]
    assert {r.status for r in uncertain} == {"uncertain"}
    assert all("redline resend" in r.last_error and r.claimed_by and r.sent_at is None for r in uncertain)

    assert cycle.resend_alerts(settings, in_flight) == in_flight
    assert cycle.deliver_alerts(settings, now + timedelta(hours=1))["sent"] == len(in_flight)
    assert {r.status for r in alert_rows(settings)} == {"sent"}


def test_a_live_senders_claim_is_left_alone_until_the_claim_timeout(tmp_path):
    from pipeline.config import SourceSettings
    from pipeline.models import Entry

    now = cycle.utcnow()
    db = storage.open_db(tmp_path / "redline.db")
    source_id = storage.sync_sources(db, [SourceSettings("wire", "rss", "https://x.example/feed")])["wire"]
    storage.add_articles(db, source_id, [Entry("https://x.example/a")], now)
    storage.record_events(db, storage.list_articles(db)[0].id, [Change("gone", "A", "HTTP 410")], now,
                          alerts=[(0, "r", "json://x#1")])
    [alert] = storage.list_alerts(db)
    assert storage.claim_alerts(db, [alert.id], now) == [alert.id]  # by this process: alive

    assert storage.expire_claims(db, now - timedelta(minutes=15), "interrupted") == 0
    assert storage.expire_claims(db, now + timedelta(minutes=1), "interrupted") == 1  # a claim past its timeout


def test_the_uncertain_list_says_what_is_known_and_what_to_do(newsroom, make_settings, tmp_path):
    from click.testing import CliRunner

    from pipeline.cli import cli

    settings = newsroom_with(
        newsroom, make_settings, {"name": "hook", "kinds": ["figure"], "urls": ["json://127.0.0.1:9/never"]})
    now = cycle.utcnow()
    queue_alerts(newsroom, settings, now)
    db = storage.open_db(settings.database)
    ids = [alert.id for alert in storage.list_alerts(db)]
    storage.claim_alerts(db, ids, now, holder="otherhost:1:1")
    storage.expire_claims(db, now + timedelta(hours=1), INTERRUPTED)
    config = write_toml(tmp_path / "redline.toml", {"database": str(settings.database), "sources": [], "alerts": []})

    result = CliRunner().invoke(cli, ["alerts", "--uncertain", "--config", str(config)])

    assert result.exit_code == 0
    assert result.output.count("uncertain") >= len(ids) and "claimed" in result.output and "otherhost:1:1" in result.output
    assert "redline resend" in result.output


def test_a_sent_alert_cannot_be_resent(newsroom, make_settings, webhook):
    settings = newsroom_with(newsroom, make_settings, {"name": "hook", "kinds": ["figure"], "urls": [webhook.url()]})
    webhook.status = 200
    track_two_versions(newsroom, settings)

    assert cycle.resend_alerts(settings, [r.id for r in alert_rows(settings)]) == []


def test_alert_of_a_rule_that_no_longer_sends_there_fails(newsroom, make_settings, webhook):
    old = newsroom_with(newsroom, make_settings, {"name": "hook", "kinds": ["figure"], "urls": [webhook.url("old")]})
    new = newsroom_with(newsroom, make_settings, {"name": "hook", "kinds": ["figure"], "urls": [webhook.url("new")]})
    now = cycle.utcnow()
    queue_alerts(newsroom, old, now)

    counts = cycle.deliver_alerts(new, now)

    assert counts["sent"] == 0 and counts["failed"] > 0
    assert webhook.received == []
    assert all("no longer sends" in r.last_error and r.status == "failed" for r in alert_rows(new))


def test_a_template_that_fails_is_recorded_as_the_delivery_error(newsroom, make_settings, webhook):
    settings = newsroom_with(newsroom, make_settings, {
        "name": "hook", "kinds": ["figure"], "urls": [webhook.url()], "template": "{{ nosuchvalue }}"})
    webhook.status = 200

    track_two_versions(newsroom, settings)

    assert webhook.received == []
    failed = [r for r in alert_rows(settings) if r.status == "failed"]
    assert failed and all("template" in r.last_error and "nosuchvalue" in r.last_error for r in failed)
    assert {r.status for r in alert_rows(settings)} == {"failed", "pending"}


def test_secrets_in_channel_urls_never_reach_logs_errors_or_the_database(newsroom, make_settings, webhook, caplog):
    url = webhook.url(credentials="user:s3cretpw@") + "?+X-Token=t0ps3cret1&-apikey=k3yk3yk3y9"
    secrets = ("s3cretpw", "t0ps3cret1", "k3yk3yk3y9", base64.b64encode(b"user:s3cretpw").decode())
    settings = newsroom_with(newsroom, make_settings, {"name": "hook", "kinds": ["figure", "headline"], "urls": [url]})
    webhook.status = 500
    now = cycle.utcnow()
    caplog.set_level(logging.DEBUG)

    track_two_versions(newsroom, settings, now)  # fails, and logs why
    webhook.status = 200
    assert cycle.deliver_alerts(settings, now + timedelta(hours=1))["sent"] > 0

    # The real URL, password, header and parameter included, was used to deliver...
    request = webhook.requests[-1]
    assert request["headers"]["Authorization"] == "Basic " + base64.b64encode(b"user:s3cretpw").decode()
    assert request["headers"]["X-Token"] == "t0ps3cret1"
    assert "apikey=k3yk3yk3y9" in request["path"]
    # ...but no log line, error or database column holds any of it.
    assert any("500" in r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    db = storage.open_db(settings.database)
    stored = repr({table: db.execute(f"select * from [{table}]").fetchall() for table in db.table_names()})
    rows = alert_rows(settings)
    assert rows and all("user:****@" in r.channel for r in rows)
    for secret in secrets:
        assert secret not in logged
        assert secret not in stored
        assert secret not in repr(rows)


# --------------------------------------------------------------------------- e-mail, through a real SMTP sink


class SMTPSink:
    """A minimal SMTP server on 127.0.0.1 that keeps every message it is given."""

    def __init__(self):
        import socketserver

        self.messages: list[bytes] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 sink ESMTP\r\n")
                while line := self.rfile.readline():
                    verb = line.decode("ascii", "replace").strip().split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250 sink\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go on\r\n")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        sink.messages.append(data)
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:  # MAIL, RCPT, RSET, NOOP
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp():
    sink = SMTPSink()
    yield sink
    sink.close()


def news_page(title: str, figure: int) -> str:
    import html

    body = " ".join(["Rescuers searched the flooded streets of the town through the night."] * 4)
    title = html.escape(title)  # the headline's text holds the markup, as a hostile or careless newsroom's can
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>At least {figure} people were killed when the river burst its banks, officials said.</p>"
            f"<p>{body}</p></article></body></html>")


def test_an_html_e_mail_alert_carries_article_text_escaped_never_as_markup(site, make_settings, smtp):
    import email

    hostile = 'Flood kills 19 <img src=x onerror="alert(1)">'
    site.page("/flood", news_page("Flood kills 12", 12))
    site.page("/list.txt", site.url + "/flood\n", kind="text/plain")
    mailto = f"mailto://127.0.0.1:{smtp.port}?from=redline@example.org&to=desk@example.org&mode=insecure&format=html"
    settings = make_settings(sources=[{"name": "list", "kind": "urls", "url": site.url + "/list.txt"}],
                             alerts=[{"name": "mail", "kinds": ["headline", "figure"], "urls": [mailto]}])
    now = cycle.utcnow()
    cycle.run_cycle(settings, now, everything=True)
    site.page("/flood", news_page(hostile, 19))

    summary = cycle.run_cycle(settings, now + timedelta(minutes=1), everything=True)

    assert summary["alerts"]["sent"] >= 1 and len(smtp.messages) == 1
    message = email.message_from_bytes(smtp.messages[0])
    [html] = [part.get_payload(decode=True).decode() for part in message.walk()
              if part.get_content_type() == "text/html"]
    assert "<img" not in html and "&lt;img" in html
    assert "19" in html


def test_without_a_rule_link_the_message_links_the_diff_page_in_the_workspace():
    _, body = compose_message([pending("figure", "300", "450")], rule(), base_url="https://redline.example/ws/")
    assert body.splitlines()[-1] == "https://redline.example/ws/articles/7/diff?from=1&to=2"
    _, gone = compose_message([pending("gone", None, "404", from_number=None, to_number=None)], rule(),
                              base_url="https://redline.example/ws")
    assert gone.splitlines()[-1] == "https://redline.example/ws/articles/7"  # no versions: the article page
    _, own = compose_message([pending("figure", "300", "450")], rule(diff_link="https://r.example/{article_id}"),
                             base_url="https://redline.example/ws")
    assert own.splitlines()[-1] == "https://r.example/7"  # the rule's own link wins
