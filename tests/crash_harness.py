"""Crash harness: `redline run` killed with SIGKILL at random moments, over and over, against a local
newsroom whose articles change between rounds, then compared with a run that was never killed.

    python tests/crash_harness.py --kills 50 --articles 40     (make crash-test)

What it proves, and exits non-zero if not: after every kill SQLite's integrity check passes and
`check-db` finds nothing; at the end every version the newsroom published is stored exactly once
and in order (the same versions and changes as the run never killed), every alert was delivered
once or is listed as uncertain, and no message reached the sink twice.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILLER = ("Crews worked through the night to reach the villages cut off by the water, officials said. "
          "Roads into the valley stayed closed and the authorities asked residents to avoid travel.")


class Newsroom:
    """Articles on 127.0.0.1 that each publish their next version when the harness says so."""

    def __init__(self, articles: int):
        self.versions = [1] * articles
        self.received: list[str] = []
        room = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/feed.xml":
                    items = "".join(f"<item><title>Story {n}</title><link>{room.url}/a/{n}</link></item>"
                                    for n in range(len(room.versions)))
                    self.reply(f'<rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>',
                               "application/rss+xml")
                elif self.path.startswith("/a/"):
                    n = int(self.path.rsplit("/", 1)[1])
                    version = room.versions[n]
                    self.reply(f"<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
                               f"<p>At least {10 + version} people were killed in district {n}, officials said.</p>"
                               f"<p>{FILLER}</p><p>{FILLER}</p></article></body></html>", "text/html; charset=utf-8")
                else:
                    self.reply("not found", "text/plain", 404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                room.received.append(body.decode("utf-8", "replace"))
                self.reply("ok", "text/plain")

            def reply(self, text: str, kind: str, status: int = 200):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def advance(self, share: float, rng: random.Random) -> None:
        for n in range(len(self.versions)):
            if rng.random() < share:
                self.versions[n] += 1

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Outcome:
    kills: int = 0
    runs: int = 0
    problems: list[str] = field(default_factory=list)


def write_config(folder: Path, newsroom: Newsroom) -> Path:
    config = folder / "redline.toml"
    config.write_text(
        f'[database]\npath = "redline.db"\n\n[network]\nallow_private = true\nhost_delay = 0\n\n'
        f'[[sources]]\nname = "wire"\nkind = "rss"\nurl = "{newsroom.url}/feed.xml"\nrobots = false\n\n'
        f'[[alerts]]\nname = "tolls"\nkinds = ["figure"]\nurls = ["json://{newsroom.url.split("://")[1]}/sink"]\n',
        encoding="utf-8")
    return config


def run(config: Path, kill_after: float | None) -> bool:
    """One `redline run --all`; killed with SIGKILL after kill_after seconds if still running. True if it finished."""
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--all", "--config", str(config)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, errors = process.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False
    if process.returncode != 0:
        raise SystemExit(f"redline run failed (exit {process.returncode}):\n{errors}")
    return True


def sound(database: Path, config: Path) -> list[str]:
    if not database.exists():
        return []
    with sqlite3.connect(database) as raw:
        integrity = raw.execute("PRAGMA integrity_check").fetchone()[0]
    problems = [] if integrity == "ok" else [f"integrity_check: {integrity}"]
    checked = subprocess.run([sys.executable, "-m", "pipeline.cli", "check-db", "--config", str(config)],
                             cwd=ROOT, capture_output=True, text=True)
    if checked.returncode != 0:
        problems.append(f"check-db: {checked.stdout.strip()} {checked.stderr.strip()}")
    return problems


def archive_summary(database: Path) -> tuple[dict, Counter]:
    """Each article's version hashes in order, and the figure changes, as stored."""
    with sqlite3.connect(database) as raw:
        versions: dict[str, list[str]] = {}
        for url, text_hash in raw.execute("SELECT a.canonical_url, v.text_hash FROM versions v JOIN articles a "
                                          "ON a.id = v.article_id ORDER BY a.canonical_url, v.number"):
            versions.setdefault(url.rsplit("/", 1)[1], []).append(text_hash)
        changes = Counter(raw.execute("SELECT a.canonical_url, c.kind, c.before, c.after FROM changes c JOIN articles a "
                                      "ON a.id = c.article_id WHERE c.kind = 'figure'").fetchall())
    changes = Counter({(url.rsplit("/", 1)[1], *rest): n for (url, *rest), n in changes.items()})
    return versions, changes


