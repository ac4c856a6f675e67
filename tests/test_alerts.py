"""Tests for pipeline.alerts (rules, channels, messages) and cycle.deliver_alerts."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import storage
from pipeline import cycle
from pipeline.alerts import channel_name, compose_message, match_rules, rule_matches
from pipeline.config import RuleSettings
from pipeline.models import Change

FIGURE = Change("figure", "at least 12", "at least 19",
                context="Rescuers said at least 19 people were killed in the flood.", subject="people killed")
HEADLINE = Change("headline", "Flood kills 12", "Flood kills 19", context="Flood kills 19")
ADDED = Change("sentence_added", None, "The Red Cross opened a shelter.", context="The Red Cross opened a shelter.")


def rule(name="r", urls=("json://127.0.0.1:9/x",), kinds=("figure",), keywords=()) -> RuleSettings:
    return RuleSettings(name=name, urls=tuple(urls), kinds=tuple(kinds), keywords=tuple(keywords))


# --------------------------------------------------------------------------- a local webhook


class Webhook:
    """A local HTTP endpoint that records the JSON posted to it and answers with `status`."""

    def __init__(self):
        self.status = 500
        self.received: list[dict] = []
        self.authorization: list[str | None] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    hook.received.append(json.loads(body or b"null"))
                    hook.authorization.append(self.headers.get("Authorization"))
                    status = hook.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def messages(self) -> str:
        with self._lock:
            return "\n".join(f"{m['title']}\n{m['message']}" for m in self.received)


@pytest.fixture
def webhook():
    hook = Webhook()
    hook.thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()
    hook.thread.join(timeout=5)


def alert_rows(settings) -> list[dict]:
    db = storage.open_db(settings.database)
    cursor = db.execute("select * from alerts order by id")
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def track_two_versions(newsroom, settings) -> None:
    """Store the first version of every demo story, then the second: changes and alerts are recorded."""
    cycle.run_cycle(settings, everything=True)
    newsroom.advance()
    cycle.run_cycle(settings, everything=True)


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


# --------------------------------------------------------------------------- compose_message


def pending(kind, before, after, context=None, subject=None, title="Flood kills 19", url="http://127.0.0.1/news/a"):
    """An alert as storage.pending_alerts returns it."""
    return {"id": 1, "rule": "r", "channel": "json://x", "attempts": 0, "kind": kind, "before": before,
            "after": after, "context": context, "subject": subject, "detected_at": "2025-03-11T09:15:00.000+00:00",
            "article_id": 1, "url": url, "article_title": title}


def test_compose_message_gathers_an_articles_changes_into_one_message():
    alerts = [
        pending("headline", "Flood kills 12", "Flood kills 19", context="Flood kills 19"),
        pending("figure", "at least 12", "at least 19", context="At least 19 people were killed.",
                subject="people killed"),
        pending("correction", None, "Correction: the river is the Meridian.",
                context="Correction: the river is the Meridian."),
    ]

    title, body = compose_message(alerts)

    assert title == "Redline: 3 changes in 'Flood kills 19'"
    assert "headline: Flood kills 12 → Flood kills 19" in body
    assert "figure: at least 12 → at least 19 (people killed)" in body
    assert '    "At least 19 people were killed."' in body  # the sentence, quoted under its figure
    assert "correction: Correction: the river is the Meridian." in body
    assert body.count("Correction: the river is the Meridian.") == 1  # context equal to after is not repeated
    assert body.splitlines()[-1] == "http://127.0.0.1/news/a (detected 2025-03-11T09:15:00.000+00:00)"


def test_compose_message_of_one_change_without_title_names_the_url():
    title, body = compose_message([pending("figure", "300", "450", title=None, url="http://127.0.0.1/news/b")])

    assert title == "Redline: 1 change in 'http://127.0.0.1/news/b'"
    assert body.splitlines()[0] == "figure: 300 → 450"


# --------------------------------------------------------------------------- delivery, end to end


def test_alerts_reach_the_sink_once(newsroom, newsroom_settings):
    first = cycle.run_cycle(newsroom_settings, everything=True)
    assert first["alerts"] == {"sent": 0, "failed": 0}  # first versions: nothing changed yet
    assert newsroom.received == []

    newsroom.advance()
    second = cycle.run_cycle(newsroom_settings, everything=True)

    assert second["alerts"]["failed"] == 0
    assert second["alerts"]["sent"] > 0
    texts = [f"{m['title']}\n{m['message']}" for m in newsroom.received]
    flood = [t for t in texts if "at least 12" in t]
    assert len(flood) == 1  # the headline and the figure change of one article travel together
    assert "at least 19" in flood[0]
    assert "/news/flood-toll" in flood[0]
    rows = alert_rows(newsroom_settings)
    assert len(rows) == second["alerts"]["sent"]
    assert {r["status"] for r in rows} == {"sent"}
    assert all(r["sent_at"] and r["attempts"] == 1 for r in rows)

    received = len(newsroom.received)
    assert cycle.deliver_alerts(newsroom_settings) == {"sent": 0, "failed": 0}
    assert len(newsroom.received) == received

    cycle.run_cycle(newsroom_settings, everything=True)  # nothing new to fetch, nothing new to send
    assert len(newsroom.received) == received


def test_only_selected_kinds_are_alerted(newsroom, newsroom_settings):
    track_two_versions(newsroom, newsroom_settings)

    db = storage.open_db(newsroom_settings.database)
    kinds = {row[0] for row in db.execute(
        "select c.kind from alerts a join changes c on c.id = a.change_id").fetchall()}
    assert kinds <= {"figure", "headline", "correction"}
    assert "figure" in kinds


def test_failed_delivery_is_recorded_and_retried(newsroom, make_settings, webhook):
    settings = make_settings(
        sources=[{"name": "newsroom", "kind": "rss", "url": f"{newsroom.url}/feed.xml"}],
        alerts=[{"name": "hook", "kinds": ["figure"], "urls": [f"json://127.0.0.1:{webhook.port}/hook"]}],
    )
    webhook.status = 500

    track_two_versions(newsroom, settings)

    rows = alert_rows(settings)
    assert rows
    assert {r["status"] for r in rows} == {"failed"}
    assert all(r["attempts"] == 1 and r["last_error"] and r["sent_at"] is None for r in rows)
    assert all(f"127.0.0.1:{webhook.port}/hook" in r["last_error"] for r in rows)
    tried = len(webhook.received)
    assert tried > 0

    webhook.status = 200
    counts = cycle.deliver_alerts(settings)

    assert counts == {"sent": len(rows), "failed": 0}
    rows = alert_rows(settings)
    assert {r["status"] for r in rows} == {"sent"}
    assert all(r["attempts"] == 2 and r["last_error"] is None and r["sent_at"] for r in rows)
    assert "at least 19" in webhook.messages()

    delivered = len(webhook.received)
    assert delivered > tried
    assert cycle.deliver_alerts(settings) == {"sent": 0, "failed": 0}
    assert len(webhook.received) == delivered


def test_alert_of_a_rule_that_no_longer_sends_there_fails(newsroom, make_settings, webhook):
    source = [{"name": "newsroom", "kind": "rss", "url": f"{newsroom.url}/feed.xml"}]
    old = make_settings(sources=source, alerts=[
        {"name": "hook", "kinds": ["figure"], "urls": [f"json://127.0.0.1:{webhook.port}/old"]}])
    new = make_settings(sources=source, alerts=[
        {"name": "hook", "kinds": ["figure"], "urls": [f"json://127.0.0.1:{webhook.port}/new"]}])
    cycle.run_cycle(old, everything=True)
    newsroom.advance()
    cycle.poll_sources(old)
    for batch in cycle.plan_batches(old, everything=True):
        cycle.check_batch(old, batch)  # changes found and alerts queued, not yet delivered

    counts = cycle.deliver_alerts(new)

    assert counts["sent"] == 0 and counts["failed"] > 0
    assert webhook.received == []
    assert all("no longer sends" in r["last_error"] for r in alert_rows(new))


def test_secret_in_channel_url_never_reaches_the_database(newsroom, make_settings, webhook):
    webhook.status = 200
    settings = make_settings(
        sources=[{"name": "newsroom", "kind": "rss", "url": f"{newsroom.url}/feed.xml"}],
        alerts=[{"name": "hook", "kinds": ["figure", "headline"],
                 "urls": [f"json://user:s3cret@127.0.0.1:{webhook.port}/hook"]}],
    )

    track_two_versions(newsroom, settings)

    # The real URL, password included, was used to deliver...
    assert webhook.received
    expected = "Basic " + base64.b64encode(b"user:s3cret").decode()
    assert set(webhook.authorization) == {expected}
    # ...but only the masked name was stored.
    db = storage.open_db(settings.database)
    rows = db.execute("select * from alerts").fetchall()
    assert rows
    assert {r["status"] for r in alert_rows(settings)} == {"sent"}
    assert all("user:****@" in r["channel"] for r in alert_rows(settings))
    assert "s3cret" not in repr(rows)
    assert "s3cret" not in repr(db.execute("select * from changes").fetchall())
