"""Run every benchmark module (benchmarks/bench_*.py) and print its report.

Usage: python -m benchmarks.run [NAME ...]   (NAME as in bench_NAME.py)
"""

import importlib
import platform
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
    for name in modules:
        print(f"\n== {name}")
        importlib.import_module(f"benchmarks.bench_{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
