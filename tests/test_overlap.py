"""Overlapping runs over one archive: separate `redline run` processes at once, as cron or a
retried Airflow task would start them. Nothing fails, nothing is recorded twice: on an SQLite file,
and on a PostgreSQL server (where the runs' claims skip each other's locked rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import storage
from demo.newsroom import load_stories, render_article

STORIES = 8
RUNS = 4


def rss(site, titles: list[str]) -> str:
    items = "".join(f"<item><title>{title}</title><link>{site.url}/story/{n}</link></item>"
                    for n, title in enumerate(titles))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request, tmp_path) -> str:
    """Where the runs keep their archive: an SQLite file, then a fresh PostgreSQL database."""
    return str(tmp_path / "redline.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def write_config(tmp_path: Path, site, archive: str, sink: str | None = None) -> Path:
    sink = sink or f"json://{site.url.split('://')[1]}/sink"
    config = tmp_path / "redline.toml"
    where = f'url = "{archive}"' if archive.startswith("postgresql://") else 'path = "redline.db"'
    config.write_text(
        f'[database]\n{where}\n\n[network]\nallow_private = true\nhost_delay = 0\n\n'
        f'[[sources]]\nname = "wire"\nkind = "rss"\nurl = "{site.url}/feed.xml"\nrobots = false\n\n'
        f'[[alerts]]\nname = "heads"\nkinds = ["headline", "figure"]\nurls = ["{sink}"]\n',
        encoding="utf-8")
    return config


def run_together(config: Path, count: int) -> list[subprocess.CompletedProcess]:
    command = [sys.executable, "-m", "pipeline.cli", "run", "--all", "--config", str(config)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(count)]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate()) for p in processes]


def test_runs_started_together_all_succeed_and_record_each_change_once(site, tmp_path, archive):
    story = load_stories()[0]
    for n in range(STORIES):
        site.page(f"/story/{n}", render_article(story.versions[0], f"s{n}", site.url))
    site.page("/sink", b"ok")
    site.page("/feed.xml", rss(site, [f"Story {n}" for n in range(STORIES)]), kind="application/rss+xml")
    config = write_config(tmp_path, site, archive)
    [first] = run_together(config, 1)
    assert first.returncode == 0, first.stderr

    site.page("/feed.xml", rss(site, [f"Story {n}, updated" for n in range(STORIES)]), kind="application/rss+xml")
    results = run_together(config, RUNS)

    assert [r.returncode for r in results] == [0] * RUNS, [r.stderr[-2000:] for r in results if r.returncode]
    db = storage.open_db(archive)
    headlines = storage.list_changes(db, kind="headline")
    assert sorted((c.before, c.after) for c in headlines) == [(f"Story {n}", f"Story {n}, updated")
                                                              for n in range(STORIES)]
    assert len(storage.list_alerts(db)) == STORIES
    assert storage.count_rows(db)["versions"] == STORIES


@pytest.mark.airflow
def test_four_runs_and_the_check_dag_at_once_for_ten_rounds(site, newsroom, tmp_path, monkeypatch, airflow_db,
                                                            dagbag, archive):
    """Four `redline run` processes and a redline_check_articles DAG run over one archive at once, ten rounds
    while the feed and the pages change: no error, and no version, change or alert recorded twice."""
    story = load_stories()[0]  # the flood story: its versions change its figures
    rounds, versions = 10, story.versions
    config = write_config(tmp_path, site, archive, f"json://{newsroom.url.split('://')[1]}/_sink")
    monkeypatch.setenv("REDLINE_CONFIG", str(config))
    check_dag = dagbag.dags["redline_check_articles"]
    for round_number in range(rounds):
        titles = []
        for n in range(STORIES):
            version = versions[min((round_number + n) // 2, len(versions) - 1)]
            site.page(f"/story/{n}", render_article(version, f"s{n}", site.url))
            titles.append(f"{version.title} ({n})")
        site.page("/feed.xml", rss(site, titles), kind="application/rss+xml")
        command = [sys.executable, "-m", "pipeline.cli", "run", "--all", "--config", str(config)]
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(RUNS)]
        state = check_dag.test(run_conf={"recheck_all": True}).state
        results = [(p.wait(timeout=180), p.communicate()[1]) for p in processes]
        assert str(getattr(state, "value", state)) == "success"
        assert [code for code, _ in results] == [0] * RUNS, [err[-2000:] for code, err in results if code]

    db = storage.open_db(archive)
    doubled_versions = db.execute(
        "SELECT a.article_id, a.number FROM versions a JOIN versions b ON b.article_id = a.article_id "
        "AND b.number = a.number + 1 AND b.text_hash = a.text_hash AND b.title IS a.title").fetchall()
    doubled_changes = db.execute(
        "SELECT article_id, origin, kind, before, after, at_version, count(*) FROM changes "
        "GROUP BY article_id, origin, kind, before, after, at_version, diff_id HAVING count(*) > 1").fetchall()
    doubled_alerts = db.execute("SELECT change_id, rule, channel FROM alerts GROUP BY change_id, rule, channel "
                                "HAVING count(*) > 1").fetchall()
    assert (doubled_versions, doubled_changes, doubled_alerts) == ([], [], [])
    assert storage.count_rows(db)["versions"] >= STORIES * 2
    assert len(storage.list_changes(db, kind="figure")) > 0 and storage.list_alerts(db)
    assert {alert.status for alert in storage.list_alerts(db)} == {"sent"}
    messages = [message["title"] + message["message"] for message in newsroom.received]
    assert len(messages) == len(set(messages))  # no message twice
