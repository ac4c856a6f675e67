"""Datasette's connections get the SQL functions a Redline archive's schema calls (make explore): with them
the view version_texts shows each version's plain text, and the full-text search quotes it."""

from datasette import hookimpl

from storage.sqlite import add_functions


@hookimpl
def prepare_connection(conn):
    add_functions(conn)
