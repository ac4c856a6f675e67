"""Discovery: the article URLs a feed or URL list names, canonicalised."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from pipeline.errors import FeedError
from pipeline.models import Entry

# Query parameters that track the reader, not the story: dropping them keeps one record per story.
_TRACKING_PREFIXES = ("utm_",)
_TRACKING_NAMES = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "ref", "cmpid", "ocid", "smid"}


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith(_TRACKING_PREFIXES) or name in _TRACKING_NAMES


def canonicalize_url(url: str) -> str:
    """url with scheme and host lower-cased, default port, fragment and tracking parameters dropped."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(scheme)
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def parse_feed(body: bytes, location: str) -> list[Entry]:
    """The entries of an RSS or Atom document; FeedError if it has none and cannot be read."""
    feed = feedparser.parse(body)
    if not feed.entries and (feed.bozo or not feed.version):
        reason = feed.get("bozo_exception") or "no RSS or Atom root element"
        raise FeedError(location, f"not a readable RSS or Atom feed ({reason})")
    entries = []
    for item in feed.entries:
        link = item.get("link") or next(
            (link.get("href") for link in item.get("links", []) if link.get("href")), None
        )
        if not link:
            continue
        entries.append(Entry(
            url=canonicalize_url(urljoin(location, link)),
            title=item.get("title"),
            summary=item.get("summary"),
            published=item.get("published"),
            updated=item.get("updated") if feed.version.startswith("atom") else None,
        ))
    return entries


def parse_url_list(body: bytes, location: str) -> list[Entry]:
    """One entry per http(s) URL line of a plain-text list; # starts a comment."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedError(location, f"URL list is not UTF-8 text ({exc})") from None
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            url = urljoin(location, line)
            if urlsplit(url).scheme not in ("http", "https") or any(c.isspace() for c in line):
                raise FeedError(location, f"line {line!r} is not an http(s) URL")
            entries.append(Entry(url=canonicalize_url(url)))
    return entries


def discover_entries(body: bytes, kind: str, location: str) -> list[Entry]:
    """The entries of a fetched source document of the given kind, without duplicates."""
    parse = parse_url_list if kind == "urls" else parse_feed
    unique: dict[str, Entry] = {}
    for entry in parse(body, location):
        unique.setdefault(entry.url, entry)
    return list(unique.values())
