"""The SQL that differs between the two archives, in one place.

storage/db.py and storage/workspace.py write each statement once, in SQLite's dialect. What PostgreSQL
spells differently is rewritten here (translate): placeholders, INSERT OR IGNORE, IS [NOT] with a value, scalar max/min
and NOT INDEXED. The few differences a rewrite cannot express (row locks, full-text search, SQLite's own
checks) are asked of the connection (on_server) where they are used. No driver is imported here: the
command line starts without psycopg.
"""

from __future__ import annotations

import functools
import re


def is_url(location) -> bool:
    """Whether an archive location names a PostgreSQL server rather than an SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def on_server(db) -> bool:
    """Whether this connection is to PostgreSQL (storage.postgres.Postgres) rather than SQLite."""
    return getattr(db, "dialect", "sqlite") == "postgresql"


_LITERAL = re.compile(r"('(?:[^']|'')*')")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_IS_NOT = re.compile(r"\bIS NOT (?!NULL\b)")
_IS = re.compile(r"\bIS (?!NOT\b|NULL\b|DISTINCT\b)")
_SCALAR = re.compile(r"\b(max|min)\(", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQLite's SQL as PostgreSQL reads it (string literals left alone but for psycopg's %)."""
    parts = _LITERAL.split(sql)
    for i in range(0, len(parts), 2):
        part = parts[i].replace("%", "%%").replace("?", "%s")
        part = _NAMED.sub(r"%(\1)s", part)
        part = _IS.sub("IS NOT DISTINCT FROM ", _IS_NOT.sub("IS DISTINCT FROM ", part))
        parts[i] = part.replace(" NOT INDEXED", "")
    parts[1::2] = [literal.replace("%", "%%") for literal in parts[1::2]]
    sql = _scalar_extremes("".join(parts))
    if sql.lstrip().upper().startswith("INSERT OR IGNORE INTO"):
        head, returning, tail = sql.partition(" RETURNING ")
        sql = head.replace("INSERT OR IGNORE INTO", "INSERT INTO", 1) + " ON CONFLICT DO NOTHING" + returning + tail
    return sql


def _scalar_extremes(sql: str) -> str:
    # SQLite's max(a, b) and min(a, b) are PostgreSQL's greatest and least; with one argument, aggregates.
    out, last = [], 0
    for match in _SCALAR.finditer(sql):
        depth, start = 0, match.end()
        for position in range(start, len(sql)):
            char = sql[position]
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                out.append(sql[last:match.start()] + ("greatest(" if match[1].lower() == "max" else "least("))
                last = start
                break
    return "".join(out) + sql[last:]
