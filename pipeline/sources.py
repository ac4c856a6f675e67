"""Discovery: the article URLs that feeds, sitemaps and URL lists name, one canonical URL per story.

Pure functions of bytes and strings; fetching (including resolving redirect wrappers)
happens in pipeline.fetch, called from pipeline.cycle.
"""

from __future__ import annotations

import html
import re
import zlib
from calendar import timegm
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree

from pipeline.errors import FeedError, InvalidURLError
from pipeline.models import Entry, record, to_iso

# Query parameters that track the reader, not the story: dropping them keeps one record per story.
# (courlan's own list also drops "source", "ref*" and "uid" parameters, which can name the story.)
_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "at_", "wt_")
_TRACKING_NAMES = {
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
    "ref", "cmpid", "ocid", "smid", "_ga", "_gl", "mkt_tok", "oly_enc_id", "oly_anon_id", "vero_id",
    "wt.mc_id", "xtor", "ito", "cmp", "s_cid", "spm",
}
# Hosts whose links only redirect to the story: resolved once (a request that reads no body), then remembered.
REDIRECT_WRAPPERS = {
    "feedproxy.google.com", "feeds.feedburner.com", "feeds.feedblitz.com", "rss.feedsportal.com",
    "t.co", "bit.ly", "ow.ly", "buff.ly", "dlvr.it", "trib.al", "lnkd.in", "tinyurl.com", "rebrand.ly",
}
# Wrappers that carry the story's URL in a query parameter: unwrapped without any request.
_QUERY_WRAPPERS = {
    ("www.google.com", "/url"): ("url", "q"), ("google.com", "/url"): ("url", "q"),
    ("l.facebook.com", "/l.php"): ("u",), ("lm.facebook.com", "/l.php"): ("u",),
    ("out.reddit.com", ""): ("url",), ("www.bing.com", "/news/apiclick.aspx"): ("url",),
    ("t.umblr.com", "/redirect"): ("z",),
}
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for one uncompressed sitemap
_TAGS = re.compile(r"<[^>]*>")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""")


# URLs ------------------------------------------------------------------------------------

def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith(_TRACKING_PREFIXES) or name in _TRACKING_NAMES


def canonicalize_url(url: str) -> str:
    """url with scheme, host and port normalised (courlan cleans feed debris and decodes punycode),
    the path's escapes normalised, and the fragment, tracking parameters and a trailing slash
    dropped; InvalidURLError if it cannot be read as a URL."""
    try:
        return _canonical(url)
    except ValueError as exc:  # a bad port, IPv6 literal or IDNA label
        raise InvalidURLError(url, f"not a readable URL ({exc})") from None


def _canonical(url: str) -> str:
    parts = urlsplit(_scrubbed(url.strip()))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    if "xn--" in netloc:  # punycode, decoded by courlan; a host without any it leaves as it is
        import courlan

        netloc = urlsplit(courlan.normalize_url(urlunsplit((scheme, netloc, "", "", "")))).netloc
    path = _normalise_path(parts.path)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


# A URL in which courlan.scrub_url finds nothing to clean: ASCII, no white space, markup, quote or brace (what its
# patterns look for), one scheme, no "&amp;" or trailing "/&", and not a bare host with a trailing slash.
_PLAIN_URL = re.compile(r"https?://[!#-;=?-z|~]+")


def _scrubbed(url: str) -> str:
    """courlan.scrub_url(url), without loading courlan (with urllib3 and the public suffix list: 35 ms of a run)
    for the URLs it leaves as they are: nearly every URL a sitemap or feed names."""
    if (_PLAIN_URL.fullmatch(url) and url.count("://") == 1 and "&amp;" not in url and not url.endswith("/&")
            and not (url.count("/") == 3 and url.endswith("/"))):
        return url
    import courlan

    return courlan.scrub_url(url)


def _normalise_path(path: str) -> str:
    # RFC 3986 normalisation only: what must be escaped is, escapes are upper-case, unreserved
    # characters are not escaped. Reserved characters (& + @ ; …) stay as they are: a server
    # need not treat "%26" as "&".
    path = quote(path, safe="/:@!$&'()*+,;=%-._~")
    path = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if chr(int(m.group(1), 16)) in _UNRESERVED
                       else m.group(0).upper(), path)
    path = re.sub(r"/{2,}", "/", path) or "/"
    return path.rstrip("/") if len(path) > 1 and path.endswith("/") else path


def unwrap_url(url: str) -> str:
    """The story URL inside a query-parameter wrapper (google.com/url?q=…, l.facebook.com/l.php?u=…), else url."""
    parts = urlsplit(url)
    names = _QUERY_WRAPPERS.get(((parts.hostname or "").lower(), parts.path.rstrip("/")))
    if names:
        params = dict(parse_qsl(parts.query))
        inner = next((params[n] for n in names if params.get(n, "").startswith(("http://", "https://"))), None)
        if inner:
            return unwrap_url(inner)
    return url


def needs_resolving(url: str) -> bool:
    """Whether url is a redirect wrapper (feedproxy and link shorteners) whose target must be fetched to be known."""
    return (urlsplit(url).hostname or "").lower() in REDIRECT_WRAPPERS


def is_trackable(url: str) -> bool:
    """Whether url can be an article: http(s) with a host."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def same_site(first: str, second: str) -> bool:
    """Whether two URLs belong to one site: the same registrable domain, or for an address or a
    single-label host (localhost), the same host and port."""
    one, two = urlsplit(first), urlsplit(second)
    if not one.hostname or not two.hostname:
        return False
    if (one.hostname, one.port) == (two.hostname, two.port):
        return True  # one host: one site, without loading courlan (35 ms) and asking it twice (0.2 ms a check)
    import courlan

    domains = courlan.extract_domain(first), courlan.extract_domain(second)
    if all(domains):
        return domains[0] == domains[1]
    return (one.hostname, one.port) == (two.hostname, two.port)


