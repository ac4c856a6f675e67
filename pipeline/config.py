"""One frozen settings object, loaded from redline.toml and the environment.

Every section is a frozen dataclass; its fields are the only keys the section
accepts, and each field's metadata says how to read and check its value. An
unknown key or a bad value raises ConfigError naming the file and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from pipeline import __version__
from pipeline.errors import ConfigError

ENV_VAR = "REDLINE_CONFIG"
DEFAULT_FILE = "redline.toml"
SOURCE_KINDS = ("rss", "atom", "sitemap", "urls", "newsletter")
MAILBOX_SCHEMES = ("mbox", "maildir", "eml")
IMAP_SCHEMES = ("imaps", "imap")
IMAP_CREDENTIALS = "env:REDLINE_IMAP"  # REDLINE_IMAP_USER and REDLINE_IMAP_PASSWORD
CHANGE_KINDS = ("figure", "headline", "byline", "correction", "sentence_added", "sentence_removed", "quote",
                "published", "modified", "stealth_edit", "summary", "gone", "redirected", "url")
FIGURE_CHANGES = ("value", "qualifier", "added", "removed")
DIRECTIONS = ("any", "up", "down")
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


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _positive(kind: type) -> Callable[[Any], Any]:
    def read(value: Any):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"a positive {'integer' if kind is int else 'number'}")
        if kind is int and not isinstance(value, int):
            raise ValueError("a positive integer")
        return kind(value)
    return read


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError("a number from 0 up to (not including) 1")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"one of {', '.join(choices)}")
        return value
    return read


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], tuple]:
    def read(value: Any) -> tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValueError("a list")
        return tuple(item(v) for v in value)
    return read


def _regex(value: Any) -> str:
    try:
        re.compile(_text(value))
    except re.error as exc:
        raise ValueError(f"a valid regular expression ({exc})") from None
    return value


def _non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("a number of 0 or more")
    return float(value)


def _share(value: Any) -> float:
    """A relative change: 0.25, or "25%"."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*%\s*", value):
        return float(value.strip().rstrip("%")) / 100
    try:
        return _non_negative(value)
    except ValueError:
        raise ValueError('a share such as 0.25 or "25%"') from None


def _template(value: Any) -> str:
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    try:
        SandboxedEnvironment().parse(_text(value))
    except TemplateSyntaxError as exc:
        raise ValueError(f"a Jinja2 template ({exc.message}, line {exc.lineno})") from None
    return value


def _link(value: Any) -> str:
    import string

    try:
        names = {name for _, name, _, _ in string.Formatter().parse(_text(value)) if name is not None}
    except ValueError:
        names = {None}
    if not names <= set(LINK_FIELDS):
        raise ValueError(f"a URL with placeholders among {{{'}, {'.join(LINK_FIELDS)}}}")
    return value


def _ladder(value: Any) -> tuple[tuple[float, float], ...]:
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


