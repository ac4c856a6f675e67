"""Polite fetching for the stages: robots.txt, throttled hosts, per-host concurrency and spacing.

A Crawler serves one process (a check batch, a poll) and may be shared by its
threads. What every process must honour lives in the database's `hosts` table:
the cached robots.txt of each origin, how long a throttling host asked to be left
alone, and when its next request may start; on a shared PostgreSQL archive, also the
requests in flight to each origin (`host_requests`), so that `host_connections` holds
across workers. The requests themselves go through pipeline.fetch.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator
from urllib.parse import urlsplit

import httpx

import storage
from pipeline.config import NetworkSettings, ScheduleSettings
from pipeline.fetch import ARCHIVE_TYPES, BINARY_TYPES, THROTTLED, decode_body, fetch_url
from pipeline.models import Fetched, from_iso, to_iso
from pipeline.robots import ALLOW_ALL, DISALLOW_ALL, MAX_BYTES, RobotsRules, parse_robots, product_token
from pipeline.schedule import throttle_delay


def origin_of(url: str) -> str:
    """scheme://host[:port] of url: the unit of robots.txt, throttling and politeness."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port not in (None, default) else "")


def robots_rules(status: int | None, text: str | None, user_agent: str) -> RobotsRules:
    """The rules a robots.txt answer sets: its text if it was served, none after a 4xx (RFC 9309),
    everything disallowed when it could not be fetched (5xx, 429, network error)."""
    if status is not None and 200 <= status < 300:
        return parse_robots(text or "", user_agent)
    if status is not None and 400 <= status < 500 and status != 429:
        return ALLOW_ALL
    return DISALLOW_ALL


@dataclass
class _Host:
    """What this process knows of a host: its robots rules, until when they hold, and its throttling."""

    rules: RobotsRules | None  # None: not loaded (robots.txt not needed so far)
    robots_expires: datetime | None
    blocked_until: datetime | None
    throttles: int


