"""Tests for pipeline/crawl.py: robots.txt, throttled hosts and per-host limits, against a real local site."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

import storage
from pipeline.crawl import Crawler, origin_of, robots_rules
from pipeline.fetch import open_client
from pipeline.robots import ALLOW_ALL, DISALLOW_ALL

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
PAGE = "<html><body><p>A page.</p></body></html>"


@pytest.fixture
def crawl(make_settings, db):
    """crawl(url, now=NOW, **network) fetches through a fresh Crawler (a new process, as it were)."""
    def fetch(url, now=NOW, robots=True, **network):
        settings = make_settings(network={"allow_private": True, "host_delay": 0, **network})
        with open_client(settings.network) as client:
            return Crawler(settings.network, client).fetch(db, url, now, robots=robots)
    return fetch


def test_origin_of():
    assert origin_of("https://News.example.org/a/b?c=1") == "https://news.example.org"
    assert origin_of("http://x.example:80/a") == "http://x.example"
    assert origin_of("http://127.0.0.1:8080/a") == "http://127.0.0.1:8080"
    assert origin_of("http://[::1]:8080/a") == "http://[::1]:8080"


@pytest.mark.parametrize("status, expected", [(404, ALLOW_ALL), (410, ALLOW_ALL), (401, ALLOW_ALL),
                                              (500, DISALLOW_ALL), (503, DISALLOW_ALL), (429, DISALLOW_ALL),
                                              (None, DISALLOW_ALL)])
def test_robots_rules_for_unserved_files(status, expected):
    assert robots_rules(status, None, "Redline/0.1") is expected


# robots.txt -------------------------------------------------------------------------------

def test_robots_disallow_sends_no_request_and_says_why(site, crawl):
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", kind="text/plain")
    site.page("/private/story", PAGE)
    site.page("/public/story", PAGE)
    refused = crawl(site.url + "/private/story")
    assert refused.skipped == "robots" and refused.status is None
    assert "robots.txt" in refused.error and site.url + "/private/story" in refused.error
    assert crawl(site.url + "/public/story").ok
    assert site.requests == ["/robots.txt", "/public/story"]


def test_robots_can_be_switched_off(site, crawl):
    site.page("/robots.txt", "User-agent: *\nDisallow: /\n", kind="text/plain")
    site.page("/story", PAGE)
    assert crawl(site.url + "/story").skipped == "robots"
    assert crawl(site.url + "/story", robots=False).ok
    assert site.hits("/story") == 1


def test_robots_is_fetched_once_a_day_for_every_process(site, crawl, db):
    site.page("/robots.txt", "User-agent: redline\nDisallow: /x\n", kind="text/plain")
    site.page("/story", PAGE)
    for _ in range(3):
        assert crawl(site.url + "/story").ok
    assert site.hits("/robots.txt") == 1
    stored = storage.get_host(db, site.url)
    assert stored.robots_status == 200 and "Disallow: /x" in stored.robots_txt
    crawl(site.url + "/story", now=NOW + timedelta(days=1, minutes=1))  # the cache has expired
    assert site.hits("/robots.txt") == 2


def test_missing_robots_allows_everything(site, crawl):
    site.page("/story", PAGE)
    assert crawl(site.url + "/story").ok
    assert site.requests == ["/robots.txt", "/story"]


def test_robots_that_fails_disallows_everything_for_an_hour(site, crawl):
    site.page("/robots.txt", "", status=503)
    site.page("/story", PAGE)
    assert crawl(site.url + "/story").skipped == "robots"
    site.page("/robots.txt", "User-agent: *\nAllow: /\n", kind="text/plain")
    assert crawl(site.url + "/story", now=NOW + timedelta(minutes=30)).skipped == "robots"
    assert crawl(site.url + "/story", now=NOW + timedelta(minutes=61)).ok


# Throttling --------------------------------------------------------------------------------

def test_429_with_retry_after_holds_the_whole_host(site, crawl, db):
    site.page("/busy", "slow down", status=429, kind="text/plain", Retry_After=120)
    site.page("/other", PAGE)
    first = crawl(site.url + "/busy")
    assert (first.status, first.retry_after) == (429, 120.0)
    assert storage.get_host(db, site.url).blocked_until == "2026-11-01T12:02:00.000+00:00"
    held = crawl(site.url + "/other", now=NOW + timedelta(seconds=60))
    assert held.skipped == "throttled" and held.retry_after == 60.0
    assert site.hits("/other") == 0
    assert crawl(site.url + "/other", now=NOW + timedelta(seconds=121)).ok
    assert storage.get_host(db, site.url).throttles == 0  # a normal answer ends the throttling


def test_503_without_retry_after_backs_off_more_each_time(site, crawl, db):
    site.page("/down", "", status=503)
    pauses, now = [], NOW
    for _ in range(3):
        assert crawl(site.url + "/down", now=now).status == 503
        blocked = datetime.fromisoformat(storage.get_host(db, site.url).blocked_until)
        pauses.append((blocked - now).total_seconds())
        now = blocked
    assert pauses == [60.0, 120.0, 240.0]


# Per-host limits --------------------------------------------------------------------------

def test_requests_to_one_host_never_exceed_host_connections(site, make_settings, db):
    site.page("/robots.txt", "", status=404)
    for i in range(6):
        site.page(f"/s{i}", PAGE)
    settings = make_settings(network={"allow_private": True, "host_delay": 0, "host_connections": 2})
    site.delay = 0.3
    with open_client(settings.network) as client:
        crawler = Crawler(settings.network, client)
        crawler.fetch(db, site.url + "/robots.txt", NOW)  # robots.txt loaded before the threads start

        def fetch(path):
            assert crawler.fetch(storage.open_db(settings.database), site.url + path, NOW).ok

        threads = [threading.Thread(target=fetch, args=(f"/s{i}",)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert site.most_in_flight == 2


def test_crawl_delay_spaces_the_requests_to_a_host(site, crawl, db):
    site.page("/robots.txt", "User-agent: *\nCrawl-delay: 1.5\n", kind="text/plain")
    site.page("/story", PAGE)
    crawl(site.url + "/story", host_delay=0.1)
    booked = storage.get_host(db, site.url).next_slot_at
    crawl(site.url + "/story", host_delay=0.1)  # waits for the slot booked by the first
    # Each request books the host's next slot: at least Crawl-delay (longer than host_delay) later.
    assert storage.get_host(db, site.url).next_slot_at - booked >= 1.5


def test_an_address_the_guard_refuses_is_reported_as_such_and_nothing_is_cached(site, make_settings):
    from pipeline import cycle

    site.page("/feed.xml", '<rss version="2.0"><channel></channel></rss>', kind="application/rss+xml")
    source = [{"name": "local", "kind": "rss", "url": site.url + "/feed.xml"}]
    refused = make_settings(sources=source, network={"host_delay": 0})  # loopback not allowed
    [poll] = cycle.poll_sources(refused)
    assert "loopback" in poll["error"] and "allow_hosts" in poll["error"] and "robots" not in poll["error"]
    db = storage.open_db(refused.database)
    assert storage.get_host(db, site.url).robots_expires_at is None

    fixed = make_settings(sources=source, network={"host_delay": 0, "allow_hosts": [f"127.0.0.1:{site.port}"]})
    [poll] = cycle.poll_sources(fixed)  # the change counts at once, not an hour later
    assert poll["error"] is None and poll["status"] == 200


def test_workers_sharing_an_archive_on_postgresql_share_each_host_s_connections(site, make_settings, postgres_url):
    # Three crawlers, as three workers would have, each with its own connection to the archive on the server:
    # host_connections = 2 holds for all of them together (per process, it would allow 6).
    site.page("/robots.txt", "", status=404)
    for i in range(9):
        site.page(f"/s{i}", PAGE)
    settings = make_settings(network={"allow_private": True, "host_delay": 0, "host_connections": 2})
    site.delay = 0.3
    with open_client(settings.network) as client:
        workers = [Crawler(settings.network, client) for _ in range(3)]
        workers[0].fetch(storage.open_db(postgres_url), site.url + "/robots.txt", NOW)

        def fetch(n):
            assert workers[n % 3].fetch(storage.open_db(postgres_url), site.url + f"/s{n}", NOW).ok

        threads = [threading.Thread(target=fetch, args=(n,)) for n in range(9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert site.most_in_flight == 2
    assert storage.open_db(postgres_url).execute("SELECT count(*) FROM host_requests").fetchone()[0] == 0
