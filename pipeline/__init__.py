"""Redline: track how news stories change after they are published."""

__version__ = "0.1.0"