def find_canonical_link(page: bytes, page_url: str) -> str | None:
    """The canonical URL a page declares (<link rel="canonical">), canonicalised, when it can be trusted:
    on the page's own site and not the site's front page (some sites declare that on every page)."""
    for tag in _LINK_TAG.finditer(page[:262144]):
        attributes = {m.group(1).lower(): (m.group(2) or m.group(3) or m.group(4) or b"")
                      for m in _ATTRIBUTE.finditer(tag.group(0))}
        if b"canonical" not in attributes.get(b"rel", b"").lower().split() or not attributes.get(b"href"):
            continue
        href = html.unescape(attributes[b"href"].decode("utf-8", "replace")).strip()
        try:
            url = canonicalize_url(urljoin(page_url, href))
        except InvalidURLError:
            return None
        if is_trackable(url) and same_site(url, page_url) and urlsplit(url).path not in ("", "/"):
            return url
        return None
    return None


def story_url(link: str, location: str) -> str:
    """The canonical URL of a link found in a source at location (relative links, query wrappers)."""
    try:
        unwrapped = unwrap_url(urljoin(location, link.strip()))
    except ValueError as exc:  # e.g. a broken IPv6 literal
        raise InvalidURLError(link, f"not a readable URL ({exc})") from None
    return canonicalize_url(unwrapped)


# Feeds -----------------------------------------------------------------------------------

def feed_text(value: str | None) -> str | None:
    """Plain text of a feed title or summary: tags dropped, entities decoded, spaces collapsed."""
    if not value:
        return None
    text = " ".join(html.unescape(_TAGS.sub(" ", value)).split())
    return text or None


def _iso_from_struct(parsed) -> str | None:
    try:
        return to_iso(datetime.fromtimestamp(timegm(parsed), tz=timezone.utc))
    except (TypeError, ValueError, OverflowError):
        return None


