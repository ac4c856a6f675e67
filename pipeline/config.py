"""One frozen settings object, loaded from redline.toml and the environment.

Every section is a frozen dataclass; its fields are the only keys the section
accepts, and each field's metadata says how to read and check its value. An
unknown key or a bad value raises ConfigError naming the file and the key.
"""

# Annotations evaluated, not strings: see pipeline/models.py.

import os
import tomllib
from dataclasses import MISSING, fields, replace
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.errors import ConfigError
from pipeline.masking import mask_url
from pipeline.models import record
from pipeline.values import (IMAP_SCHEMES, MAILBOX_SCHEMES, UnsafeToShow, apprise_url, boolean, credentials,
                             database_url, fraction, host_pattern, http_url, ladder, language, link, list_of,
                             non_negative, one_of, parse_duration, positive, reader, regex, share, template, text)

ENV_VAR = "REDLINE_CONFIG"
DATABASE_URL_VAR = "REDLINE_DATABASE_URL"  # the archive on PostgreSQL, whatever the file says
DEFAULT_FILE = "redline.toml"
SOURCE_KINDS = ("rss", "atom", "sitemap", "urls", "newsletter")
IMAP_CREDENTIALS = "env:REDLINE_IMAP"  # REDLINE_IMAP_USER and REDLINE_IMAP_PASSWORD
CHANGE_KINDS = ("figure", "headline", "byline", "correction", "sentence_added", "sentence_removed", "quote",
                "published", "modified", "stealth_edit", "summary", "gone", "redirected", "url")
FIGURE_CHANGES = ("value", "qualifier", "added", "removed")
DIRECTIONS = ("any", "up", "down")

@record
class DatabaseSettings:
    """Where Redline keeps its archive: an SQLite file (path), or a PostgreSQL server (url)."""

    path: str = reader(text, default="redline.db")
    url: str = reader(database_url, default="")  # postgresql://user@host:port/database; $REDLINE_DATABASE_URL wins
    busy_timeout: float = reader(parse_duration, default=30.0)  # how long a write waits for another run's
    # SQLite's synchronous: "normal" syncs the write-ahead log at checkpoints, and a power cut (not a crash of
    # Redline) can lose the last commits; "full" syncs it at every commit. PostgreSQL has its own settings.
    synchronous: str = reader(one_of(("normal", "full")), default="normal")


@record
class NetworkSettings:
    """How fetches behave: timeouts, caps, and which addresses may be reached."""

    allow_private: bool = reader(boolean, default=False)
    connect_timeout: float = reader(parse_duration, default=5.0)
    read_timeout: float = reader(parse_duration, default=20.0)
    max_bytes: int = reader(positive(int), default=5_000_000)
    max_redirects: int = reader(positive(int), default=5)
    total_timeout: float = reader(parse_duration, default=60.0)
    # Politeness: at most host_connections requests in flight per host (per process; across every
    # worker on a PostgreSQL archive), each starting at least host_delay after the previous one to
    # that host (across processes);
    # robots.txt's Crawl-delay raises host_delay, up to max_crawl_delay.
    max_connections: int = reader(positive(int), default=8)
    host_connections: int = reader(positive(int), default=2)
    host_delay: float = reader(parse_duration, default=1.0)
    max_crawl_delay: float = reader(parse_duration, default=30.0)
    # (host, port or None) pairs that may be reached at private addresses while allow_private is false.
    allow_hosts: tuple = reader(list_of(host_pattern), default=())
    user_agent: str = reader(
        text, default=f"Redline/{__version__} (news revision tracker; +https://example.org/redline)"
    )
    robots_ttl: float = reader(parse_duration, default=86400.0)  # RFC 9309: a cached robots.txt lasts a day at most
    robots_retry: float = reader(parse_duration, default=3600.0)  # after a robots.txt that could not be fetched
    max_resolved: int = reader(positive(int), default=50)  # redirect wrappers resolved per poll; others at first check
    sitemap_children: int = reader(positive(int), default=10)  # newest children of a sitemap index read per poll
    archive_issues: int = reader(positive(int), default=20)  # newest issues of a newsletter's web archive per poll


# NewsDiffs' ladder: the longer a story has gone without a change, the less often it is checked.
DEFAULT_LADDER = (
    (3 * 3600.0, 15 * 60.0),
    (86400.0, 3600.0),
    (7 * 86400.0, 3 * 3600.0),
    (30 * 86400.0, 3 * 86400.0),
    (365 * 86400.0, 30 * 86400.0),
)