def _host_pattern(value: Any) -> tuple[str, int | None]:
    expected = 'a host name or address with an optional port, such as "intranet.example" or "127.0.0.1:8765"'
    try:
        parts = urlsplit("//" + _text(value).strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError(expected) from None
    if not host or parts.path or parts.query or parts.username:
        raise ValueError(expected)
    return host, port


class _UnsafeToShow(ValueError):
    """A bad value that may hold a secret: the error names the key, never the value."""


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _http_url(value: Any) -> str:
    """An http(s) URL; ${NAME} in it is the environment variable NAME, so that a credential the
    source needs lives in the environment, not in redline.toml."""
    def substitute(match: re.Match) -> str:
        if match.group(1) not in os.environ:
            raise _UnsafeToShow(f"an environment variable {match.group(1)} (named in the URL), which is not set")
        return os.environ[match.group(1)]

    url = _VARIABLE.sub(substitute, _text(value).strip())
    if url.split(":", 1)[0] in MAILBOX_SCHEMES + IMAP_SCHEMES and len(url.split(":", 1)[1]) > 0:
        return url  # a newsletter's mailbox: checked against its kind when the sources are read
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        from pipeline.masking import mask_url

        raise _UnsafeToShow(f"an http(s) URL, got {mask_url(url)!r} (Redline reads sources over HTTP only: serve a "
                            "local file, for example with `python -m http.server --bind 127.0.0.1`, and allow its host)")
    return url


def _language(value: Any) -> str:
    from pipeline.figures import LANGUAGES  # the number tables load only where a language is checked

    if value not in LANGUAGES:
        raise ValueError(f"a language with figure tables ({', '.join(sorted(LANGUAGES))})")
    return value


def _apprise_url(value: Any) -> str:
    from pipeline.alerts import why_undeliverable  # Apprise loads only when a rule is read

    url = _text(value)
    if reason := why_undeliverable(url):
        raise _UnsafeToShow(f"an Apprise URL it knows ({reason})")
    return url


def _credentials(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"env:[A-Za-z_][A-Za-z0-9_]*|airflow:[\w.-]+", value):
        raise _UnsafeToShow('"env:NAME" (the environment variables NAME_USER and NAME_PASSWORD) or '
                            '"airflow:CONNECTION_ID" (an Airflow Connection, when the poll runs under Airflow)')
    return value


def _reader(read: Callable[[Any], Any], metadata_key: str | None = None, **kwargs):
    # metadata_key: the TOML key, where it cannot be the field's name ("from")
    return field(metadata={"read": read, "key": metadata_key}, **kwargs)


@dataclass(frozen=True)
class DatabaseSettings:
    """Where Redline keeps its SQLite database."""

    path: str = _reader(_text, default="redline.db")
    busy_timeout: float = _reader(parse_duration, default=30.0)  # how long a write waits for another run's


@dataclass(frozen=True)
class NetworkSettings:
    """How fetches behave: timeouts, caps, and which addresses may be reached."""

    allow_private: bool = _reader(_boolean, default=False)
    connect_timeout: float = _reader(parse_duration, default=5.0)
    read_timeout: float = _reader(parse_duration, default=20.0)
    max_bytes: int = _reader(_positive(int), default=5_000_000)
    max_redirects: int = _reader(_positive(int), default=5)
    total_timeout: float = _reader(parse_duration, default=60.0)
    # Politeness: at most host_connections requests in flight per host (per process), each
    # starting at least host_delay after the previous one to that host (across processes);
    # robots.txt's Crawl-delay raises host_delay, up to max_crawl_delay.
    max_connections: int = _reader(_positive(int), default=8)
    host_connections: int = _reader(_positive(int), default=2)
    host_delay: float = _reader(parse_duration, default=1.0)
    max_crawl_delay: float = _reader(parse_duration, default=30.0)
    # (host, port or None) pairs that may be reached at private addresses while allow_private is false.
    allow_hosts: tuple = _reader(_list_of(_host_pattern), default=())
    user_agent: str = _reader(
        _text, default=f"Redline/{__version__} (news revision tracker; +https://example.org/redline)"
    )
    robots_ttl: float = _reader(parse_duration, default=86400.0)  # RFC 9309: a cached robots.txt lasts a day at most
    robots_retry: float = _reader(parse_duration, default=3600.0)  # after a robots.txt that could not be fetched
    max_resolved: int = _reader(_positive(int), default=50)  # redirect wrappers resolved per poll; others at first check
    sitemap_children: int = _reader(_positive(int), default=10)  # newest children of a sitemap index read per poll
    archive_issues: int = _reader(_positive(int), default=20)  # newest issues of a newsletter's web archive per poll


# NewsDiffs' ladder: the longer a story has gone without a change, the less often it is checked.
DEFAULT_LADDER = (
    (3 * 3600.0, 15 * 60.0),
    (86400.0, 3600.0),
    (7 * 86400.0, 3 * 3600.0),
    (30 * 86400.0, 3 * 86400.0),
    (365 * 86400.0, 30 * 86400.0),
)


@dataclass(frozen=True)
class ScheduleSettings:
    """When articles are checked again, and how checks are batched."""

    ladder: tuple = _reader(_ladder, default=DEFAULT_LADDER)
    jitter: float = _reader(_fraction, default=0.1)
    batch_size: int = _reader(_positive(int), default=50)
    lease: float = _reader(parse_duration, default=600.0)
    # After a failed fetch: retry after failure_backoff, doubling per failure up to max_backoff;
    # failing_after failures in a row mark the article failing (until a fetch succeeds).
    failure_backoff: float = _reader(parse_duration, default=900.0)
    max_backoff: float = _reader(parse_duration, default=86400.0)
    failing_after: int = _reader(_positive(int), default=5)
    gone_after: int = _reader(_positive(int), default=3)  # 404/410 answers in a row before an article is gone
    # A host that answered 429 or 503: its Retry-After (up to max_retry_after), else throttle_backoff
    # doubling per throttle up to max_throttle.
    throttle_backoff: float = _reader(parse_duration, default=60.0)
    max_throttle: float = _reader(parse_duration, default=6 * 3600.0)
    max_retry_after: float = _reader(parse_duration, default=86400.0)


@dataclass(frozen=True)
class DiffSettings:
    """What counts as noise, as a wall, or as a collapse when comparing versions."""

    ignore: tuple = _reader(_list_of(_regex), default=())
    walls: tuple = _reader(_list_of(_regex), default=())  # pages that stand in for the article: no version
    shrink: float = _reader(_fraction, default=0.5)  # a text below this share of the last is held as suspect
    language: str = _reader(_language, default="en")  # the figure tables articles are read with


@dataclass(frozen=True)
class DeliverySettings:
    """How alerts are sent: retries with backoff, time limits, channels served at once."""

    max_attempts: int = _reader(_positive(int), default=10)  # about four hours of retries, then abandoned
    first_retry: float = _reader(parse_duration, default=60.0)  # after a failed attempt; doubles per attempt
    last_retry: float = _reader(parse_duration, default=3600.0)
    send_timeout: float = _reader(parse_duration, default=120.0)  # one message, whatever the channel's own
    claim_timeout: float = _reader(parse_duration, default=900.0)  # a claim this old: its run died sending
    channels: int = _reader(_positive(int), default=8)  # channels delivered to at once


@dataclass(frozen=True)
class SourceSettings:
    """One place where articles are discovered."""

    name: str = _reader(_text)
    kind: str = _reader(_one_of(SOURCE_KINDS))
    url: str = _reader(_http_url)
    ignore: tuple = _reader(_list_of(_regex), default=())  # noise lines of this source only
    include: tuple = _reader(_list_of(_regex), default=())  # track only URLs matching one of these
    exclude: tuple = _reader(_list_of(_regex), default=())  # never track URLs matching one of these
    robots: bool = _reader(_boolean, default=True)          # honour robots.txt for this source's URLs
    ladder: tuple | None = _reader(_ladder, default=None)   # this source's recheck ladder (else schedule.ladder)
    # Newsletters only: read only messages from one of these senders (any part of From) or lists (List-Id).
    senders: tuple = _reader(_list_of(_text), default=(), metadata_key="from")
    # IMAP only: "env:NAME" reads NAME_USER and NAME_PASSWORD from the environment, "airflow:ID" an Airflow
    # Connection's login and password (under Airflow); never from this file.
    credentials: str = _reader(_credentials, default=IMAP_CREDENTIALS)
    list_ids: tuple = _reader(_list_of(_text), default=(), metadata_key="list_id")


@dataclass(frozen=True)
class RuleSettings:
    """An alert rule: which changes it selects, where it sends them and how the message reads."""

    name: str = _reader(_text)
    urls: tuple = _reader(_list_of(_apprise_url))
    kinds: tuple = _reader(_list_of(_one_of(CHANGE_KINDS)), default=("figure",))
    keywords: tuple = _reader(_list_of(_text), default=())  # any of them, anywhere in the change
    pattern: str | None = _reader(_regex, default=None)  # searched in the same text, ignoring case
    sources: tuple = _reader(_list_of(_text), default=())  # source names; none means every source
    figure_changes: tuple = _reader(_list_of(_one_of(FIGURE_CHANGES)), default=FIGURE_CHANGES)
    min_change: float = _reader(_non_negative, default=0.0)  # absolute, for figure values
    min_relative: float = _reader(_share, default=0.0)  # 0.1 or "10%" of the old value
    direction: str = _reader(_one_of(DIRECTIONS), default="any")
    debounce: float = _reader(parse_duration, default=0.0)  # gather an article's changes this long
    template: str | None = _reader(_template, default=None)  # Jinja2, rendered once per change
    diff_link: str | None = _reader(_link, default=None)  # e.g. "https://r.example/{article_id}/{to_version}"

    @property
    def has_threshold(self) -> bool:
        """Whether the rule asks figures for a size or direction of change."""
        return bool(self.min_change or self.min_relative or self.direction != "any")


@dataclass(frozen=True)
class Settings:
    """Everything Redline needs to run, resolved to absolute paths."""

    path: Path | None
    database: Path
    busy_timeout: float = 30.0
    network: NetworkSettings = NetworkSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    diff: DiffSettings = DiffSettings()
    delivery: DeliverySettings = DeliverySettings()
    sources: tuple[SourceSettings, ...] = ()
    alerts: tuple[RuleSettings, ...] = ()

    def source(self, name: str) -> SourceSettings:
        """The source called name, or ConfigError naming it."""
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(self.path or DEFAULT_FILE, f"sources.{name}", "a configured source name")

    def schedule_for(self, source: SourceSettings | None) -> ScheduleSettings:
        """The schedule that applies to a source's articles: its own ladder if it has one."""
        if source is None or source.ladder is None:
            return self.schedule
        return replace(self.schedule, ladder=source.ladder)

    def diff_for(self, source: SourceSettings | None) -> DiffSettings:
        """The diff settings that apply to a source's articles: the global noise patterns, then its own."""
        if source is None or not source.ignore:
            return self.diff
        return replace(self.diff, ignore=self.diff.ignore + source.ignore)


def _build(cls, table: Any, path: Path | str, prefix: str):
    if not isinstance(table, dict):
        raise ConfigError(path, prefix, "a table")
    known = {f.metadata.get("key") or f.name: f for f in fields(cls)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(path, f"{prefix}.{unknown[0]}", f"one of the keys {', '.join(known)}")
    values = {}
    for name, spec in known.items():
        if name not in table:
            if spec.default is MISSING:
                raise ConfigError(path, f"{prefix}.{name}", "a value (this key is required)")
            continue
        try:
            values[spec.name] = spec.metadata["read"](table[name])
        except _UnsafeToShow as exc:
            raise ConfigError(path, f"{prefix}.{name}", f"expected {exc}") from None
        except ValueError as exc:
            raise ConfigError(path, f"{prefix}.{name}", f"expected {exc}, got {table[name]!r}") from None
    return cls(**values)


def _build_list(cls, items: Any, path: Path | str, prefix: str) -> tuple:
    if not isinstance(items, list):
        raise ConfigError(path, prefix, f"an array of tables ([[{prefix}]])")
    built = tuple(_build(cls, item, path, f"{prefix}[{i}]") for i, item in enumerate(items))
    names = [item.name for item in built]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(path, f"{prefix}[{i}].name", f"a unique name ({name!r} is used twice)")
    return built


def settings_from_dict(data: dict, path: Path | None = None) -> Settings:
    """Settings from an already parsed TOML document; relative paths are resolved against its folder."""
    where = path or "<settings>"
    sections = {"database", "network", "schedule", "diff", "delivery", "sources", "alerts"}
    unknown = sorted(set(data) - sections)
    if unknown:
        raise ConfigError(where, unknown[0], f"one of the sections {', '.join(sorted(sections))}")
    database = _build(DatabaseSettings, data.get("database", {}), where, "database")
    base = path.parent if path else Path.cwd()
    sources = _check_source_urls(_build_list(SourceSettings, data.get("sources", []), where, "sources"), base, where)
    return Settings(
        path=path,
        database=(base / database.path).resolve(),
        busy_timeout=database.busy_timeout,
        network=_build(NetworkSettings, data.get("network", {}), where, "network"),
        schedule=_build(ScheduleSettings, data.get("schedule", {}), where, "schedule"),
        diff=_build(DiffSettings, data.get("diff", {}), where, "diff"),
        delivery=_build(DeliverySettings, data.get("delivery", {}), where, "delivery"),
        sources=sources,
        alerts=_check_rule_sources(_build_list(RuleSettings, data.get("alerts", []), where, "alerts"), sources, where),
    )


def _check_source_urls(sources: tuple, base: Path, path: Path | str) -> tuple:
    # A newsletter reads a mailbox (made absolute here, against the config file's folder); the others read http(s).
    checked = []
    for i, source in enumerate(sources):
        scheme = source.url.split(":", 1)[0]
        if source.kind == "newsletter":
            if scheme not in MAILBOX_SCHEMES + IMAP_SCHEMES + ("http", "https"):
                raise ConfigError(path, f"sources[{i}].url", "for a newsletter, imaps://HOST/FOLDER, mbox:PATH, "
                                  "maildir:PATH, eml:FOLDER or the https:// feed of its web archive")
            if scheme in MAILBOX_SCHEMES:
                source = replace(source, url=f"{scheme}:{(base / source.url.split(':', 1)[1]).resolve()}")
            elif "@" in source.url.split("//", 1)[1].split("/", 1)[0]:
                raise ConfigError(path, f"sources[{i}].url", "no user or password in the URL: they come from the "
                                  "environment (credentials = \"env:NAME\")")
        elif scheme in MAILBOX_SCHEMES:
            raise ConfigError(path, f"sources[{i}].url", f"an http(s) URL for kind {source.kind!r} "
                              "(a mailbox is read by kind = \"newsletter\")")
        elif source.senders or source.list_ids:
            raise ConfigError(path, f"sources[{i}]", "from and list_id only for kind = \"newsletter\"")
        checked.append(source)
    return tuple(checked)


def _check_rule_sources(rules: tuple, sources: tuple, path: Path | str) -> tuple:
    names = [source.name for source in sources]
    for i, rule in enumerate(rules):
        for name in rule.sources:
            if name not in names:
                raise ConfigError(path, f"alerts[{i}].sources", f"names of configured sources ({', '.join(names) or 'none'}), "
                                                                f"got {name!r}")
    return rules


def locate_config(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config file to use: the one given, else $REDLINE_CONFIG, else ./redline.toml if present."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    default = Path(DEFAULT_FILE)
    return default if default.exists() else None


def load_settings(explicit: str | os.PathLike | None = None) -> Settings:
    """Read and check the config file (see locate_config); defaults when there is none."""
    path = locate_config(explicit)
    if path is None:
        return settings_from_dict({})
    path = path.resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found (expected a TOML file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"is not valid TOML ({exc})") from None
    return settings_from_dict(data, path)
