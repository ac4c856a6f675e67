"""The reading commands at two archive sizes: CPU and peak memory of each, against the rows it prints.

Two generated archives (bench_workspace's generator, kept under .airflow/bench/): 100,000 and 1,000,000
versions by default, that is about 20,000 and 200,000 articles of five versions (REDLINE_BENCH_SCALE sets
the sizes, comma-separated). Each command is one `redline` process, as a researcher's shell would start
it; its CPU and peak RSS are its own (wait4), and its output is counted in lines. A command that prints
the same rows at both sizes (one article's history, one diff, a run with nothing due) should cost the
same at both; one that prints every change or version should grow as its rows do, no faster, and its
memory should not grow at all.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

from benchmarks._support import measured
from benchmarks.bench_workspace import archive_path

SIZES = [int(size) for size in os.environ.get("REDLINE_BENCH_SCALE", "100000,1000000").split(",")]
REDLINE = str(Path(sys.executable).with_name("redline"))


# The baseline: the rows `changes --json` prints, read with plain sqlite3 (the same joins, in the same order)
# and written as JSON lines, with nothing else.
BARE_CHANGES = """
import json, sqlite3, sys
from storage.db import _CHANGE_FIELDS
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
cursor = db.execute(_CHANGE_FIELDS + " ORDER BY c.detected_at, c.id")
names = [column[0] for column in cursor.description]
write = sys.stdout.write
for row in cursor:
    write(json.dumps(dict(zip(names, row)), ensure_ascii=False) + "\\n")
"""


def commands(archive: Path) -> dict[str, list[str]]:
    """What is measured on an archive: each command with its arguments."""
    with sqlite3.connect(f"file:{archive}?mode=ro", uri=True) as db:
        # the same story at both sizes: the first with five versions (the generator numbers them alike)
        url, = db.execute("SELECT canonical_url FROM articles WHERE versions = 5 ORDER BY id LIMIT 1").fetchone()
    return {
        "changes --json": ["changes", "--json"],
        "  bare: sqlite3 + json": [sys.executable, "-c", BARE_CHANGES, str(archive)],
        "changes --kind stealth_edit": ["changes", "--kind", "stealth_edit"],
        "export --what changes": ["export", "--what", "changes"],
        "export (versions, jsonl)": ["export"],
        "history URL --json": ["history", url, "--json"],
        "diff URL --format json": ["diff", url, "--format", "json"],
        "run (nothing due)": ["run"],
    }


def measure(archive: Path) -> dict[str, tuple[float, float, int]]:
    """{command: (CPU s, peak MiB, lines printed)} on archive, through a config naming it."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "redline.toml"
        config.write_text(f'[database]\npath = "{archive}"\n', encoding="utf-8")
        output = Path(tmp) / "out"
        # The generated alerts' rules are not configured: the first runs fail them, until they are given up.
        for _ in range(6):
            measured([REDLINE, "run", "--json", "--config", str(config)], output=output)
            if not any(json.loads(output.read_text())["alerts"].values()):
                break
        for label, args in commands(archive).items():
            command = args if args[0] == sys.executable else [REDLINE, *args, "--config", str(config)]
            cpu, rss = measured(command, output=output)
            with output.open("rb") as printed:
                results[label] = (cpu, rss, sum(1 for _ in printed))
    return results


def main() -> None:
    by_size = {}
    for versions in SIZES:
        archive = archive_path(versions)
        by_size[versions] = measure(archive)
        print(f"archive of {versions:,} versions: {archive.stat().st_size / 2**20:,.0f} MiB")
    small, large = SIZES[0], SIZES[-1]
    print(f"  {'command':30s} " + " ".join(f"{f'{n:,} versions: CPU s / MiB / lines':>42s}" for n in SIZES)
          + f" {'CPU x':>6s} {'lines x':>8s}")
    for label in by_size[small]:
        cells = [f"{cpu:10.2f} s {rss:8.0f} MiB {lines:12,d}" for cpu, rss, lines in (by_size[n][label] for n in SIZES)]
        growth = by_size[large][label][0] / by_size[small][label][0]
        rows = by_size[large][label][2] / max(by_size[small][label][2], 1)
        print(f"  {label:30s} " + " ".join(f"{cell:>42s}" for cell in cells) + f" {growth:6.1f} {rows:8.1f}")


if __name__ == "__main__":
    main()
