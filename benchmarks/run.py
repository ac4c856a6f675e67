"""Run every benchmark module (benchmarks/bench_*.py), each in a process of its own, and print its report.

Usage: python -m benchmarks.run [NAME ...]   (NAME as in bench_NAME.py)
"""

import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path


def machine() -> str:
    """One line naming the machine and the date, for benchmarks/README.md."""
    cores = len(__import__("os").sched_getaffinity(0))
    return (f"{platform.node()}: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")


def main(names: list[str]) -> None:
    here = Path(__file__).parent
    modules = names or sorted(p.stem[len("bench_"):] for p in here.glob("bench_*.py"))
    print(machine())
    failed = []
    for name in modules:
        print(f"\n== {name}", flush=True)
        # Each benchmark in a process of its own: a peak RSS it prints is its own, not the largest of every
        # benchmark run before it (bench_newsroom printed 302 MiB in one process, 172-179 alone).
        if subprocess.run([sys.executable, "-c", f"from benchmarks.bench_{name} import main; main()"]).returncode:
            failed.append(name)
    if failed:
        raise SystemExit(f"benchmarks that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
