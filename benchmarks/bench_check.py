"""Cost of checking articles that did not change, against a bare HTTP GET of the same pages.

A local newsroom serves N article pages (the demo stories, repeated under distinct
URLs). Redline checks them all once (first versions), then again: the second round
is the common case, where nothing changed. The baseline is a plain httpx GET of each
page, with no database, extraction or scheduling.
"""

from __future__ import annotations

import resource
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from demo.newsroom import load_stories, render_article
from pipeline import cycle
from pipeline.config import settings_from_dict

ARTICLES = 300


def serve(pages: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every response

        def do_GET(self):
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8" if body else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    work()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def main(articles: int = ARTICLES) -> None:
    versions = [(story.slug, version) for story in load_stories() for version in story.versions[:1]]
    pages = {}
    for i in range(articles):
        slug, version = versions[i % len(versions)]
        pages[f"/news/{i}/{slug}"] = render_article(version, slug, "http://127.0.0.1").encode()
    pages["/list.txt"] = "\n".join(pages).encode()
    server = serve(pages)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_dict({
            "database": {"path": str(Path(tmp) / "bench.db")}, "network": {"allow_private": True},
            "sources": [{"name": "bench", "kind": "urls", "url": base + "/list.txt"}],
        })
        cycle.poll_sources(settings)

        def check_all():
            for batch in cycle.plan_batches(settings, everything=True):
                cycle.check_batch(settings, batch)

        first = timed(check_all)
        unchanged = timed(check_all)

    def bare_gets():
        with httpx.Client() as client:
            for path in pages:
                client.get(base + path)

    baseline = timed(bare_gets)
    server.shutdown()
    print(f"{articles} articles, one check each (wall ms per article / CPU ms per article):")
    for label, (wall, cpu) in (("first check (extract + store v1)", first),
                               ("unchanged re-check", unchanged),
                               ("baseline: bare httpx GET", baseline)):
        print(f"  {label:34s} {wall / articles * 1000:7.2f} wall  {cpu / articles * 1000:7.2f} CPU"
              f"  ({articles / wall:6.0f} checks/s)")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
