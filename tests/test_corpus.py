"""Robustness: every file of the shared feed corpus, polled through a local server, crashes nothing.

Run with `pytest -m corpus`; it is part of the normal suite too. The corpus is read in place
from ../shared/corpus (beside the project) or from $REDLINE_CORPUS. When it is missing the
check is skipped with the path it looked at, except under CI=true, where a missing corpus
fails the run: CI must never pass without having polled it.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import storage
from conftest import ROOT
from pipeline import cycle
from pipeline.errors import FeedError
from pipeline.sources import filter_entries, read_source

pytestmark = pytest.mark.corpus
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
CORPUS = Path(os.environ.get("REDLINE_CORPUS") or ROOT.parent / "shared" / "corpus")


@pytest.fixture(scope="module")
def feed_files() -> list[Path]:
    folder = CORPUS / "feeds"
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        message = f"feed corpus not found at {folder} (set REDLINE_CORPUS to the corpus folder)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return files


class CorpusServer:
    """Serves the corpus files by their relative path; `damage` serves each cut in half instead."""

    def __init__(self, root: Path):
        self.damage = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                path = (root / self.path.lstrip("/")).resolve()
                body = path.read_bytes() if path.is_file() and root in path.parents else b""
                if server.damage:
                    body = body[: len(body) // 2]
                self.send_response(200 if path.is_file() else 404)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_every_corpus_feed_is_polled_without_a_crash(feed_files, make_settings):
    root = CORPUS / "feeds"
    server = CorpusServer(root.resolve())
    try:
        paths = [f.relative_to(root).as_posix() for f in feed_files]
        settings = make_settings(sources=[{"name": path, "kind": "rss", "url": f"{server.url}/{path}"}
                                          for path in paths])
        first = {poll["source"]: poll for poll in cycle.poll_sources(settings, NOW)}
        db = storage.open_db(settings.database)
        readable = 0
        for path in paths:
            poll, stored = first[path], storage.get_source(db, path)
            if poll["error"]:
                # An unreadable feed is recorded on its source, with a reason naming it.
                assert stored.last_error == poll["error"] and f"/{path}" in poll["error"]
                continue
            readable += 1
            try:
                expected = filter_entries(read_source((root / path).read_bytes(), "rss", f"{server.url}/{path}").entries)
            except FeedError:
                expected = []
            assert all(storage.owner_of(db, entry.url) for entry in expected), path
        assert readable > len(paths) // 2  # most of the corpus is readable feeds
        before = {a.canonical_url for a in storage.list_articles(db)}
        counts = storage.count_rows(db)

        server.damage = True  # every feed now arrives cut in half: nothing stored may be lost
        second = cycle.poll_sources(settings, NOW + timedelta(minutes=15))
        assert len(second) == len(paths)
        after = {a.canonical_url for a in storage.list_articles(db)}
        assert before <= after
        assert storage.count_rows(db)["sources"] == counts["sources"]
    finally:
        server.close()
