"""A local newsroom of 1,000 real article pages, rechecked in rounds where 10% change.

The pages are the fundus corpus's real news pages (../shared/corpus/fundus, or the folder
given as the first argument or in $REDLINE_CORPUS), each served under several URLs to make
1,000 articles. Version 1 of an article is the real page; each later version inserts a
sentence into one of its body paragraphs (found through the corpus's JSON). The newsroom
runs in a child process (so the CPU figures are Redline's alone), answers If-None-Match
with 304, and lists every article in a Google News sitemap.

Rounds: the first check of everything (fetch, extract, store version 1); then rounds in
which 10% of the articles change and 90% do not; then a round where nothing changed.
Every round checks all 1,000 articles, as if all were due. The baselines are a bare
httpx GET of every page, and a bare conditional GET (If-None-Match) of every page.
"""

from __future__ import annotations

import csv
import gzip
import html
import json
import multiprocessing
import os
import re
import sys
import tempfile
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from benchmarks._support import bare_gets, peak_rss_mib, timed
from pipeline import cycle
from pipeline.config import settings_from_dict
from pipeline.errors import ExtractionError
from pipeline.extract import extract_article

ARTICLES = 1000
CHANGED_SHARE = 10  # one article in ten changes in each change round
CHANGE_ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent
_CANONICAL = re.compile(rb"<link[^>]+rel=[\"']?canonical[\"']?[^>]*>", re.IGNORECASE)


# The corpus as article pages ---------------------------------------------------------------

def body_paragraphs(folder: Path, row: dict) -> list[str]:
    truth = json.loads((folder / row["ground_truth_json"]).read_text(encoding="utf-8"))
    body = truth.get(row["parser_version"], {}).get("body") or {}
    return [p for section in body.get("sections", []) for p in section.get("paragraphs", [])]


