"""This checkout against another commit, side by side: CPU of a changed check, alternating runs.

bench_replay's ratio moves by a few hundredths from run to run on a shared machine, more than most single
changes save. This measures one change: the replay newsroom (bench_newsroom's, every corpus page) is checked
once, then round 1 (every article changed) is checked again and again on fresh copies of that archive, by
this checkout and by the other commit in turn (its own `pipeline` and `storage`, from a git worktree), one
`redline run --all` process each, as a scheduler runs it. It prints each side's CPU per changed check (start-up
included), their medians, and in how many pairs this checkout was the cheaper.

Usage: python -m benchmarks.ab COMMIT [PAIRS]   (default 11 pairs; about 12 s a pair)
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._support import ROOT, measured
from benchmarks.bench_newsroom import Newsroom, fundus_folder

REDLINE = str(Path(sys.executable).with_name("redline"))
# The other commit's CLI: its folder first on sys.path, ahead of this checkout's editable install.
OTHER = "import sys; sys.path.insert(0, sys.argv.pop(1)); from pipeline.cli import cli; sys.argv[0] = 'redline'; cli()"


def worktree(commit: str, folder: Path) -> Path:
    """commit checked out (detached) in folder, its modules compiled as `make bytecode` compiles this one's."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(folder), commit], check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder / "pipeline"), str(folder / "storage")],
                   check=True, capture_output=True)
    return folder


def main(commit: str, pairs: int = 11) -> None:
    room = Newsroom(fundus_folder(), articles=None, share=1, sites=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        other = worktree(commit, tmp / "other")
        try:
            config = room.write_config(tmp / "redline.toml", archive=tmp / "redline.db")
            run = ["run", "--all", "--config", str(config)]
            sides = {"this checkout": [REDLINE, *run], commit: [sys.executable, "-c", OTHER, str(other), *run]}
            room.round(0)
            subprocess.run(sides["this checkout"], check=True, capture_output=True)
            with sqlite3.connect(tmp / "redline.db") as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copy(tmp / "redline.db", tmp / "round0.db")
            room.round(1)
            cpu: dict[str, list[float]] = {side: [] for side in sides}
            for pair in range(pairs):
                for side in (list(sides) if pair % 2 == 0 else list(sides)[::-1]):
                    for suffix in ("-wal", "-shm"):
                        (tmp / f"redline.db{suffix}").unlink(missing_ok=True)
                    shutil.copy(tmp / "round0.db", tmp / "redline.db")
                    seconds, _ = measured(sides[side])
                    cpu[side].append(seconds / room.articles * 1000)
        finally:
            room.close()
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], check=True)
    print(f"{room.articles} changed checks a run, {pairs} pairs; CPU ms per changed check (median, then each run):")
    for side, values in cpu.items():
        print(f"  {side:16s} {statistics.median(values):6.2f}   " + " ".join(f"{value:.1f}" for value in values))
    mine, theirs = cpu.values()
    print(f"  this checkout the cheaper in {sum(a < b for a, b in zip(mine, theirs))} of {pairs} pairs")


if __name__ == "__main__":
    main(sys.argv[1], *map(int, sys.argv[2:3]))
