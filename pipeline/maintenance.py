"""Looking after an archive: check it, back it up, copy it to another database, prune what is no longer
needed, compact it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import storage
from pipeline.config import Settings
from pipeline.extract import hash_text
from pipeline.errors import InputError
from pipeline.models import CopyProgress, utcnow


def check_db(settings: Settings, database: str | Path | None = None) -> list[str]:
    """What is wrong with the archive (or with the database file given), one line each; none when it
    is sound: SQLite's integrity and foreign keys, the full-text index, raw pages present and intact,
    version numbers without gaps, and every version's text hash against its text."""
    db = storage.open_archive(settings, create=False, location=database)
    faults = storage.find_faults(db)
    for url, number, stored, text in storage.version_texts(db):
        if text is None:
            faults.append(f"{url} v{number}: its stored text does not unpack (damaged, or its chain's first text is)")
        elif hash_text(text) != stored:
            faults.append(f"{url} v{number}: its text does not match its hash {stored[:12]}…")
    return faults


def migrate_archive(source: str | Path, target: str | Path, batch_size: int = 2000,
                    busy_timeout: float = 30.0) -> Iterator[CopyProgress]:
    """Copy the archive at source into target, each an SQLite file or a postgresql:// URL (a new archive is made
    there; an interrupted copy resumes), yielding progress; every version's text is verified against its hash."""
    if str(source) == str(target):
        raise InputError(f"{source}: the source and the target are the same archive")
    origin = storage.open_db(source, create=False, busy_timeout=busy_timeout)
    destination = storage.open_db(target, busy_timeout=busy_timeout)
    try:
        yield from storage.copy_archive(origin, destination, hash_text, batch_size)
    finally:
        origin.close()
        destination.close()


def backup(settings: Settings, target: str | Path) -> Path:
    """A consistent copy of the archive at target (SQLite's online backup: a run may be writing)."""
    storage.backup(storage.open_archive(settings, create=False), target)
    return Path(target)


def prune(settings: Settings, older_than: float, now: datetime | None = None) -> tuple[int, int]:
    """Drop the raw pages of articles no longer checked (retired, gone, redirected) and last checked
    more than older_than seconds ago; returns (versions touched, raw pages deleted). Their texts,
    diffs and changes stay; only re-extraction needs raw pages."""
    checked_before = (now or utcnow()) - timedelta(seconds=older_than)
    return storage.prune_raw_pages(storage.open_archive(settings, create=False), checked_before)


def vacuum(settings: Settings) -> tuple[int, int]:
    """Compact the archive; returns its size in bytes before and after."""
    db = storage.open_archive(settings, create=False)
    before = storage.measure_archive(db)
    storage.vacuum(db)
    return before, storage.measure_archive(db)