def _iso_from_text(value: str | None) -> str | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return to_iso(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


def parse_feed(body: bytes, location: str) -> list[Entry]:
    """The entries of an RSS or Atom document; FeedError if it has none and cannot be read.
    Entries whose link is missing or not an http(s) URL are skipped."""
    import feedparser  # here: a sitemap's poll and an article's check do without it (9 ms of start-up)

    feed = feedparser.parse(body)
    # .get throughout: a result may lack any key (no "version" when feedparser gave up early).
    if not feed.get("entries") and (feed.get("bozo") or not feed.get("version")):
        reason = feed.get("bozo_exception") or "no RSS or Atom root element"
        raise FeedError(location, f"not a readable RSS or Atom feed ({reason})")
    entries = []
    for item in feed.get("entries", []):
        link = item.get("feedburner_origlink") or item.get("link") or next(
            (link.get("href") for link in item.get("links", []) if link.get("href")), None
        )
        try:
            url = story_url(link, location) if isinstance(link, str) else None
        except InvalidURLError:
            url = None
        if not url or not is_trackable(url):
            continue
        entries.append(Entry(
            url=url,
            title=feed_text(item.get("title")),
            summary=feed_text(item.get("summary")),
            published=item.get("published"),
            # Only an explicit updated date: feedparser would otherwise offer RSS's pubDate under this name.
            updated=_iso_from_struct(item.get("updated_parsed")) if "updated" in item else None,
        ))
    return entries


def parse_url_list(body: bytes, location: str) -> Listing:
    """One entry per http(s) URL line of a plain-text list; # starts a comment. A line that is no
    http(s) URL is skipped and said why (in skipped); the others are read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedError(location, f"URL list is not UTF-8 text ({exc})") from None
    entries, skipped = [], []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            if urlsplit(urljoin(location, line)).scheme not in ("http", "https") or any(c.isspace() for c in line):
                skipped.append(f"line {number} ({line!r}): not an http(s) URL")
                continue
            entries.append(Entry(url=story_url(line, location)))
        except (InvalidURLError, ValueError) as exc:
            skipped.append(f"line {number} ({line!r}): not a valid URL ({getattr(exc, 'reason', exc)})")
    return Listing(entries=tuple(entries), skipped=tuple(skipped))


# Sitemaps --------------------------------------------------------------------------------

@record
class Listing:
    """What one source document lists: article entries, child sitemaps (of a sitemap index), and
    the lines or items it skipped, each with why."""

    entries: tuple[Entry, ...] = ()
    children: tuple[str, ...] = ()  # newest first (by lastmod)
    skipped: tuple[str, ...] = ()


def _inflate(body: bytes, location: str) -> bytes:
    # sitemap.xml.gz is often served as a file rather than with Content-Encoding: inflate it, bounded.
    if not body.startswith(b"\x1f\x8b"):
        return body
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(body, MAX_SITEMAP_BYTES + 1)
    except zlib.error as exc:
        raise FeedError(location, f"corrupt gzipped sitemap ({exc})") from None
    if not inflater.eof and len(data) <= MAX_SITEMAP_BYTES:
        raise FeedError(location, "corrupt gzipped sitemap (it ends before its gzip stream does)")
    if len(data) > MAX_SITEMAP_BYTES:
        raise FeedError(location, f"sitemap larger than {MAX_SITEMAP_BYTES} bytes once decompressed")
    return data


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(element, *path: str) -> str | None:
    for name in path:
        element = next((c for c in element if _local(c.tag) == name), None)
        if element is None:
            return None
    return (element.text or "").strip() or None


def parse_sitemap(body: bytes, location: str) -> Listing:
    """The URLs of a sitemap (with Google News titles and dates) or the child sitemaps of an index."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
    try:
        root = etree.fromstring(_inflate(body, location), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise FeedError(location, f"not a readable sitemap ({exc})") from None
    kind = _local(root.tag) if root is not None else ""
    if kind == "sitemapindex":
        children = [(_child_text(item, "loc"), _iso_from_text(_child_text(item, "lastmod")) or "")
                    for item in root if _local(item.tag) == "sitemap"]
        ordered = sorted((c for c in children if c[0]), key=lambda c: c[1], reverse=True)
        return Listing(children=tuple(urljoin(location, loc) for loc, _ in ordered))
    if kind != "urlset":
        raise FeedError(location, f"not a sitemap (root element {kind or 'missing'!r}, "
                                  "expected urlset or sitemapindex)")
    entries = []
    for item in root:
        loc = _child_text(item, "loc") if _local(item.tag) == "url" else None
        try:
            url = story_url(loc, location) if loc else None
        except InvalidURLError:
            url = None
        if url and is_trackable(url):
            entries.append(Entry(
                url=url,
                title=feed_text(_child_text(item, "news", "title")),
                published=_child_text(item, "news", "publication_date"),
                updated=_iso_from_text(_child_text(item, "lastmod")),
            ))
    return Listing(entries=tuple(entries))


# Any source ------------------------------------------------------------------------------

def read_source(body: bytes, kind: str, location: str) -> Listing:
    """What a fetched source document lists: entries, and for a sitemap index its children."""
    if kind == "sitemap":
        return parse_sitemap(body, location)
    if kind == "urls":
        return parse_url_list(body, location)
    return Listing(entries=tuple(parse_feed(body, location)))


def filter_entries(entries, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> list[Entry]:
    """The entries whose URL matches an include pattern (if there are any) and no exclude pattern, deduplicated."""
    unique: dict[str, Entry] = {}
    for entry in entries:
        if include and not any(re.search(p, entry.url) for p in include):
            continue
        if any(re.search(p, entry.url) for p in exclude):
            continue
        unique.setdefault(entry.url, entry)
    return list(unique.values())