@record
class ScheduleSettings:
    """When articles are checked again, and how checks are batched."""

    ladder: tuple = reader(ladder, default=DEFAULT_LADDER)
    jitter: float = reader(fraction, default=0.1)
    batch_size: int = reader(positive(int), default=50)
    lease: float = reader(parse_duration, default=600.0)
    one_cpu: bool = reader(boolean, default=True)  # a batch's threads share the CPU it began on (see check._one_cpu)
    # After a failed fetch: retry after failure_backoff, doubling per failure up to max_backoff;
    # failing_after failures in a row mark the article failing (until a fetch succeeds).
    failure_backoff: float = reader(parse_duration, default=900.0)
    max_backoff: float = reader(parse_duration, default=86400.0)
    failing_after: int = reader(positive(int), default=5)
    gone_after: int = reader(positive(int), default=3)  # 404/410 answers in a row before an article is gone
    # A host that answered 429 or 503: its Retry-After (up to max_retry_after), else throttle_backoff
    # doubling per throttle up to max_throttle.
    throttle_backoff: float = reader(parse_duration, default=60.0)
    max_throttle: float = reader(parse_duration, default=6 * 3600.0)
    max_retry_after: float = reader(parse_duration, default=86400.0)


@record
class DiffSettings:
    """What counts as noise, as a wall, or as a collapse when comparing versions."""

    ignore: tuple = reader(list_of(regex), default=())
    walls: tuple = reader(list_of(regex), default=())  # pages that stand in for the article: no version
    shrink: float = reader(fraction, default=0.5)  # a text below this share of the last is held as suspect
    language: str = reader(language, default="en")  # the figure tables articles are read with


@record
class DeliverySettings:
    """How alerts are sent: retries with backoff, time limits, channels served at once."""

    max_attempts: int = reader(positive(int), default=10)  # about four hours of retries, then abandoned
    first_retry: float = reader(parse_duration, default=60.0)  # after a failed attempt; doubles per attempt
    last_retry: float = reader(parse_duration, default=3600.0)
    send_timeout: float = reader(parse_duration, default=120.0)  # one message, whatever the channel's own
    claim_timeout: float = reader(parse_duration, default=900.0)  # a claim this old: its run died sending
    channels: int = reader(positive(int), default=8)  # channels delivered to at once


@record
class WebSettings:
    """The researcher's workspace (`redline serve`): where it listens, and the address others reach it at."""

    host: str = reader(text, default="127.0.0.1")  # another address exposes the archive: set a token then
    port: int = reader(positive(int), default=8050)
    # The workspace's public address: alerts and the Atom feed link each change to its diff page there.
    base_url: str | None = reader(http_url, default=None)
    token_env: str = reader(text, default="REDLINE_WEB_TOKEN")  # the variable holding the access token, if any


@record
class SourceSettings:
    """One place where articles are discovered."""

    name: str = reader(text)
    kind: str = reader(one_of(SOURCE_KINDS))
    url: str = reader(http_url)
    ignore: tuple = reader(list_of(regex), default=())  # noise lines of this source only
    include: tuple = reader(list_of(regex), default=())  # track only URLs matching one of these
    exclude: tuple = reader(list_of(regex), default=())  # never track URLs matching one of these
    robots: bool = reader(boolean, default=True)          # honour robots.txt for this source's URLs
    ladder: tuple | None = reader(ladder, default=None)   # this source's recheck ladder (else schedule.ladder)
    # Newsletters only: read only messages from one of these senders (any part of From) or lists (List-Id).
    senders: tuple = reader(list_of(text), default=(), metadata_key="from")
    # IMAP only: "env:NAME" reads NAME_USER and NAME_PASSWORD from the environment, "airflow:ID" an Airflow
    # Connection's login and password (under Airflow); never from this file.
    credentials: str = reader(credentials, default=IMAP_CREDENTIALS)
    list_ids: tuple = reader(list_of(text), default=(), metadata_key="list_id")


