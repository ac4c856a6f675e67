"""Tests for storage/dialect.py: SQLite's SQL as PostgreSQL reads it."""

import pytest

from storage.dialect import is_url, translate


@pytest.mark.parametrize("sqlite, postgresql", [
    ("SELECT * FROM a WHERE id = ? AND b = ?", "SELECT * FROM a WHERE id = %s AND b = %s"),
    ("SELECT * FROM a WHERE id = :id AND n >= :n", "SELECT * FROM a WHERE id = %(id)s AND n >= %(n)s"),
    # string literals keep their ? and :, and every % is doubled for psycopg
    ("SELECT 'a?:b' || x FROM t WHERE h LIKE 'planned:%' AND y = ?",
     "SELECT 'a?:b' || x FROM t WHERE h LIKE 'planned:%%' AND y = %s"),
    ("SELECT 'it''s ?' WHERE a = ?", "SELECT 'it''s ?' WHERE a = %s"),
    ("INSERT OR IGNORE INTO t (a) VALUES (?)", "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING"),
    ("INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING id",
     "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id"),
    ("WHERE title IS ? AND holder IS NOT :holder AND x IS NULL AND y IS NOT NULL AND a IS NOT b",
     "WHERE title IS NOT DISTINCT FROM %s AND holder IS DISTINCT FROM %(holder)s AND x IS NULL AND y IS NOT NULL "
     "AND a IS DISTINCT FROM b"),
    # two arguments: greatest/least; one: the aggregate
    ("SET n = max(coalesce(n, 0), :c) + 1, m = (SELECT max(number) FROM v), k = min(a, (b))",
     "SET n = greatest(coalesce(n, 0), %(c)s) + 1, m = (SELECT max(number) FROM v), k = least(a, (b))"),
    ("SELECT count(*) FROM articles a NOT INDEXED WHERE 1 = 1", "SELECT count(*) FROM articles a WHERE 1 = 1"),
])
def test_translate(sqlite, postgresql):
    assert translate(sqlite) == postgresql


@pytest.mark.parametrize("location, server", [
    ("postgresql://u@h/db", True), ("postgres://h/db", True), ("redline.db", False), ("/x/postgresql://", False),
])
def test_is_url(location, server):
    assert is_url(location) is server
