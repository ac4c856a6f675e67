"""Redline's store: the only package that imports sqlite_utils or writes SQL."""

from storage.db import *  # noqa: F401,F403  (the public API is storage.db's __all__)
from storage.db import __all__  # noqa: F401
