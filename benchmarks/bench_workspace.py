"""The workspace on a large archive: page latencies (p50/p95) of `redline serve` over real HTTP, the peak
memory of its process, and `redline stats`, beside the bare SQLite query each page rests on.

The archive is generated (REDLINE_BENCH_VERSIONS versions, default one million, about five per article)
and kept under .airflow/bench/ for the next run. It is written with plain sqlite3 rather than through
the pipeline: checking a million pages would take hours, and what is measured here is reading.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

import storage
from pipeline.extract import hash_text
from storage.sqlite import add_functions, pack_text

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = int(os.environ.get("REDLINE_BENCH_VERSIONS", "1000000"))
REQUESTS = int(os.environ.get("REDLINE_BENCH_REQUESTS", "60"))
SOURCES = ("Harbour Herald", "Valley Times", "Wire Service", "City Desk", "Morning Post", "Evening Star",
           "Coast Gazette", "Capital Report")
WORDS = ("council river flood toll rescuers officials said homes bridge mayor budget storm police hospital "
         "school election minister court report vote residents shelter emergency fire water road contract "
         "harbour protest company workers strike union market prices housing rain wind power outage").split()
START = datetime(2026, 9, 1, tzinfo=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _text(rng: random.Random, toll: int, homes: int) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(70))
    return (f"At least {toll} people were killed and {homes} homes destroyed, officials said. {body.capitalize()}. "
            f"The {rng.choice(WORDS)} {rng.choice(WORDS)} was closed on Monday.")


def generate(path: Path, versions: int) -> None:
    """An archive of about versions versions: articles with 1 to 9 versions each (5 on average), a diff and
    one or two changes per update (20% disclosed, 40% timestamp only, 40% stealth), alerts for some figure
    changes."""
    storage.open_db(path).close()  # the schema, by Redline's own migrations
    rng = random.Random(7)
    connection = sqlite3.connect(path)
    add_functions(connection)  # the full-text index reads each text through redline_text
    connection.execute("PRAGMA foreign_keys = OFF")  # articles go in last, with their counts
    connection.executemany("INSERT INTO sources (id, name, kind, location) VALUES (?, ?, 'rss', ?)",
                           [(i + 1, name, f"https://{i}.example/feed.xml") for i, name in enumerate(SOURCES)])
    version_rows, diff_rows, change_rows, alert_rows, article_rows = [], [], [], [], []
    stored = article = version_id = diff_id = change_id = 0

    def flush() -> None:
        connection.executemany("INSERT INTO versions (id, article_id, number, fetched_at, text_hash, title, text, text_base, "
                               "word_count, modified_at, notices, extractor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', 'bench')",
                               version_rows)
        connection.executemany("INSERT INTO diffs (id, article_id, from_number, to_number, stats, ops, created_at, disclosed, "
                               "bumped, disclosures) VALUES (?, ?, ?, ?, ?, '[]', ?, ?, ?, '[]')", diff_rows)
        connection.executemany("INSERT INTO changes (id, diff_id, article_id, seq, kind, before, after, context, subject, "
                               "detail, delta, detected_at, at_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               change_rows)
        connection.executemany("INSERT INTO alerts (change_id, rule, channel, status, attempts, created_at, sent_at) "
                               "VALUES (?, 'figures', 'json://127.0.0.1/sink', ?, 1, ?, ?)", alert_rows)
        connection.executemany("INSERT INTO articles (id, canonical_url, source_id, first_seen_at, title, status, "
                               "last_changed_at, versions, changes_found, changes, first_fetched_at, first_update_at, updates, "
                               "stealth_edits, bumped_edits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               article_rows)
        for rows in (version_rows, diff_rows, change_rows, alert_rows, article_rows):
            rows.clear()

    while stored < versions:
        article += 1
        count = min(1 + (article * 7) % 9, versions - stored)
        seen = START + timedelta(minutes=article * 0.4)
        toll, homes, title = rng.randint(1, 40), rng.randint(10, 900), f"{rng.choice(WORDS).title()} story {article}"
        found, times, stealth, bumps = 0, [], 0, 0
        for number in range(1, count + 1):
            at = seen + timedelta(hours=(number - 1) * rng.choice((0.5, 2, 6, 30)))
            times.append(_iso(at))
            version_id += 1
            if number > 1:
                before, toll = toll, toll + rng.randint(1, 9)
                diff_id += 1
                disclosed, bumped = (True, False) if (draw := rng.random()) < 0.2 else (False, draw < 0.6)
                diff_rows.append((diff_id, article, number - 1, number, json.dumps(
                    {"words_added": 4, "words_removed": 3, "figures_changed": 1}), _iso(at), int(disclosed), int(bumped)))
                context = f"At least {toll} people were killed and {homes} homes destroyed, officials said."
                change_id += 1
                change_rows.append((change_id, diff_id, article, 0, "figure", f"at least {before}", f"at least {toll}",
                                    context, "people killed", "value", toll - before, _iso(at), number))
                found += 1
                if rng.random() < 0.05:
                    alert_rows.append((change_id, rng.choice(("sent", "sent", "failed")), _iso(at), _iso(at)))
                bumps += bumped
                if not disclosed and not bumped:
                    stealth += 1
                    change_id += 1
                    change_rows.append((change_id, diff_id, article, 1, "stealth_edit", None,
                                        "changed without notice: 1 sentence(s) edited", context, None, None, None,
                                        _iso(at), number))
                    found += 1
            text = _text(rng, toll, homes)
            if number == 1:
                first = text
            packed = pack_text(text, None if number == 1 else first)  # a later text packed against the first
            version_rows.append((version_id, article, number, _iso(at), hash_text(text), title, packed,
                                 None if number == 1 else 1, len(text.split()), _iso(at)))
        stored += count
        article_rows.append((article, f"https://{article % len(SOURCES)}.example/news/{article}",
                             article % len(SOURCES) + 1, _iso(seen), title, "gone" if article % 97 == 0 else "active",
                             _iso(at), count, found, count - 1, times[0], times[1] if count > 1 else None, count - 1, stealth, bumps))
        if len(version_rows) >= 20000:
            flush()
    flush()
    # The articles went in after their changes, so the triggers kept no counts per source and kind: sum them
    # up once, as migration 8 does for an existing archive.
    connection.execute("INSERT INTO change_counts SELECT a.source_id, c.kind, count(*) FROM changes c "
                       "JOIN articles a ON a.id = c.article_id GROUP BY 1, 2")
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


def archive_path(versions: int = VERSIONS) -> Path:
    """The generated archive of about versions versions, made when missing or made by an older schema."""
    folder = ROOT / ".airflow" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"workspace-{versions}.db"
    marker = path.with_suffix(".ready")
    schema = hashlib.sha256((ROOT / "storage" / "migrations.py").read_bytes() + Path(__file__).read_bytes()).hexdigest()
    if not marker.exists() or marker.read_text() != schema:  # made by another schema or generator: made again
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        generate(path, versions)
        marker.write_text(schema)
        print(f"generated {path.name} in {time.perf_counter() - started:.0f} s, {path.stat().st_size / 2**20:,.0f} MiB")
    return path


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"


def _bare(path: Path, sql: str, params_list: list) -> list[float]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    samples = []
    for params in params_list:
        started = time.perf_counter()
        connection.execute(sql, params).fetchall()
        samples.append(time.perf_counter() - started)
    connection.close()
    return samples


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def postgres_copy(path: Path) -> str | None:
    """The URL of a copy of the archive on the local PostgreSQL server (made once, by `migrate-archive`, and
    kept as the database redline_bench_<versions>); None, saying why, when there is no server."""
    from pipeline import maintenance

    server = os.environ.get("REDLINE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    name = f"redline_bench_{VERSIONS}"
    try:
        import psycopg

        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=3) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                admin.execute(f"CREATE DATABASE {name}")
    except Exception as exc:  # noqa: BLE001 - no server: the SQLite figures stand alone
        print(f"(no PostgreSQL at {server}: {exc}; its column is left out)")
        return None
    url = f"{server}/{name}"
    copied = storage.open_db(url)
    done = storage.count_rows(copied)["versions"] == VERSIONS  # the last table copied is tiny: a rerun resumes it
    copied.close()
    if not done:  # resumes an interrupted copy; a finished one is left as it is
        started = time.perf_counter()
        for _ in maintenance.migrate_archive(path, url, batch_size=5000):
            pass
        print(f"copied the archive into PostgreSQL ({name}) in {time.perf_counter() - started:.0f} s")
    return url


def pages_to_read(articles: int, changed: list[int], rng: random.Random) -> dict[str, list[str]]:
    sorts = list(storage.SORTS)
    return {
        "article list": [f"/articles?sort={rng.choice(sorts)}&page={rng.randint(1, 20)}" for _ in range(REQUESTS)],
        "list, filtered": [rng.choice((f"/articles?source={SOURCES[rng.randrange(8)]}", "/articles?figure=1",
                                       "/articles?stealth=1", "/articles?gone=1&sort=changes"))
                           for _ in range(REQUESTS)],
        "list, text filter": [f"/articles?q=%22story+{rng.randint(1, articles)}%22" for _ in range(REQUESTS // 2)]
        + [f"/articles?q={rng.choice(WORDS)}" for _ in range(5)],
        "article page": [f"/articles/{a}" for a in changed],
        "diff page": [f"/articles/{a}/diff" for a in changed],
        "search": [f"/search?q={rng.choice(WORDS)}+{rng.choice(WORDS)}" for _ in range(REQUESTS)],
        "search, phrase": [f"/search?q=%22story+{rng.randint(1, articles)}%22" for _ in range(REQUESTS)],
        "overview": ["/"] * 10,
        "stats page": ["/stats"] * 5,
    }


def read_pages(config: Path, pages: dict[str, list[str]], env: dict | None = None, port: int = 8059) -> dict:
    """Serve the archive config names with `redline serve` and read every page: name → (samples); also
    `redline stats` (3 runs, whole process) and the server's peak RSS."""
    redline = str(Path(sys.executable).with_name("redline"))
    environment = {**os.environ, **(env or {})}
    server = subprocess.Popen([redline, "serve", "--config", str(config), "--port", str(port)],
                              stdout=subprocess.DEVNULL, env=environment)
    url = f"http://127.0.0.1:{port}"
    results = {}
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/articles", timeout=60)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=120) as client:
            for name, paths in pages.items():
                samples = []
                for page in paths:
                    started = time.perf_counter()
                    response = client.get(page)
                    samples.append(time.perf_counter() - started)
                    if response.status_code != 200:
                        raise RuntimeError(f"{page}: {response.status_code} {response.text[:300]}")
                results[name] = samples
        stats = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([redline, "stats", "--config", str(config)], check=True, stdout=subprocess.DEVNULL,
                           env=environment)
            stats.append(time.perf_counter() - started)
        results["redline stats"] = stats
        results["peak RSS MiB"] = _peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(10)
    return results


