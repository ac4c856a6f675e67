"""An SQLite archive's connection: the few calls every command makes, without loading sqlite-utils.

Checks, polls and the read commands only execute SQL, in transactions they open themselves. sqlite-utils
(with the dateutil, pluggy and tabulate it imports) took 35-40 ms of every `redline` process's start
(python -X importtime), so it is loaded on the first call this class does not answer itself: a
migration's CREATE TABLE or a test's `db["versions"].insert(...)`, over the same connection.
"""

from __future__ import annotations

import sqlite3
import sys
from functools import cached_property, lru_cache
from typing import Any

# Statements that open or end a transaction themselves: the autocommit below leaves them alone.
_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})


class Database:
    """An SQLite connection with sqlite-utils' commit rules; sqlite-utils' Database answers the rest."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        # As sqlite-utils sets it: a REPLACE that deletes a row fires that row's delete triggers
        # (the full-text index's), so the index never keeps a replaced text.
        conn.execute("PRAGMA recursive_triggers = ON")
        add_functions(conn)

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        """Run one statement. A write outside a transaction is committed at once, and one that fails
        leaves none open: the sqlite3 module would otherwise hold that transaction, and the write
        lock with it, until someone commits."""
        was_open = self.conn.in_transaction
        try:
            cursor = self.conn.execute(sql, parameters)
        except Exception:
            if not was_open and self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        if (not was_open and self.conn.in_transaction and cursor.description is None
                and _first_word(sql) not in _CONTROL):
            self.conn.execute("COMMIT")
        return cursor

    def commit(self) -> None:
        """Commit the open transaction, if one is."""
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back the open transaction, if one is."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def enable_wal(self, synchronous: str = "normal") -> None:
        """Write-ahead logging, so that readers never wait for the writer; the log synced to disk at each
        checkpoint ("normal") or at each commit ("full")."""
        if self.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.execute("PRAGMA journal_mode = wal")
        # Normal cannot corrupt a WAL archive, and a crash of the process loses nothing: only a power cut or a
        # crash of the system can take back the last commits. Full's sync at each commit cost a changed check
        # 0.5 ms of CPU (33.1 against 33.6 ms, benchmarks/README.md) and the disk's latency.
        self.execute(f"PRAGMA synchronous = {synchronous.upper()}")

    @cached_property
    def utils(self):
        """sqlite-utils' Database over this connection, loaded on first use."""
        return load_sqlite_utils().Database(self.conn, recursive_triggers=True, execute_plugins=False)

    def __getitem__(self, table: str):
        return self.utils[table]

    def __getattr__(self, name: str):
        if name.startswith("__"):  # copy and pickle look for these; they are not sqlite-utils' to answer
            raise AttributeError(name)
        return getattr(self.utils, name)


# Version texts (migration 12) -----------------------------------------------------------------------
# An SQLite archive keeps each version's text as a zstandard frame; a later version's is packed with the
# text that starts its chain (stored in full) as dictionary, named by versions.text_base. A revised text
# then costs what changed in it: 0.44 MB for bench_packing's 4.4 MB of texts (2.01 MB packed one by
# one). Texts stored before migration 12 are plain strings and read as they are.
# PostgreSQL compresses long values itself (TOAST), so its texts stay plain.
TEXT_LEVEL = 3


def add_functions(conn: sqlite3.Connection) -> None:
    """Give a connection the SQL functions an archive's schema calls: redline_text (unpack_text), with
    which the view version_texts, and the full-text index through it, read each stored text."""
    conn.create_function("redline_text", 2, unpack_text, deterministic=True)


def pack_text(text: str, base: str | None = None) -> bytes:
    """A version's text as SQLite keeps it: a zstandard frame, packed against base when given."""
    import zstandard

    against = None if base is None else build_dictionary(base.encode())
    return zstandard.ZstdCompressor(level=TEXT_LEVEL, dict_data=against).compress(text.encode())


def unpack_text(stored: str | bytes | None, base: str | bytes | None = None) -> str | None:
    """The text a versions row keeps (stored, as pack_text made it, or a plain string), given the stored
    text of its chain's first version (base) when it was packed against it."""
    if stored is None or isinstance(stored, str):
        return stored
    import zstandard

    # A new decompressor each time (25 us): zstandard's objects are not safe to share across the threads
    # of a check batch. The chain's first text is unpacked once for the texts read after it.
    against = None if base is None else build_dictionary(_chain_text(base).encode())
    return zstandard.ZstdDecompressor(dict_data=against).decompress(stored).decode()


@lru_cache(maxsize=64)
def _chain_text(base: str | bytes) -> str:
    return unpack_text(base)


def build_dictionary(content: bytes):
    """content as zstandard's dictionary, whole: what a later page or text is packed against."""
    import zstandard

    return zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def load_sqlite_utils():
    """The sqlite_utils module, imported with numpy and pandas hidden.

    sqlite-utils imports both when they are installed, only to map their number types to column types,
    and Redline stores neither; matplotlib (the workspace's plots) installs numpy, which alone added
    0.1-0.2 s to every start. They stay importable for whoever needs them after."""
    if "sqlite_utils" in sys.modules:
        return sys.modules["sqlite_utils"]
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden, None))
    try:
        import sqlite_utils
    finally:
        for name in hidden:
            del sys.modules[name]
    return sqlite_utils


def _first_word(sql: str) -> str:
    # The statement's keyword, past leading blanks and semicolons (Redline writes no leading comments).
    start = len(sql) - len(sql.lstrip(" \t\r\n;"))
    end = start
    while end < len(sql) and (sql[end].isalpha() or sql[end] == "_"):
        end += 1
    return sql[start:end].upper()