def editable_pages(folder: Path) -> tuple[list[tuple[bytes, bytes, str]], int]:
    """(page, anchor, publisher) for every corpus page with a body paragraph whose opening occurs once in
    its UTF-8 HTML, and whose extracted text shows an edit inserted after that anchor; and how many
    pages were left out because extraction failed on them or did not show the edit."""
    pages, left_out = [], 0
    with open(folder / "mapping.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            page = gzip.decompress((folder / row["html"]).read_bytes())
            anchor = next((a for p in body_paragraphs(folder, row) if len(p) >= 120
                           for a in (p[:48].encode(), html.escape(p[:48], quote=False).encode())
                           if page.count(a) == 1), None)
            if anchor is None:
                continue
            try:
                shows_edit = extract_article(page).text != extract_article(version_of(page, anchor, 2)).text
            except (ExtractionError, ValueError):
                shows_edit = False
            if shows_edit:
                pages.append((page, anchor, row["publisher"]))
            else:
                left_out += 1
    return pages, left_out


def served(page: bytes, url: str) -> bytes:
    """The page as this newsroom serves it: its rel=canonical names the URL it is served at."""
    return _CANONICAL.sub(f'<link rel="canonical" href="{url}">'.encode(), page)


def version_of(page: bytes, anchor: bytes, number: int) -> bytes:
    """Version number of a page: the real page, then one more inserted sentence per version."""
    inserted = b"".join(f" Officials later revised the figure to {1000 * n + 39} people. ".encode()
                        for n in range(1, number))
    return page.replace(anchor, anchor + inserted, 1)


def changes_in(article: int, round_: int, share: int = CHANGED_SHARE) -> bool:
    """Whether an article changes in a round (round 0 is the first publication): one in `share` does."""
    return round_ > 0 and article % share == round_ % share


# The newsroom (in a child process) ---------------------------------------------------------

def _newsroom(folder: Path, articles: int | None, share: int, sites: bool, ready, stop) -> None:
    pages, left_out = editable_pages(folder)
    articles = articles or len(pages)
    state = {"round": 0, "requests": 0, "not_modified": 0, "bytes": 0}
    lock = threading.Lock()

    def version(article: int) -> int:
        return 1 + sum(changes_in(article, r, share) for r in range(1, state["round"] + 1))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self):
            parts = self.path.strip("/").split("/")
            if parts[0] == "_round":
                state.update(round=int(parts[1]), requests=0, not_modified=0, bytes=0)
                return self.send(200, b"ok", "text/plain")
            if parts[0] == "_stats":
                return self.send(200, json.dumps(state).encode(), "application/json")
            with lock:
                state["requests"] += 1
            if parts[0] == "robots.txt":
                return self.send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            if parts[0] == "news-sitemap.xml":
                return self.send(200, sitemap(self.server.server_address[1]), "application/xml")
            if parts[0] == "a" and len(parts) == 3 and int(parts[1]) < articles:
                article = int(parts[1])
                etag = f'"{article}-{version(article)}"'
                if self.headers.get("If-None-Match") == etag:
                    with lock:
                        state["not_modified"] += 1
                    return self.send(304, b"", None, ETag=etag)
                page, anchor, _ = pages[article % len(pages)]
                body = served(version_of(page, anchor, version(article)), f"http://{self.headers['Host']}{self.path}")
                with lock:
                    state["bytes"] += len(body)
                return self.send(200, body, "text/html; charset=utf-8", ETag=etag)
            self.send(404, b"not found", "text/plain")

        def send(self, status, body, kind, **headers):
            self.send_response(status)
            if kind:
                self.send_header("Content-Type", kind)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    def sitemap(port: int) -> bytes:
        urls = "".join(f"<url><loc>{story_url(i, port)}</loc><news:news><news:title>Story {i}"
                       "</news:title></news:news></url>" for i in range(articles))
        return (f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>').encode()

    def start() -> int:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server.server_address[1]

    port = start()
    # With sites, each publisher's pages are served from an origin of its own (a port), as they are on the web.
    publishers = sorted({pages[i % len(pages)][2] for i in range(articles)}) if sites else []
    ports = {publisher: start() for publisher in publishers}

    def story_url(article: int, main: int = port) -> str:
        return f"http://127.0.0.1:{ports.get(pages[article % len(pages)][2], main)}/a/{article}/story"

    ready.send((port, len(pages), left_out, articles, [story_url(i) for i in range(articles)]))
    stop.wait()


class Newsroom:
    """The child process serving the newsroom; `round(n)` publishes round n, `stats()` counts requests
    (and the bytes of the pages served) since then.

    articles: how many (default ARTICLES; None, one per corpus page); one in `share` changes each round;
    sites: each publisher's pages served from an origin of its own (else all from one)."""

    def __init__(self, folder: Path, articles: int | None = ARTICLES, share: int = CHANGED_SHARE,
                 sites: bool = False):
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        self._stop = context.Event()
        self._process = context.Process(target=_newsroom, args=(folder, articles, share, sites, send, self._stop),
                                        daemon=True)
        self._process.start()
        port, self.pages, self.left_out, self.articles, self.story_urls = receive.recv()
        self.url = f"http://127.0.0.1:{port}"

    def round(self, number: int) -> None:
        httpx.get(f"{self.url}/_round/{number}")

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/_stats").json()

    def write_config(self, path: Path, archive: Path | None = None, sources: bool = True) -> Path:
        """A redline.toml that follows this newsroom's sitemap (unless not sources), its archive at `archive`
        (default: left to [database]'s default or $REDLINE_DATABASE_URL)."""
        database = f'[database]\npath = "{archive}"\n\n' if archive else ""
        source = f'\n[[sources]]\nname = "newsroom"\nkind = "sitemap"\nurl = "{self.url}/news-sitemap.xml"\n'
        path.write_text(f'{database}[network]\nallow_private = true\nhost_delay = 0\n{source if sources else ""}',
                        encoding="utf-8")
        return path

    def close(self) -> None:
        self._stop.set()
        self._process.join(5)


# The benchmark ---------------------------------------------------------------------------

def check_everything(settings) -> dict:
    return cycle.sum_counts([cycle.check_batch(settings, batch)
                             for batch in cycle.plan_batches(settings, everything=True)])


def fundus_folder(corpus: str | None = None) -> Path:
    """The corpus's fundus pages: the folder given, $REDLINE_CORPUS, or ../shared/corpus."""
    folder = Path(corpus or os.environ.get("REDLINE_CORPUS") or ROOT.parent / "shared" / "corpus") / "fundus"
    if not (folder / "mapping.csv").is_file():
        raise SystemExit(f"{folder}: no fundus corpus here (expected mapping.csv; pass the corpus folder)")
    return folder


def main(corpus: str | None = None) -> None:
    room = Newsroom(fundus_folder(corpus))
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_from_dict({
                "database": {"path": str(Path(tmp) / "bench.db")},
                "network": {"allow_private": True, "host_delay": 0},  # the newsroom is ours: no pause
                "sources": [{"name": "newsroom", "kind": "sitemap", "url": room.url + "/news-sitemap.xml"}],
            })
            poll = timed(lambda: cycle.poll_sources(settings))
            rows.append(("poll the news sitemap (1,000 URLs)", *poll, 1, room.stats()["requests"], None))
            plan = [(0, "first check (fetch, extract, store v1)")]
            plan += [(n, f"round {n}: 10% changed, 90% not") for n in range(1, CHANGE_ROUNDS + 1)]
            plan += [(CHANGE_ROUNDS, "nothing changed (all 304)")]  # the last round, checked again
            for published, label in plan:
                room.round(published)
                outcome = {}
                wall, cpu = timed(lambda: outcome.update(check_everything(settings)))
                rows.append((label, wall, cpu, ARTICLES, room.stats()["requests"], outcome))
            # The same again in one thread: on loopback, where answers are instant, threads only cost CPU.
            alone = replace(settings, network=replace(settings.network, max_connections=1))
            room.round(CHANGE_ROUNDS)
            outcome = {}
            wall, cpu = timed(lambda: outcome.update(check_everything(alone)))
            rows.append(("nothing changed, max_connections = 1", wall, cpu, ARTICLES, room.stats()["requests"],
                         outcome))
        urls = [f"{room.url}/a/{i}/story" for i in range(ARTICLES)]
        room.round(CHANGE_ROUNDS)
        rows.append(("baseline: bare httpx GET", *timed(lambda: bare_gets(urls)), ARTICLES,
                     room.stats()["requests"], None))
        etags = {url: f'"{i}-{1 + sum(changes_in(i, r) for r in range(1, CHANGE_ROUNDS + 1))}"'
                 for i, url in enumerate(urls)}
        room.round(CHANGE_ROUNDS)
        rows.append(("baseline: bare conditional GET (304)",
                     *timed(lambda: bare_gets(urls, lambda url: {"If-None-Match": etags[url]})),
                     ARTICLES, room.stats()["requests"], None))
    finally:
        room.close()
    report(rows, room)
    verify(rows)


def verify(rows) -> None:
    """The claim under test: an unchanged article costs one request (robots.txt was read once, at
    the poll) and no extraction (a 304 never reaches it). A broken claim fails the run."""
    for label, _, _, _, requests, outcome in rows:
        if outcome is None or label.startswith("first"):
            continue
        changed = ARTICLES // CHANGED_SHARE if label.startswith("round") else 0
        expected = {"new_version": changed, "not_modified": ARTICLES - changed}
        if requests != ARTICLES or {k: outcome.get(k, 0) for k in expected} != expected:
            raise SystemExit(f"{label}: {requests} requests and {outcome} (expected {ARTICLES} and {expected})")
    print("  checked: every round cost exactly one request per article; unchanged ones were 304s, never extracted")


def report(rows, room: Newsroom) -> None:
    print(f"{ARTICLES} articles from {room.pages} fundus pages ({room.left_out} left out: extraction failed "
          "or did not show the edit); per check (per request for the baselines):")
    print(f"  {'run':42s} {'requests/s':>10s} {'CPU ms':>8s} {'wall ms':>8s} {'requests':>9s}  outcomes")
    for label, wall, cpu, count, requests, outcome in rows:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(outcome.items())) if outcome else ""
        print(f"  {label:42s} {requests / wall:10.0f} {cpu / count * 1000:8.2f} {wall / count * 1000:8.2f} "
              f"{requests:9d}  {detail}")
    print(f"  peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
