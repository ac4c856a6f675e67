"""A distributed Airflow for Redline on this machine, from the services it already runs.

CeleryExecutor with a Redis broker; Airflow's metadata and Celery's results in PostgreSQL; Redline's
archive in PostgreSQL too. One API server, one scheduler, one DAG processor and WORKERS Celery workers,
each with its own hostname and log-server port: the shape of a deployment over several machines, where
each of these runs on its own host and reaches the same PostgreSQL and Redis.

    python -m deploy.cluster start [--workers 2] [--config demo/redline.toml]   (make airflow-cluster)
    python -m deploy.cluster stop                                               (make airflow-cluster-stop)
    python -m deploy.cluster status

Processes, logs and pid files live in .airflow/cluster/; stop ends what start started, nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOG_PORT = 8793  # the n-th process of the cluster gets LOG_PORT + n for its task-log server (the workers: 8796 up)


@dataclass(frozen=True)
class Cluster:
    """One cluster: where its processes keep their files, its port, and the services it uses."""

    home: Path = ROOT / ".airflow" / "cluster"
    port: int = 8080
    postgres: str = os.environ.get("REDLINE_CLUSTER_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    broker: str = os.environ.get("REDLINE_CLUSTER_BROKER", "redis://127.0.0.1:6379/0")
    metadata_db: str = "redline_airflow"
    archive: str = ""  # Redline's archive; default: the database redline_archive on the same server
    config: Path = ROOT / "demo" / "redline.toml"
    workers: int = 2
    env: dict = field(default_factory=dict)  # more settings for every process (and every `airflow` command)

    @property
    def archive_url(self) -> str:
        return self.archive or f"{self.postgres}/redline_archive"

    def environment(self) -> dict[str, str]:
        """What every process of the cluster runs with: the same on every host of a real deployment."""
        metadata = f"postgresql+psycopg://{self.postgres.split('://', 1)[1]}/{self.metadata_db}"
        secret_file = self.home / "jwt_secret"
        if not secret_file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(secrets.token_urlsafe(64))
        return {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW_CONFIG": str(ROOT / "airflow.cfg"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(2 * self.workers + 2),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata,  # psycopg 3 serves SQLAlchemy's async engine too
            "AIRFLOW__CELERY__BROKER_URL": self.broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secret_file.read_text().strip(),
            # A worker that dies is noticed within a minute and its running tasks retried on another; the tasks
            # it had taken from the broker but not started go back to the queue after the visibility timeout
            # (it must be longer than a task takes), and a task queued too long is queued again.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "300",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "180",
            "REDLINE_CONFIG": str(self.config.resolve()),
            "REDLINE_DATABASE_URL": self.archive_url,
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            **self.env,
        }

    def processes(self) -> dict[str, list[str]]:
        """name → command of every process of the cluster."""
        airflow = str(BIN / "airflow")
        commands = {
            "api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            "scheduler": [airflow, "scheduler"],
            "dag-processor": [airflow, "dag-processor"],
        }
        for n in range(1, self.workers + 1):
            commands[f"worker{n}"] = [airflow, "celery", "worker", "--celery-hostname", f"redline-worker{n}@%h",
                                      "--queues", "default", "--without-mingle", "--without-gossip"]
        return commands

    def airflow(self, *args: str) -> str:
        """Run an `airflow` command against this cluster; its output (SystemExit with it when it fails)."""
        done = subprocess.run([str(BIN / "airflow"), *args], env=self.environment(), capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def run_dag(self, dag_id: str, conf: dict | None = None, during=None, timeout: float = 900) -> str:
        """Trigger a run of a (paused) DAG and wait for its end, calling during() while it runs; its state.
        The DAG is unpaused for the run and paused again after."""
        import psycopg

        self.airflow("dags", "unpause", dag_id)
        run_id = f"redline-{time.time_ns()}"
        self.airflow("dags", "trigger", dag_id, "--run-id", run_id, *(["--conf", json.dumps(conf)] if conf else []))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with psycopg.connect(f"{self.postgres}/{self.metadata_db}") as metadata:  # Airflow's own record
                    state, = metadata.execute("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s",
                                              [dag_id, run_id]).fetchone()
                if state in ("success", "failed"):
                    return state
                if during:
                    during()
                time.sleep(1)
        finally:
            self.airflow("dags", "pause", dag_id)
        raise TimeoutError(f"{dag_id} run {run_id} did not finish in {timeout:.0f} s")

    def start(self) -> dict[str, int]:
        """Start the cluster (its databases made and Airflow's migrated first); returns name → pid once the
        API server answers and every worker has joined."""
        if self.running():
            raise SystemExit(f"a cluster is running already ({self.home}); `make airflow-cluster-stop` stops it")
        self._create_databases()
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self.airflow("db", "migrate")
        env = self.environment()
        pids = {}
        for n, (name, command) in enumerate(self.processes().items()):
            own = {**env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(LOG_PORT + n)}
            with open(self.home / "logs" / f"{name}.log", "ab") as log:
                process = subprocess.Popen(command, env=own, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True, cwd=self.home)
            (self.home / f"{name}.pid").write_text(str(process.pid))
            pids[name] = process.pid
        self._wait_until_ready()
        return pids

    def _create_databases(self) -> None:
        import psycopg

        with psycopg.connect(f"{self.postgres}/postgres", autocommit=True) as admin:
            for name in (self.metadata_db, self.archive_url.rsplit("/", 1)[1]):
                if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                    admin.execute(f"CREATE DATABASE {name}")

    def _wait_until_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, pid in self._pids().items():
                if not _alive(pid):
                    raise SystemExit(f"{name} stopped at start: see {self.home / 'logs' / (name + '.log')}")
            try:
                healthy = httpx.get(f"http://127.0.0.1:{self.port}/api/v2/monitor/health", timeout=2).is_success
            except httpx.HTTPError:
                healthy = False
            joined = sum("ready." in (self.home / "logs" / f"worker{n}.log").read_text(errors="replace")
                         for n in range(1, self.workers + 1))
            if healthy and joined == self.workers:
                return
            time.sleep(1)
        raise SystemExit(f"the cluster did not come up in {timeout:.0f} s: see {self.home / 'logs'}")

    def _pids(self) -> dict[str, int]:
        return {path.stem: int(path.read_text()) for path in sorted(self.home.glob("*.pid"))}

    def running(self) -> dict[str, int]:
        """name → pid of the cluster's processes that are alive."""
        return {name: pid for name, pid in self._pids().items() if _alive(pid)}

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send sig to one process of the cluster and to everything it started (a worker and its tasks)."""
        os.killpg(self._pids()[name], sig)

    def stop(self, grace: float = 20.0) -> list[str]:
        """Stop every process start started (SIGTERM, then SIGKILL after grace); returns their names."""
        pids = self._pids()
        _signal_all(pids.values(), signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):
            time.sleep(0.5)
        _signal_all(pids.values(), signal.SIGKILL)
        for name in pids:
            (self.home / f"{name}.pid").unlink(missing_ok=True)
        return list(pids)


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_all(pids, sig: int) -> None:
    for pid in pids:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", type=Path, default=Path(os.environ.get("REDLINE_CONFIG") or
                                                              ROOT / "demo" / "redline.toml"))
    args = parser.parse_args(argv)
    cluster = Cluster(workers=args.workers, config=args.config)
    if args.action == "start":
        pids = cluster.start()
        print(f"Airflow (CeleryExecutor) on http://127.0.0.1:{cluster.port}, user admin, password in "
              f"{cluster.home / 'simple_auth_manager_passwords.json.generated'}")
        print(f"  {', '.join(f'{name} {pid}' for name, pid in pids.items())}; logs in {cluster.home / 'logs'}")
        print(f"  Redline's archive: {cluster.archive_url}; broker {cluster.broker}; "
              "`make airflow-cluster-stop` stops it")
    elif args.action == "stop":
        stopped = cluster.stop()
        print(f"stopped {', '.join(stopped)}" if stopped else "no cluster was running")
    else:
        print("\n".join(f"{name}: {pid}" for name, pid in cluster.running().items()) or "no cluster is running")


if __name__ == "__main__":
    main()
