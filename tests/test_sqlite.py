"""storage.sqlite: the archive's connection commits as sqlite-utils does, and loads it only when asked."""

import sqlite3
import subprocess
import sys

import pytest

from storage.db import _immediate
from storage.sqlite import Database


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "archive.db"
    database = Database(sqlite3.connect(path))
    database.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    yield database
    database.close()


def _seen_elsewhere(db):
    path = db.execute("PRAGMA database_list").fetchone()[2]
    with sqlite3.connect(path) as other:
        return [body for (body,) in other.execute("SELECT body FROM notes ORDER BY id")]


def test_a_write_outside_a_transaction_is_committed_at_once(db):
    db.execute("INSERT INTO notes (body) VALUES (?)", ["first"])
    assert not db.conn.in_transaction
    assert _seen_elsewhere(db) == ["first"]


def test_a_failed_write_leaves_no_transaction_holding_the_lock(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO notes (body) VALUES (NULL)")
    assert not db.conn.in_transaction
    db.execute("INSERT INTO notes (body) VALUES ('after')")
    assert _seen_elsewhere(db) == ["after"]


def test_writes_inside_a_transaction_wait_for_its_commit(db):
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO notes (body) VALUES ('held')")
    assert db.conn.in_transaction and _seen_elsewhere(db) == []
    db.commit()
    assert _seen_elsewhere(db) == ["held"]
    db.execute("BEGIN")
    db.execute("DELETE FROM notes")
    db.rollback()
    assert _seen_elsewhere(db) == ["held"]


def test_a_nested_transaction_undoes_only_its_own_writes(db):
    with _immediate(db):
        db.execute("INSERT INTO notes (body) VALUES ('outer')")
        with pytest.raises(RuntimeError), _immediate(db):
            db.execute("INSERT INTO notes (body) VALUES ('inner')")
            raise RuntimeError("the inner step fails")
        assert db.conn.in_transaction
    assert _seen_elsewhere(db) == ["outer"]


def test_sqlite_utils_answers_what_the_connection_does_not(db):
    db["notes"].insert({"body": "through sqlite-utils"})
    assert db.table_names() == ["notes"]
    assert _seen_elsewhere(db) == ["through sqlite-utils"]
    assert db.execute("PRAGMA recursive_triggers").fetchone() == (1,)


def test_opening_and_writing_loads_no_sqlite_utils(tmp_path):
    code = ("import sqlite3, sys; from storage.sqlite import Database; "
            f"db = Database(sqlite3.connect({str(tmp_path / 'a.db')!r})); db.enable_wal(); "
            "db.execute('CREATE TABLE t (x)'); db.execute('INSERT INTO t VALUES (1)'); "
            "print(db.execute('PRAGMA journal_mode').fetchone()[0], 'sqlite_utils' in sys.modules)")
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert printed == ["wal", "False"]
