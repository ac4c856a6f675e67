"""Shared fixtures. Airflow's environment is set here, before anything imports airflow."""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Airflow reads its settings once, at import, so they are set here before any test imports it:
# a throwaway AIRFLOW_HOME per session keeps runs hermetic and the work tree clean.
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="redline-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW_CONFIG": str(ROOT / "airflow.cfg"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    "REDLINE_TASK_RETRIES": "0",  # dag.test() would really wait out retry delays
})
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)

import pytest  # noqa: E402

import storage  # noqa: E402
from demo.newsroom import Newsroom  # noqa: E402
from pipeline.config import settings_from_dict  # noqa: E402


class Site:
    """A small web site on 127.0.0.1 whose pages tests change at will; it records what it is asked.

    Each page is (status, headers, body), found by path, else by path without its query. A page with an ETag answers a matching If-None-Match
    with 304. `delay` holds every response that long, so tests can see how many overlap.
    """

    def __init__(self):
        self.pages: dict[str, tuple[int, dict, bytes]] = {}
        self.requests: list[str] = []
        self.delay = 0.0
        self.in_flight = self.most_in_flight = 0
        self.most_check_threads = 0  # a check batch's threads alive at once, as seen by the requests
        self.check_cpus: set[frozenset] = set()  # the CPUs each of those may run on
        self.collect_thresholds: set[tuple] = set()  # the garbage collector's, while those were alive
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                with site._lock:
                    site.requests.append(self.path)
                    site.in_flight += 1
                    site.most_in_flight = max(site.most_in_flight, site.in_flight)
                    checking = [thread for thread in threading.enumerate() if thread.name.startswith("redline-check")]
                    site.most_check_threads = max(site.most_check_threads, len(checking))
                    # (a thread is listed a moment before it knows its own id)
                    site.check_cpus.update(frozenset(os.sched_getaffinity(thread.native_id)) for thread in checking
                                           if thread.native_id is not None)
                    if checking:
                        site.collect_thresholds.add(gc.get_threshold())
                try:
                    time.sleep(site.delay)
                    missing = (404, {"Content-Type": "text/plain"}, b"not found")
                    # Like most sites, a page is the same whatever tracking query a link adds.
                    status, headers, body = site.pages.get(self.path) or site.pages.get(self.path.split("?")[0], missing)
                    if headers.get("ETag") and self.headers.get("If-None-Match") == headers["ETag"]:
                        status, body = 304, b""
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with site._lock:
                        site.in_flight -= 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def page(self, path: str, body, status: int = 200, kind: str = "text/html; charset=utf-8", **headers) -> None:
        """Serve body at path; keyword headers use _ for - (Retry_After=...)."""
        headers = {"Content-Type": kind, **{k.replace("_", "-"): str(v) for k, v in headers.items()}}
        self.pages[path] = (status, headers, body.encode() if isinstance(body, str) else body)

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        """Answer path with a redirect to location."""
        self.page(path, b"", status=status, Location=location)

    def hits(self, path: str) -> int:
        """How many times path was asked for."""
        return self.requests.count(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    """A Site on a free port of 127.0.0.1."""
    site = Site()
    yield site
    site.close()


@pytest.fixture
def db(request, tmp_path):
    """A fresh, migrated archive for each test: an SQLite file, or a database on the PostgreSQL test server
    for the tests of a module that runs on both (ARCHIVES below)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield storage.open_db(tmp_path / "redline.db")
        return
    archive = storage.open_db(request.getfixturevalue("postgres_url"))
    yield archive
    archive.close()


def pytest_generate_tests(metafunc):
    # A module with ARCHIVES = ("sqlite", "postgresql") runs each test that takes `db` on both archives,
    # but those that name their own (pytest.mark.parametrize("db", [...], indirect=True)).
    archives = getattr(metafunc.module, "ARCHIVES", None)
    named = any(mark.args and mark.args[0] == "db" for mark in metafunc.definition.iter_markers("parametrize"))
    if archives and "db" in metafunc.fixturenames and not named:
        metafunc.parametrize("db", archives, indirect=True)


# The PostgreSQL server the archive's server tests make their databases on (one per test, from a migrated
# template, dropped after). Without one they are skipped, saying why; under CI=true they fail instead.
POSTGRES = os.environ.get("REDLINE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


class PostgresServer:
    """The test server: makes and drops databases on it (names unique to this test session)."""

    def __init__(self, admin):
        self.admin, self.prefix, self.made = admin, f"redline_test_{os.getpid()}", 0
        self.template: str | None = None  # a migrated archive to copy fresh ones from

    def url(self, name: str) -> str:
        return POSTGRES.rsplit("/", 1)[0] + "/" + name

    def create(self, template: str | None = None) -> str:
        """A new database (a copy of template, if given); returns its URL."""
        self.made += 1
        name = f"{self.prefix}_{self.made}"
        self.admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    def drop(self, url: str) -> None:
        from storage.postgres import close_pools

        close_pools(url)  # this process's connections to it end first
        self.admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_server():
    """The PostgreSQL test server, and the URL of a migrated archive to copy fresh ones from."""
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except Exception as exc:  # psycopg missing, or no server there
        message = f"no PostgreSQL server at {POSTGRES} ({type(exc).__name__}: {str(exc).strip()[:120]})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI runs the PostgreSQL tests (set REDLINE_TEST_POSTGRES)")
        pytest.skip(f"{message}: the PostgreSQL archive tests need one (REDLINE_TEST_POSTGRES)")
    from storage.postgres import close_pools

    server = PostgresServer(admin)
    template = server.create()
    storage.open_db(template).close()
    close_pools(template)  # a template database must have no connections
    server.template = template.rsplit("/", 1)[1]
    yield server
    server.drop(template)
    admin.close()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a fresh, migrated archive database on the test server, dropped after the test."""
    url = postgres_server.create(template=postgres_server.template)
    yield url
    postgres_server.drop(url)


@pytest.fixture
def newsroom():
    """The demo newsroom, serving on a free port of 127.0.0.1."""
    with Newsroom() as room:
        yield room


@pytest.fixture
def make_settings(tmp_path):
    """Build Settings from a dict shaped like redline.toml, with a fresh database, private addresses
    allowed and no pause between requests to one host (the local servers need none)."""

    def build(**sections):
        sections.setdefault("database", {"path": str(tmp_path / "redline.db")})
        sections.setdefault("network", {"allow_private": True, "host_delay": 0})
        return settings_from_dict(sections, tmp_path / "redline.toml")

    return build


@pytest.fixture
def newsroom_settings(newsroom, make_settings):
    """Settings that follow the demo newsroom's feed and alert its sink of figure changes."""
    host = newsroom.url.split("://", 1)[1]
    return make_settings(
        sources=[{"name": "newsroom", "kind": "rss", "url": f"{newsroom.url}/feed.xml"}],
        alerts=[{"name": "figures", "kinds": ["figure", "headline", "correction"],
                 "urls": [f"json://{host}/_sink"]}],
    )


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database, migrated once per session (dag.test() needs it)."""
    from airflow.utils.db import upgradedb

    upgradedb()
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def dagbag():
    """Redline's DAG files, parsed the way the DAG processor parses them."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


# A page whose every field is hostile: the workspace must show it as text, never run it.
HOSTILE_TITLE = '<script>alert("title")</script> Toll "><img src=x onerror=alert(1)>'
HOSTILE_BYLINE = '"><img src=x onerror=alert(2)> Reporter'
HOSTILE_BODY = ('The council said <script>alert("body")</script> {n} people were hurt in the blast on Monday.',
                'A spokesman added "><img src=x onerror=alert(3)> that the area was closed.',
                'Residents were told to stay indoors until further notice from the fire service.')
HOSTILE_ALIAS = "javascript:alert(document.cookie)"


def hostile_page(n: int) -> str:
    from html import escape

    paragraphs = "".join(f"<p>{escape(p.format(n=n))}</p>" for p in HOSTILE_BODY)
    return (f"<!DOCTYPE html><html><head><title>{escape(HOSTILE_TITLE)}</title>"
            f'<meta name="author" content="{escape(HOSTILE_BYLINE)}"></head><body><article>'
            f"<h1>{escape(HOSTILE_TITLE)}</h1><p class=\"byline\">By {escape(HOSTILE_BYLINE)}</p>{paragraphs}"
            "</article></body></html>")


@pytest.fixture(scope="session")
def archive(tmp_path_factory):
    """An archive for the workspace's tests, built once by real cycles: the demo newsroom's stories over three
    rounds (the flood toll rising, alerts sent to its sink), its newsletter each round, and a hostile page in
    two versions, with a javascript: alias. Yields (settings, {"flood": id, "hostile": id, "newsroom": url})."""
    from datetime import timedelta

    from demo.run import send_newsletter
    from pipeline.cycle import run_cycle
    from pipeline.models import utcnow

    folder = tmp_path_factory.mktemp("archive")
    with Newsroom() as room:
        site = Site()
        try:
            site.page("/urls.txt", f"{site.url}/news/blast\n", kind="text/plain")
            site.page("/news/blast", hostile_page(12))
            host = room.url.split("://", 1)[1]
            settings = settings_from_dict({
                "database": {"path": str(folder / "redline.db")},
                "network": {"allow_private": True, "host_delay": 0},
                "sources": [{"name": "newsroom", "kind": "rss", "url": f"{room.url}/feed.xml"},
                            {"name": "wire", "kind": "urls", "url": f"{site.url}/urls.txt"},
                            {"name": "brief", "kind": "newsletter", "url": "mbox:newsletter.mbox"}],
                "alerts": [{"name": "figures", "kinds": ["figure"], "urls": [f"json://{host}/_sink"]}],
            }, folder / "redline.toml")
            start = utcnow() - timedelta(days=3)
            send_newsletter(folder, room, 0)
            run_cycle(settings, now=start)
            site.page("/news/blast", hostile_page(19))
            for round_ in (1, 2):
                room.advance()
                send_newsletter(folder, room, round_)
                run_cycle(settings, now=start + timedelta(days=round_), everything=True)
            db = storage.open_archive(settings)
            flood = storage.owner_of(db, f"{room.url}/news/flood-toll")
            hostile = storage.owner_of(db, f"{site.url}/news/blast")
            storage.add_aliases(db, {HOSTILE_ALIAS: f"{site.url}/news/blast"}, "redirect", start)
            db.close()
            yield settings, {"flood": flood, "hostile": hostile, "newsroom": room.url, "site": site.url}
        finally:
            site.close()


class Served:
    """An ASGI app served by uvicorn on a free port of 127.0.0.1, in a thread: real HTTP for tests."""

    def __init__(self, app):
        import socket

        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the workspace did not start")
            time.sleep(0.02)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def fundus() -> Path:
    """The shared corpus's news pages (fundus: mapping.csv and the pages), read in place: skipped when it is
    missing, except under CI=true, which must never pass without them."""
    from benchmarks.bench_newsroom import fundus_folder

    try:
        return fundus_folder()
    except SystemExit as missing:  # its message names the folder it looked in
        if os.environ.get("CI") == "true":
            pytest.fail(str(missing))
        pytest.skip(f"{missing} (set REDLINE_CORPUS)")
