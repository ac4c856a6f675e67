"""Secrets in URLs: what is stored, shown and logged of a URL is its masked form.

A source URL may carry credentials (`https://user:pass@host/feed?apikey=...`). The fetcher needs
them; the archive, the logs and error messages never get them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from logging import LogRecord

MASK = "****"
# Query keys whose values are credentials; "+Header" and "-param" values travel to the server too.
SECRET_KEY = re.compile(r"^[+-]|token|key|secret|pass|auth|sig|hash|code|hook|cred|bearer|(^|_)id$", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s'\"<>]+")


def mask_url(url: str) -> str:
    """url with its password and the values of credential-like query keys replaced by ****."""
    try:
        parts = urlsplit(url)
        password, username = parts.password, parts.username
    except ValueError:
        return url
    netloc = parts.netloc
    if password is not None or username is not None:
        host = netloc.rsplit("@", 1)[1]
        netloc = f"{username or ''}:{MASK}@{host}" if password is not None else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(value and SECRET_KEY.search(key) for key, value in pairs):
            query = urlencode([(key, MASK if value and SECRET_KEY.search(key) else value) for key, value in pairs],
                              safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def mask_text(text: str | None) -> str | None:
    """text with every http(s) URL in it masked."""
    return _URL.sub(lambda match: mask_url(match.group(0)), text) if text else text


class RewritingFilter:
    """Rewrites a log record's text (its message and its traceback) before any handler writes it out:
    how secrets are kept out of the logs of libraries Redline does not control.

    A logger takes any object with a filter method: this one is no logging.Filter, so that the commands
    that import this module and never log do not load logging (3 ms of their start)."""

    def rewrite(self, text: str) -> str:
        return text

    def filter(self, record: LogRecord) -> bool:
        message = record.getMessage()
        if (rewritten := self.rewrite(message)) != message:
            record.msg, record.args = rewritten, None
        if record.exc_info:
            import logging  # (loaded: a record is being logged)

            traceback = logging.Formatter().formatException(record.exc_info)
            if (rewritten := self.rewrite(traceback)) != traceback:
                record.exc_text, record.exc_info = rewritten, None
        return True


def install_filter(log_filter: RewritingFilter, names: Iterable[str]) -> None:
    """Put log_filter on each named logger (once)."""
    import logging

    for name in names:
        logger = logging.getLogger(name)
        if log_filter not in logger.filters:
            logger.addFilter(log_filter)