@record
class RuleSettings:
    """An alert rule: which changes it selects, where it sends them and how the message reads."""

    name: str = reader(text)
    urls: tuple = reader(list_of(apprise_url))
    kinds: tuple = reader(list_of(one_of(CHANGE_KINDS)), default=("figure",))
    keywords: tuple = reader(list_of(text), default=())  # any of them, anywhere in the change
    pattern: str | None = reader(regex, default=None)  # searched in the same text, ignoring case
    sources: tuple = reader(list_of(text), default=())  # source names; none means every source
    figure_changes: tuple = reader(list_of(one_of(FIGURE_CHANGES)), default=FIGURE_CHANGES)
    min_change: float = reader(non_negative, default=0.0)  # absolute, for figure values
    min_relative: float = reader(share, default=0.0)  # 0.1 or "10%" of the old value
    direction: str = reader(one_of(DIRECTIONS), default="any")
    debounce: float = reader(parse_duration, default=0.0)  # gather an article's changes this long
    template: str | None = reader(template, default=None)  # Jinja2, rendered once per change
    diff_link: str | None = reader(link, default=None)  # e.g. "https://r.example/{article_id}/{to_version}"

    @property
    def has_threshold(self) -> bool:
        """Whether the rule asks figures for a size or direction of change."""
        return bool(self.min_change or self.min_relative or self.direction != "any")


@record
class Settings:
    """Everything Redline needs to run, resolved to absolute paths."""

    path: Path | None
    database: Path
    busy_timeout: float = 30.0
    synchronous: str = "normal"
    database_url: str | None = None  # the archive on PostgreSQL; None: the SQLite file at database
    network: NetworkSettings = NetworkSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    diff: DiffSettings = DiffSettings()
    delivery: DeliverySettings = DeliverySettings()
    web: WebSettings = WebSettings()
    sources: tuple[SourceSettings, ...] = ()
    alerts: tuple[RuleSettings, ...] = ()

    @property
    def archive_location(self) -> str | Path:
        """Where the archive is: the server's URL, else the SQLite file."""
        return self.database_url or self.database

    @property
    def archive(self) -> str:
        """Where the archive is, for messages: the file, or the server's URL with its password masked."""
        return mask_url(self.database_url) if self.database_url else str(self.database)

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
        except UnsafeToShow as exc:
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
    sections = {"database", "network", "schedule", "diff", "delivery", "web", "sources", "alerts"}
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
        synchronous=database.synchronous,
        database_url=database.url or None,
        network=_build(NetworkSettings, data.get("network", {}), where, "network"),
        schedule=_build(ScheduleSettings, data.get("schedule", {}), where, "schedule"),
        diff=_build(DiffSettings, data.get("diff", {}), where, "diff"),
        delivery=_build(DeliverySettings, data.get("delivery", {}), where, "delivery"),
        web=_build(WebSettings, data.get("web", {}), where, "web"),
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


def check_channels(settings: Settings) -> Settings:
    """settings, once Apprise knows how to send to every alert rule's URL; else ConfigError naming the rule's
    key and the scheme (never the rest of the URL: it may hold secrets)."""
    if not any(rule.urls for rule in settings.alerts):
        return settings
    from pipeline.alerts import why_undeliverable  # Apprise loads only here and where a message goes out

    for i, rule in enumerate(settings.alerts):
        for url in rule.urls:
            if reason := why_undeliverable(url):
                raise ConfigError(settings.path or "<settings>", f"alerts[{i}].urls",
                                  f"expected an Apprise URL it knows ({reason})")
    return settings


def locate_config(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config file to use: the one given, else $REDLINE_CONFIG, else ./redline.toml if present."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    default = Path(DEFAULT_FILE)
    return default if default.exists() else None


def load_settings(explicit: str | os.PathLike | None = None, channels: bool = True) -> Settings:
    """Read and check the config file (see locate_config); defaults when there is none. channels=False skips
    asking Apprise about the alert rules' URLs (check_channels): for commands that send nothing."""
    path = locate_config(explicit)
    settings = settings_from_dict({}) if path is None else settings_from_dict(_read_toml(path.resolve()), path.resolve())
    if os.environ.get(DATABASE_URL_VAR):
        try:
            settings = replace(settings, database_url=database_url(os.environ[DATABASE_URL_VAR]))
        except ValueError as exc:
            raise ConfigError("environment", DATABASE_URL_VAR, str(exc)) from None
    return check_channels(settings) if channels else settings


def settings_from_text(text: str, name: str) -> Settings:
    """Settings from TOML text held somewhere other than a file (an Airflow Variable, say), named in errors;
    relative paths resolve against the working folder."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, None, f"is not valid TOML ({exc})") from None
    return settings_from_dict(data, None)


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found (expected a TOML file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"is not valid TOML ({exc})") from None
