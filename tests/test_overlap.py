"""Overlapping runs over one archive: separate `redline run` processes at once, as cron or a
retried Airflow task would start them. Nothing fails, nothing is recorded twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import storage
from demo.newsroom import load_stories, render_article

STORIES = 8
RUNS = 4


def rss(site, titles: list[str]) -> str:
    items = "".join(f"<item><title>{title}</title><link>{site.url}/story/{n}</link></item>"
                    for n, title in enumerate(titles))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'


def write_config(tmp_path: Path, site) -> Path:
    config = tmp_path / "redline.toml"
    config.write_text(
        f'[database]\npath = "redline.db"\n\n[network]\nallow_private = true\nhost_delay = 0\n\n'
        f'[[sources]]\nname = "wire"\nkind = "rss"\nurl = "{site.url}/feed.xml"\nrobots = false\n\n'
        f'[[alerts]]\nname = "heads"\nkinds = ["headline"]\nurls = ["json://{site.url.split("://")[1]}/sink"]\n',
        encoding="utf-8")
    return config


def run_together(config: Path, count: int) -> list[subprocess.CompletedProcess]:
    command = [sys.executable, "-m", "pipeline.cli", "run", "--all", "--config", str(config)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(count)]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate()) for p in processes]


def test_runs_started_together_all_succeed_and_record_each_change_once(site, tmp_path):
    story = load_stories()[0]
    for n in range(STORIES):
        site.page(f"/story/{n}", render_article(story.versions[0], f"s{n}", site.url))
    site.page("/sink", b"ok")
    site.page("/feed.xml", rss(site, [f"Story {n}" for n in range(STORIES)]), kind="application/rss+xml")
    config = write_config(tmp_path, site)
    [first] = run_together(config, 1)
    assert first.returncode == 0, first.stderr

    site.page("/feed.xml", rss(site, [f"Story {n}, updated" for n in range(STORIES)]), kind="application/rss+xml")
    results = run_together(config, RUNS)

    assert [r.returncode for r in results] == [0] * RUNS, [r.stderr[-2000:] for r in results if r.returncode]
    db = storage.open_db(tmp_path / "redline.db")
    headlines = storage.list_changes(db, kind="headline")
    assert sorted((c.before, c.after) for c in headlines) == [(f"Story {n}", f"Story {n}, updated")
                                                              for n in range(STORIES)]
    assert len(storage.list_alerts(db)) == STORIES
    assert storage.count_rows(db)["versions"] == STORIES
