"""Redline: track how news stories change after they are published."""

import importlib.util
import re
import sys

__version__ = "0.2.0"

# httpx loads its command-line tool when it is imported, and with it rich and pygments when they are installed
# (Airflow installs them): 50 ms of every Redline process's start, for a tool Redline never runs. httpx
# expects that import to be able to fail (it does without click or rich), and a None in sys.modules fails it.
sys.modules.setdefault("httpx._main", None)


def import_lazily(name: str):
    """The module called name, loaded when its first attribute is read. Every process pays for what it imports
    before doing anything: a run with nothing due need not load extraction and diffing, nor `redline --help`
    storage (measure with python -X importtime)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as an import would: `import pipeline.cycle` then reads pipeline.cycle
        setattr(sys.modules[parent], child, module)
    return module


def compile_lazily(pattern: str | bytes, flags: int = 0) -> re.Pattern:
    """pattern, compiled where it is first used: for a module whose patterns only some commands use (extraction's
    walls and widgets, which `redline diff` never reads: 4 ms of its start)."""
    return _LazyPattern(pattern, flags)  # type: ignore[return-value]  (it answers as the pattern does)


class _LazyPattern:
    """A regular expression that compiles itself when a method of it is first read. The method is then kept on it,
    so every later call costs what a call of the compiled pattern's own does."""

    def __init__(self, pattern: str | bytes, flags: int):
        self._pattern, self._flags = pattern, flags

    def __getattr__(self, name: str):
        value = getattr(re.compile(self._pattern, self._flags), name)
        setattr(self, name, value)
        return value
