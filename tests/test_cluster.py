"""Redline on a distributed Airflow (deploy/cluster.py): CeleryExecutor with Redis, Airflow's metadata and
Redline's archive in PostgreSQL, two Celery workers, checking a 1,000-article newsroom built from the corpus.
One worker is killed mid-run: the other finishes its work (Airflow's retry, the lease takeover), and every
version is stored exactly once. Needs PostgreSQL and Redis (skipped, saying why, without them; required
under CI=true) and the fundus corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import storage
from test_corpus import CORPUS

pytestmark = pytest.mark.airflow
REDIS = os.environ.get("REDLINE_TEST_REDIS", "redis://127.0.0.1:6379/15")  # its own database: no dev cluster's


def _missing() -> str | None:
    try:
        import celery  # noqa: F401 - the provider's executor needs it
        import redis
    except ImportError as exc:
        return f"the Celery provider is not installed ({exc}; make test installs '.[cluster]')"
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it says the same
        return f"no Redis at {REDIS} ({exc})"
    if not (CORPUS / "fundus" / "mapping.csv").is_file():
        return f"no fundus corpus at {CORPUS / 'fundus'} (set REDLINE_CORPUS)"
    return None


@pytest.fixture
def cluster(postgres_server, postgres_url, tmp_path):
    """A two-worker cluster with its own home, port, metadata database and broker database; stopped after."""
    from deploy.cluster import Cluster, free_port

    if reason := _missing():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI runs the cluster test")
        pytest.skip(reason)
    from benchmarks.bench_newsroom import Newsroom

    room = Newsroom(CORPUS / "fundus")
    config = room.write_config(tmp_path / "redline.toml")
    metadata = postgres_server.create()
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    # Paused: the test triggers each run itself. Two retries (the tests' own default is none), after 5 s; the
    # tasks a killed worker had taken but not started are back in the queue after a minute.
    env = {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True", "REDLINE_TASK_RETRIES": "2",
           "REDLINE_RETRY_DELAY": "5", "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "60"}
    cluster = Cluster(home=tmp_path / "cluster", port=free_port(), postgres=metadata.rsplit("/", 1)[0], broker=REDIS,
                      metadata_db=metadata.rsplit("/", 1)[1], archive=postgres_url, config=config, env=env)
    try:
        cluster.start()
        yield cluster, room
    finally:
        cluster.stop()
        room.close()
        postgres_server.drop(metadata)


def doubles(db) -> list:
    return db.execute("SELECT article_id, text_hash, count(*) FROM versions GROUP BY article_id, text_hash "
                      "HAVING count(*) > 1").fetchall()


def test_two_workers_check_a_thousand_articles_and_one_is_killed_mid_run(cluster):
    cluster, room = cluster
    archive = cluster.archive_url
    assert cluster.run_dag("redline_poll_sources") == "success"
    assert storage.count_rows(storage.open_db(archive))["articles"] == 1000

    killed = []

    def kill_a_worker_mid_run():
        versions = storage.count_rows(storage.open_db(archive))["versions"]
        if not killed and 150 <= versions < 900:
            cluster.kill("worker1")  # the worker and its task processes, at once
            killed.append(versions)

    assert cluster.run_dag("redline_check_articles", {"recheck_all": True}, during=kill_a_worker_mid_run) == "success"
    assert killed, "the run ended before a worker could be killed mid-run"
    db = storage.open_db(archive)
    assert storage.count_rows(db)["versions"] == 1000 and doubles(db) == []
    assert db.execute("SELECT count(*) FROM articles WHERE versions != 1").fetchone()[0] == 0
    assert list(cluster.running()) == ["api-server", "dag-processor", "scheduler", "worker2"]

    room.round(1)  # one article in ten changes; the remaining worker checks them all
    assert cluster.run_dag("redline_check_articles", {"recheck_all": True}) == "success"
    db = storage.open_db(archive)
    assert storage.count_rows(db)["versions"] == 1100 and doubles(db) == []
    assert storage.find_faults(db) == []
    assert Path(cluster.home / "logs" / "worker2.log").read_text().count("succeeded") > 0
