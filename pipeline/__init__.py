"""Redline: track how news stories change after they are published."""

__version__ = "0.2.0"
