"""Shared fixtures. Airflow's environment is set here, before anything imports airflow."""

from __future__ import annotations

import atexit
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
def db(tmp_path):
    """A fresh, migrated database for each test."""
    return storage.open_db(tmp_path / "redline.db")


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
