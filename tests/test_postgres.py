"""Tests for storage/postgres.py against the real PostgreSQL test server (skipped, saying why, where
there is none; required under CI=true). The storage contract itself runs on it from test_storage.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

import storage
from pipeline.errors import StorageError
from storage import postgres
from storage.migrations import MIGRATIONS


@pytest.fixture
def empty_url(postgres_server):
    """A new database with no schema at all, dropped after the test."""
    url = postgres_server.create()
    yield url
    postgres_server.drop(url)


def test_starters_at_once_migrate_once(empty_url):
    code = "import sys, storage; storage.open_db(sys.argv[1]).close(); print('ok')"
    starters = [subprocess.Popen([sys.executable, "-c", code, empty_url], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(p.wait(timeout=60), *p.communicate()) for p in starters]
    assert [(code, out.strip()) for code, out, _ in results] == [(0, "ok")] * 4, [err for _, _, err in results]
    db = storage.open_db(empty_url)
    assert [row[0] for row in db.execute("SELECT id FROM migrations ORDER BY id").fetchall()] == [
        number for number, _, _ in MIGRATIONS]


def test_an_archive_that_is_not_there_yet_is_made_only_when_asked(empty_url):
    with pytest.raises(StorageError, match="no archive there yet"):
        storage.open_db(empty_url, create=False)
    with pytest.raises(StorageError, match="no archive there yet"):
        storage.open_reader(empty_url)
    storage.open_db(empty_url).close()
    storage.open_reader(empty_url).close()


def test_a_server_that_cannot_be_reached_is_named_with_its_password_masked():
    with pytest.raises(StorageError, match=r"postgresql://redline:\*\*\*\*@127\.0\.0\.1:1/x: cannot connect"):
        storage.open_db("postgresql://redline:secret@127.0.0.1:1/x")


def test_connections_dropped_without_close_go_back_to_the_pool(postgres_url):
    for _ in range(3 * postgres.POOL_SIZE):  # more than the pool holds: each must come back when let go
        storage.count_rows(storage.open_db(postgres_url))
    stats = postgres._pool(postgres_url).get_stats()
    assert stats["pool_size"] - stats.get("pool_available", 0) <= 1


def test_a_statement_that_fails_leaves_the_connection_usable(postgres_url):
    db = storage.open_db(postgres_url)
    with pytest.raises(Exception, match="relation"):
        db.execute("SELECT * FROM no_such_table")
    assert storage.count_rows(db)["articles"] == 0
