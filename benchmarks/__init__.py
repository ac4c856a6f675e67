"""Reproducible performance runs; `make bench` runs them all. Not part of the test suite."""
