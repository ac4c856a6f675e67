"""How each key of redline.toml is read and checked: small readers that turn a TOML value into a
setting or raise ValueError saying what was expected (config.py names the file and the key)."""

from __future__ import annotations

import os
import re
from dataclasses import field
from typing import Any, Callable
from urllib.parse import urlsplit

MAILBOX_SCHEMES = ("mbox", "maildir", "eml")
IMAP_SCHEMES = ("imaps", "imap")
LINK_FIELDS = ("article_id", "url", "from_version", "to_version", "change_id")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as "15m", "3h", "7d"."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 90, \"15m\", \"3h\" or \"7d\"")
    if isinstance(value, (int, float)) and value >= 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError("a duration such as 90, \"15m\", \"3h\" or \"7d\"")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def positive(kind: type) -> Callable[[Any], Any]:
    def read(value: Any):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"a positive {'integer' if kind is int else 'number'}")
        if kind is int and not isinstance(value, int):
            raise ValueError("a positive integer")
        return kind(value)
    return read


def fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError("a number from 0 up to (not including) 1")
    return float(value)


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value


def one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"one of {', '.join(choices)}")
        return value
    return read


def list_of(item: Callable[[Any], Any]) -> Callable[[Any], tuple]:
    def read(value: Any) -> tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValueError("a list")
        return tuple(item(v) for v in value)
    return read


def regex(value: Any) -> str:
    try:
        re.compile(text(value))
    except re.error as exc:
        raise ValueError(f"a valid regular expression ({exc})") from None
    return value


def non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("a number of 0 or more")
    return float(value)


def share(value: Any) -> float:
    """A relative change: 0.25, or "25%"."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*%\s*", value):
        return float(value.strip().rstrip("%")) / 100
    try:
        return non_negative(value)
    except ValueError:
        raise ValueError('a share such as 0.25 or "25%"') from None


def template(value: Any) -> str:
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    try:
        SandboxedEnvironment().parse(text(value))
    except TemplateSyntaxError as exc:
        raise ValueError(f"a Jinja2 template ({exc.message}, line {exc.lineno})") from None
    return value


def link(value: Any) -> str:
    import string

    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text(value)) if name is not None}
    except ValueError:
        names = {None}
    if not names <= set(LINK_FIELDS):
        raise ValueError(f"a URL with placeholders among {{{'}, {'.join(LINK_FIELDS)}}}")
    return value


def ladder(value: Any) -> tuple[tuple[float, float], ...]:
    expected = 'a list of [age, interval] pairs such as [["3h", "15m"], ["1d", "1h"]]'
    if not isinstance(value, list) or not value:
        raise ValueError(expected)
    steps = []
    for step in value:
        if not isinstance(step, list) or len(step) != 2:
            raise ValueError(expected)
        steps.append((parse_duration(step[0]), parse_duration(step[1])))
    if [age for age, _ in steps] != sorted(age for age, _ in steps):
        raise ValueError("ladder steps in increasing order of age")
    return tuple(steps)


def host_pattern(value: Any) -> tuple[str, int | None]:
    expected = 'a host name or address with an optional port, such as "intranet.example" or "127.0.0.1:8765"'
    try:
        parts = urlsplit("//" + text(value).strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError(expected) from None
    if not host or parts.path or parts.query or parts.username:
        raise ValueError(expected)
    return host, port


class UnsafeToShow(ValueError):
    """A bad value that may hold a secret: the error names the key, never the value."""


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def http_url(value: Any) -> str:
    """An http(s) URL; ${NAME} in it is the environment variable NAME, so that a credential the
    source needs lives in the environment, not in redline.toml."""
    def substitute(match: re.Match) -> str:
        if match.group(1) not in os.environ:
            raise UnsafeToShow(f"an environment variable {match.group(1)} (named in the URL), which is not set")
        return os.environ[match.group(1)]

    url = _VARIABLE.sub(substitute, text(value).strip())
    if url.split(":", 1)[0] in MAILBOX_SCHEMES + IMAP_SCHEMES and len(url.split(":", 1)[1]) > 0:
        return url  # a newsletter's mailbox: checked against its kind when the sources are read
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        from pipeline.masking import mask_url

        raise UnsafeToShow(f"an http(s) URL, got {mask_url(url)!r} (Redline reads sources over HTTP only: serve a "
                            "local file, for example with `python -m http.server --bind 127.0.0.1`, and allow its host)")
    return url


def database_url(value: Any) -> str:
    """A postgresql:// URL, or "" for none (the archive stays in its SQLite file)."""
    if not isinstance(value, str):
        raise ValueError("a postgresql:// URL, or \"\" for the SQLite file at path")
    if value and not value.startswith(("postgresql://", "postgres://")):
        from pipeline.masking import mask_url

        raise UnsafeToShow(f"a postgresql:// URL, got {mask_url(value)!r}")
    return value


def language(value: Any) -> str:
    from pipeline.figures import LANGUAGES  # the number tables load only where a language is checked

    if value not in LANGUAGES:
        raise ValueError(f"a language with figure tables ({', '.join(sorted(LANGUAGES))})")
    return value


def apprise_url(value: Any) -> str:
    # Whether Apprise can send to it is asked once the file is read (config.check_channels): that loads
    # Apprise, which a command that sends nothing need not pay for.
    url = text(value)
    if "://" not in url:
        raise UnsafeToShow("an Apprise URL it knows (no scheme:// at its start)")
    return url


def credentials(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"env:[A-Za-z_][A-Za-z0-9_]*|airflow:[\w.-]+", value):
        raise UnsafeToShow('"env:NAME" (the environment variables NAME_USER and NAME_PASSWORD) or '
                            '"airflow:CONNECTION_ID" (an Airflow Connection, when the poll runs under Airflow)')
    return value


def reader(read: Callable[[Any], Any], metadata_key: str | None = None, **kwargs):
    # metadata_key: the TOML key, where it cannot be the field's name ("from")
    return field(metadata={"read": read, "key": metadata_key}, **kwargs)