def crash_test(kills: int, articles: int, seed: int = 7, folder: Path | None = None, log=print) -> Outcome:
    folder = Path(folder or tempfile.mkdtemp(prefix="redline-crash-"))
    rng = random.Random(seed)
    killed_room, calm_room = Newsroom(articles), Newsroom(articles)
    (folder / "killed").mkdir(parents=True, exist_ok=True)
    (folder / "calm").mkdir(parents=True, exist_ok=True)
    killed, calm = write_config(folder / "killed", killed_room), write_config(folder / "calm", calm_room)
    outcome, started = Outcome(), time.monotonic()
    try:
        round_number = 0
        while outcome.kills < kills:
            round_number += 1
            for room in (killed_room, calm_room):
                room.advance(0.5, random.Random(seed * 1000 + round_number))  # both publish the same round
            assert run(calm, None)
            while not run(killed, kill_after=rng.uniform(0.05, 2.5)):  # resumed until a run completes
                outcome.kills += 1
                for problem in sound(folder / "killed" / "redline.db", killed):
                    outcome.problems.append(f"after kill {outcome.kills}: {problem}")
            outcome.runs += 1
            log(f"round {round_number}: {outcome.kills} kill(s) so far, {time.monotonic() - started:.0f} s")
        outcome.problems += _compare(folder, killed_room)
    finally:
        killed_room.close()
        calm_room.close()
    return outcome


def _compare(folder: Path, killed_room: Newsroom) -> list[str]:
    problems = []
    killed_versions, killed_changes = archive_summary(folder / "killed" / "redline.db")
    calm_versions, calm_changes = archive_summary(folder / "calm" / "redline.db")
    for article in sorted(set(killed_versions) | set(calm_versions)):
        if killed_versions.get(article) != calm_versions.get(article):
            problems.append(f"article {article}: versions {killed_versions.get(article)} != {calm_versions.get(article)}")
    if killed_changes != calm_changes:
        problems.append(f"figure changes differ: {sorted((killed_changes - calm_changes).elements())[:5]} "
                        f"/ {sorted((calm_changes - killed_changes).elements())[:5]}")
    with sqlite3.connect(folder / "killed" / "redline.db") as raw:
        states = Counter(status for (status,) in raw.execute("SELECT status FROM alerts"))
    if set(states) - {"sent", "uncertain"}:
        problems.append(f"alerts neither delivered nor uncertain: {dict(states)}")
    doubled = [body for body, count in Counter(killed_room.received).items() if count > 1]
    if doubled:
        problems.append(f"{len(doubled)} message(s) reached the sink more than once, e.g. {doubled[0][:200]}")
    problems.extend(_alerts_accounted_for(folder, killed_room, states))
    return problems


def _alerts_accounted_for(folder: Path, room: Newsroom, states: Counter) -> list[str]:
    # Every sent alert's message arrived; an uncertain one may or may not have.
    arrived = " ".join(json.loads(body).get("message", "") for body in room.received)
    with sqlite3.connect(folder / "killed" / "redline.db") as raw:
        missing = [(url, after) for url, after in raw.execute(
            "SELECT a.canonical_url, c.after FROM alerts al JOIN changes c ON c.id = al.change_id "
            "JOIN articles a ON a.id = c.article_id WHERE al.status = 'sent'")
                   if f"→ {after}" not in arrived]
    return [f"{len(missing)} sent alert(s) never reached the sink, e.g. {missing[0]}"] if missing else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.monotonic()
    outcome = crash_test(args.kills, args.articles, args.seed)
    print(f"{outcome.kills} kills survived over {outcome.runs} completed rounds of {args.articles} articles "
          f"in {time.monotonic() - started:.0f} s; problems: {len(outcome.problems)}")
    for problem in outcome.problems:
        print("  " + problem)
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