def main() -> None:
    path = archive_path()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    articles, total = db.execute("SELECT count(*) FROM articles").fetchone()[0], db.execute(
        "SELECT count(*) FROM versions").fetchone()[0]
    changed = [row[0] for row in db.execute("SELECT id FROM articles WHERE versions > 1 ORDER BY random() LIMIT ?",
                                            [REQUESTS])]
    db.close()
    print(f"archive: {articles:,} articles, {total:,} versions, {path.stat().st_size / 2**30:.2f} GiB")
    config = path.with_suffix(".toml")
    config.write_text(f'[database]\npath = "{path}"\n', encoding="utf-8")
    rng = random.Random(11)
    pages = pages_to_read(articles, changed, rng)
    runs = {"SQLite": read_pages(config, pages)}
    url = postgres_copy(path)
    if url:
        runs["PostgreSQL"] = read_pages(config, pages, {"REDLINE_DATABASE_URL": url})
    print(f"{'page':<16} " + "  ".join(f"{name:^34}" for name in runs))
    for name in pages:
        print(f"{name:<16} " + "  ".join(f"{_percentiles(run[name]):<34}" for run in runs.values())
              + f"  ({len(pages[name])} requests)")
    stats = [f"best {min(run['redline stats']):.2f} s, worst {max(run['redline stats']):.2f} s" for run in runs.values()]
    print(f"{'redline stats':<16} " + "  ".join(f"{line:<34}" for line in stats) + "  (whole process, 3 runs)")
    print(f"{'server peak RSS':<16} " + "  ".join(f"{run['peak RSS MiB']:<34.0f}" for run in runs.values()) + "  MiB")
    print("bare baseline (the page's core query alone, sqlite3, same archive):")
    offsets = [[rng.randint(0, 19) * 50] for _ in range(REQUESTS)]
    print(f"{'  list query':<16} {_percentiles(_bare(path, 'SELECT id, canonical_url, title FROM articles ORDER BY changes_found DESC, id DESC LIMIT 50 OFFSET ?', offsets))}")
    print(f"{'  versions query':<16} {_percentiles(_bare(path, 'SELECT number, fetched_at, title FROM versions WHERE article_id = ?', [[a] for a in changed]))}")
    print(f"{'  fts query':<16} {_percentiles(_bare(path, 'SELECT rowid FROM versions_fts WHERE versions_fts MATCH ? ORDER BY rowid DESC LIMIT 20', [[rng.choice(WORDS)] for _ in range(REQUESTS)]))}")


if __name__ == "__main__":
    main()
