"""Shared fixtures. Airflow's environment is set here, before anything imports airflow."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Airflow reads its settings once, at import, so they are set here before any test imports it:
# a throwaway AIRFLOW_HOME per session keeps runs hermetic and the work tree clean.
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="redline-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW_CONFIG": str(ROOT / "airflow.cfg"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    "REDLINE_TASK_RETRIES": "0",  # dag.test() would really wait out retry delays
})
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)

import pytest  # noqa: E402

import storage  # noqa: E402
from demo.newsroom import Newsroom  # noqa: E402
from pipeline.config import settings_from_dict  # noqa: E402


@pytest.fixture
def db(tmp_path):
    """A fresh, migrated database for each test."""
    return storage.open_db(tmp_path / "redline.db")


@pytest.fixture
def newsroom():
    """The demo newsroom, serving on a free port of 127.0.0.1."""
    with Newsroom() as room:
        yield room


@pytest.fixture
def make_settings(tmp_path):
    """Build Settings from a dict shaped like redline.toml, with a fresh database, private addresses
    allowed and no pause between requests to one host (the local servers need none)."""

    def build(**sections):
        sections.setdefault("database", {"path": str(tmp_path / "redline.db")})
        sections.setdefault("network", {"allow_private": True, "host_delay": 0})
        return settings_from_dict(sections, tmp_path / "redline.toml")

    return build


@pytest.fixture
def newsroom_settings(newsroom, make_settings):
    """Settings that follow the demo newsroom's feed and alert its sink of figure changes."""
    host = newsroom.url.split("://", 1)[1]
    return make_settings(
        sources=[{"name": "newsroom", "kind": "rss", "url": f"{newsroom.url}/feed.xml"}],
        alerts=[{"name": "figures", "kinds": ["figure", "headline", "correction"],
                 "urls": [f"json://{host}/_sink"]}],
    )


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database, migrated once per session (dag.test() needs it)."""
    from airflow.utils.db import upgradedb

    upgradedb()
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def dagbag():
    """Redline's DAG files, parsed the way the DAG processor parses them."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))