class Crawler:
    """Fetches for one process, politely: see the module's docstring."""

    def __init__(self, network: NetworkSettings, client: httpx.Client, turn: threading.Lock | None = None,
                 schedule: ScheduleSettings = ScheduleSettings()):
        self.network, self.client, self.schedule = network, client, schedule
        self._turn = turn  # held by the calling thread except while it waits on the network
        self._hosts: dict[str, _Host] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._guard = threading.Lock()

    def fetch(self, db, url: str, now: datetime, robots: bool = True, **options) -> Fetched:
        """fetch_url(url, **options) unless robots.txt forbids it or its host asked us to wait:
        then a result with skipped set ("robots", "throttled") and no request sent."""
        origin = origin_of(url)
        with self._lock(origin):
            host = self._host(db, origin, now, robots)
        if host.blocked_until and host.blocked_until > now:
            return _skipped(url, now, "throttled",
                            f"{origin} asked to be left alone until {to_iso(host.blocked_until)}",
                            (host.blocked_until - now).total_seconds())
        if robots and not host.rules.allows(url):
            agent = product_token(self.network.user_agent)
            return _skipped(url, now, "robots", f"{url}: robots.txt of {origin} disallows it for {agent!r}")
        start = self._book_slot(db, origin, self._spacing(host if robots else None))
        with self._shared_slot(db, origin), self._released(), self._slot(origin):
            if start > time.time():
                time.sleep(start - time.time())
            fetched = fetch_url(self.client, url, self.network, now, **options)
        self._note_throttling(db, origin, host, fetched, now)
        return fetched

    # Hosts -------------------------------------------------------------------------------

    @contextmanager
    def _lock(self, origin: str) -> Iterator[None]:
        # One thread loads an origin's robots.txt while the others wait for it.
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            yield

    def _host(self, db, origin: str, now: datetime, robots: bool) -> _Host:
        host = self._hosts.get(origin)
        if host is None:
            stored = storage.get_host(db, origin)
            host = _Host(None, None, stored.blocked_until and from_iso(stored.blocked_until), stored.throttles)
            if stored.robots_expires_at and from_iso(stored.robots_expires_at) > now:
                host.rules = robots_rules(stored.robots_status, stored.robots_txt, self.network.user_agent)
                host.robots_expires = from_iso(stored.robots_expires_at)
            self._hosts[origin] = host
        if robots and (host.rules is None or host.robots_expires <= now):
            host.rules, host.robots_expires = self._load_robots(db, origin, now)
        return host

    def _load_robots(self, db, origin: str, now: datetime) -> tuple[RobotsRules, datetime]:
        fetched = fetch_url(self.client, origin + "/robots.txt", self.network, now,
                            refuse=BINARY_TYPES + ARCHIVE_TYPES)
        storage.record_fetch(db, fetched)
        if fetched.blocked:
            # The address is refused, not robots.txt: nothing is cached, so a change of allow_hosts counts
            # at the next run, and the request itself goes on to be refused with the real reason.
            return ALLOW_ALL, now
        status = fetched.status if fetched.ok or fetched.error == f"HTTP {fetched.status}" else None
        text = decode_body(fetched.body[:MAX_BYTES], fetched.content_type) if fetched.ok else None
        rules = robots_rules(status, text, self.network.user_agent)
        expires = now + timedelta(seconds=self.network.robots_retry if rules is DISALLOW_ALL
                                  else self.network.robots_ttl)
        storage.save_robots(db, origin, status, text, now, expires)
        return rules, expires

    # Politeness --------------------------------------------------------------------------

    @contextmanager
    def _released(self) -> Iterator[None]:
        # Other threads' checks use the database while this one waits for its host and its response.
        if self._turn is None:
            yield
            return
        self._turn.release()
        try:
            yield
        finally:
            self._turn.acquire()

    @contextmanager
    def _slot(self, origin: str) -> Iterator[None]:
        with self._guard:
            slot = self._slots.setdefault(origin, threading.BoundedSemaphore(self.network.host_connections))
        with slot:
            yield

    @contextmanager
    def _shared_slot(self, db, origin: str) -> Iterator[None]:
        # On an archive that several workers share (PostgreSQL), host_connections holds across them: each
        # request is counted in the archive while in flight, and waits (the database turn released) for a
        # place. On SQLite, one machine's archive, the per-process limit (_slot) is the one that applies.
        if not storage.on_server(db):
            yield
            return
        hold = self.network.total_timeout + self.network.connect_timeout  # a dead process's place frees then
        pause = 0.02
        while (request := storage.take_host_request(db, origin, time.time(), self.network.host_connections,
                                                    hold)) is None:
            with self._released():
                time.sleep(pause)
            pause = min(pause * 2, 0.5)
        try:
            yield
        finally:
            storage.end_host_request(db, request)

    def _spacing(self, host: _Host | None) -> float:
        crawl_delay = host.rules.crawl_delay if host and host.rules else None
        return max(self.network.host_delay, min(crawl_delay or 0.0, self.network.max_crawl_delay))

    def _book_slot(self, db, origin: str, spacing: float) -> float:
        # Wall-clock time, not the stages' `now`: this is about real requests hitting a real server.
        if spacing <= 0:
            return 0.0
        return storage.reserve_host_slot(db, origin, time.time(), spacing)

    def _note_throttling(self, db, origin: str, host: _Host, fetched: Fetched, now: datetime) -> None:
        if fetched.status in THROTTLED:
            host.throttles += 1
            delay = throttle_delay(host.throttles, fetched.retry_after, self.schedule)
            host.blocked_until = now + timedelta(seconds=delay)
            storage.throttle_host(db, origin, host.blocked_until)
        elif host.throttles and (fetched.ok or fetched.not_modified):
            host.throttles, host.blocked_until = 0, None
            storage.clear_throttle(db, origin)


def _skipped(url: str, now: datetime, reason: str, error: str, retry_after: float | None = None) -> Fetched:
    return Fetched(url=url, final_url=url, status=None, at=now, elapsed_ms=0, error=error,
                   skipped=reason, retry_after=retry_after)
