"""Helpers the benchmarks share: local servers, CPU and wall clocks, bare baselines, report lines."""

from __future__ import annotations

import resource
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable

import httpx


def serve(pages: dict[str, bytes]) -> ThreadingHTTPServer:
    """Serve fixed pages by path on 127.0.0.1 (404 for the rest), in a thread of this process."""

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
    """CPU time of this process so far (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) that work() took."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    work()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def bare_gets(urls: Iterable[str], headers: Callable[[str], dict] | None = None) -> None:
    """The baseline: a plain httpx GET of each URL, one client, nothing else."""
    with httpx.Client() as client:
        for url in urls:
            client.get(url, headers=headers(url) if headers else None)


def peak_rss_mib() -> float:
    """The largest resident set this process has had, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
