"""PostgreSQL beside SQLite: moving an archive, storing versions, and checking a newsroom on Airflow's
CeleryExecutor with one and with two workers.

1. `migrate-archive` of a generated archive (REDLINE_BENCH_MIGRATE versions, default 100,000, made by the
   workspace benchmark's generator and kept under .airflow/bench/), SQLite → PostgreSQL and back, beside a
   bare baseline: the same rows read with sqlite3 and written with PostgreSQL's COPY into tables with no
   index, constraint or trigger (the floor of moving the bytes).
2. The 1,000-article corpus newsroom (bench_newsroom), polled and checked once by one `redline run --all`
   process into a fresh PostgreSQL archive, then by the cluster (deploy/cluster.py) with one worker and
   with two: wall time of the check run, versions stored, and the CPU of every process of the machine.
   On two cores the point is that work spreads over workers without being lost or doubled, and where the
   time goes (Airflow's scheduling and task start-up against the checking itself).

Needs the local PostgreSQL and Redis; says so and stops without them.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_newsroom import ARTICLES, Newsroom, fundus_folder
from benchmarks.bench_workspace import generate

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("REDLINE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
BROKER = os.environ.get("REDLINE_BENCH_REDIS", "redis://127.0.0.1:6379/14")
MIGRATE_VERSIONS = int(os.environ.get("REDLINE_BENCH_MIGRATE", "100000"))
COPIED = ("articles", "versions", "diffs", "changes")  # what the bare baseline moves: nearly all the bytes


def _admin():
    import psycopg

    return psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=3)


def fresh_database(name: str) -> str:
    with _admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return f"{SERVER}/{name}"


def drop_database(url: str) -> None:
    from storage.postgres import close_pools

    close_pools(url)
    with _admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def machine_cpu() -> float:
    """CPU seconds every process of the machine has used (user + system, from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system = (int(v) for v in fields[:3])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


# 1. Moving an archive ------------------------------------------------------------------------

def migrate_speed() -> None:
    from pipeline import maintenance

    source = ROOT / ".airflow" / "bench" / f"migrate-{MIGRATE_VERSIONS}.db"
    if not source.exists():
        source.parent.mkdir(parents=True, exist_ok=True)
        generate(source, MIGRATE_VERSIONS)
    size = source.stat().st_size / 2**20
    rows = sum(sqlite3.connect(source).execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COPIED)
    target = fresh_database("redline_bench_migrate")
    back = Path(tempfile.mkdtemp()) / "back.db"
    try:
        started = time.perf_counter()
        for _ in maintenance.migrate_archive(source, target, batch_size=5000):
            pass
        there = time.perf_counter() - started
        started = time.perf_counter()
        for _ in maintenance.migrate_archive(target, back, batch_size=5000):
            pass
        home = time.perf_counter() - started
        returned = back.stat().st_size / 2**20
        bare = bare_copy(source)
    finally:
        drop_database(target)
        back.unlink(missing_ok=True)
    print(f"archive: {MIGRATE_VERSIONS:,} versions, {rows:,} rows of {', '.join(COPIED)}, {size:,.0f} MiB (SQLite); "
          f"copied there and back: {returned:,.0f} MiB")
    for label, seconds in (("migrate-archive SQLite → PostgreSQL", there), ("migrate-archive PostgreSQL → SQLite", home),
                           ("bare: sqlite3 read + COPY, no index", bare)):
        print(f"  {label:<38} {seconds:6.1f} s  {MIGRATE_VERSIONS / seconds:8,.0f} versions/s  "
              f"{size / seconds:6.1f} MiB/s  ({seconds / bare:.1f}× bare)")


def bare_copy(source: Path) -> float:
    """The same tables' rows read with sqlite3 and written with COPY into bare tables: the floor."""
    import psycopg

    target = fresh_database("redline_bench_bare")
    try:
        reader = sqlite3.connect(source)
        started = time.perf_counter()
        with psycopg.connect(target) as writer:
            for table in COPIED:
                columns = [c[1] for c in reader.execute(f"PRAGMA table_info({table})")]
                writer.execute(f"CREATE TABLE {table} ({', '.join(f'{c} text' for c in columns)})")
                with writer.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                    for row in reader.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                        copy.write_row(row)
        return time.perf_counter() - started
    finally:
        drop_database(target)


# 2. A newsroom on the cluster ----------------------------------------------------------------

def cluster_throughput(room: Newsroom, folder: Path) -> None:
    import storage
    from deploy.cluster import Cluster, free_port

    config = room.write_config(folder / "redline.toml")
    rows = []
    archive = fresh_database("redline_bench_alone")  # the floor: one process, no Airflow
    room.round(0)
    cpu, started = machine_cpu(), time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("redline")), "run", "--all", "--config", str(config)],
                   env={**os.environ, "REDLINE_DATABASE_URL": archive}, check=True, stdout=subprocess.DEVNULL)
    rows.append(("redline run --all (one process)", time.perf_counter() - started, machine_cpu() - cpu,
                 storage.count_rows(storage.open_db(archive))["versions"]))
    drop_database(archive)
    for workers in (1, 2):
        archive, metadata = fresh_database("redline_bench_archive"), fresh_database("redline_bench_airflow")
        import redis

        redis.Redis.from_url(BROKER).flushdb()
        cluster = Cluster(home=folder / f"cluster-{workers}", port=free_port(), postgres=SERVER, broker=BROKER,
                          metadata_db="redline_bench_airflow", archive=archive, config=config, workers=workers,
                          env={"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"})
        try:
            cluster.start()
            assert cluster.run_dag("redline_poll_sources") == "success"
            cpu, started = machine_cpu(), time.perf_counter()
            state = cluster.run_dag("redline_check_articles", {"recheck_all": True})
            rows.append((f"CeleryExecutor, {workers} worker{'s' * (workers > 1)} ({state})",
                         time.perf_counter() - started, machine_cpu() - cpu,
                         storage.count_rows(storage.open_db(archive))["versions"]))
        finally:
            cluster.stop()
            drop_database(archive)
            drop_database(metadata)
    print(f"{'first check of 1,000 articles':<40} {'wall':>8} {'CPU (all)':>10} {'versions':>9}")
    for label, wall, cpu, versions in rows:
        print(f"  {label:<38} {wall:7.1f}s {cpu:9.1f}s {versions:9,}")
    print(f"  (a mapped check task per batch of 50: {ARTICLES // 50} tasks; CPU includes the scheduler, "
          "the API server, the workers and PostgreSQL)")


def main() -> None:
    try:
        _admin().close()
        import redis

        redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - either service missing: nothing to measure
        print(f"skipped: PostgreSQL at {SERVER} and Redis at {BROKER} are needed ({exc})")
        return
    migrate_speed()
    room = Newsroom(fundus_folder())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cluster_throughput(room, Path(tmp))
    finally:
        room.close()


if __name__ == "__main__":
    main()
