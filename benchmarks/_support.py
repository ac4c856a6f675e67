"""Helpers the benchmarks share: local servers, CPU and wall clocks, bare baselines, report lines."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterable

import httpx

ROOT = Path(__file__).resolve().parent.parent


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


# A child's peak RSS starts at its parent's (Linux carries it over fork and exec): the command is started
# by this small launcher, not by the benchmark's large process, and its own usage is read with wait4.
_LAUNCHER = ("import os, sys; pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ, file_actions="
             "[(os.POSIX_SPAWN_OPEN, 1, sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]); "
             "_, status, usage = os.wait4(pid, 0); print(status, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)")


def measured(command: list[str], output: str | os.PathLike = os.devnull) -> tuple[float, float]:
    """Run a command in the repository, its standard output written to output; its own (CPU seconds, peak RSS MiB)."""
    launched = subprocess.run([sys.executable, "-c", _LAUNCHER, str(output), *command], cwd=ROOT, capture_output=True,
                              text=True, check=True)
    status, cpu, rss = launched.stdout.split()
    if status != "0":
        raise SystemExit(f"{' '.join(command)} failed ({status}): {launched.stderr[-2000:]}")
    return float(cpu), float(rss)
