"""A local fake newsroom whose stories change on demand, for demos and end-to-end tests."""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

STORIES_PATH = Path(__file__).parent / "stories.json"
SITE_NAME = "The Harlow Bay Courier"
SITE_TAGLINE = "News from Harlow Bay and the Meridian valley"

# Two feed items carry tracking parameters so consumers must canonicalise URLs
# (the page's rel=canonical never has them).
TRACKED_FEED_SLUGS = frozenset({"council-vote", "wildfire-evacuations"})
TRACKING_QUERY = "utm_source=rss&utm_medium=feed"

SECTIONS = (
    ("Local", "local"),
    ("Politics", "politics"),
    ("Business", "business"),
    ("Weather", "weather"),
    ("Culture", "culture"),
    ("Opinion", "opinion"),
)

# Fixed texts rather than live titles, so an unchanged story's page (and ETag)
# stays byte-identical while other stories are being revised.
RELATED_LINKS = (
    ("library-reopens", "Library doors open again on Quay Street"),
    ("council-vote", "What the harbour redevelopment means for the waterfront"),
    ("bridge-contract", "Old Mill Bridge: a crossing with a long history"),
    ("flood-toll", "How to help families affected by the Meridian River flood"),
    ("wildfire-evacuations", "Wildfire season: how to prepare a go-bag"),
)
RELATED_COUNT = 3

SHARE_TARGETS = ("Facebook", "X", "LinkedIn", "WhatsApp", "Email")

PAGE_STYLE = """
body{font-family:Georgia,serif;margin:0;color:#1a1a1a}
.site-header,.site-footer{background:#0b2545;color:#fff;padding:1rem 2rem}
.site-header a,.site-footer a{color:#fff}
.site-nav ul{list-style:none;display:flex;gap:1rem;padding:0}
main{max-width:46rem;margin:2rem auto;padding:0 1rem}
.byline,.dateline{color:#555;font-size:.9rem}
.share-tools,.related-stories,.newsletter-signup{border-top:1px solid #ddd;margin-top:2rem;padding-top:1rem}
""".strip()


@dataclass(frozen=True)
class StoryVersion:
    """One published revision of a story."""

    title: str
    byline: str
    published: str
    modified: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Story:
    """A story and all the revisions the newsroom will publish, in order."""

    slug: str
    versions: tuple[StoryVersion, ...]


@dataclass(frozen=True)
class Resource:
    """A rendered response body with the validators used for conditional GET."""

    body: bytes
    content_type: str
    last_modified: datetime

    @property
    def etag(self) -> str:
        """Return a strong ETag derived from the body."""
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


# --------------------------------------------------------------------------- stories


def load_stories(path: Path = STORIES_PATH) -> list[Story]:
    """Load and validate the demo stories from the package's JSON file."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    stories = [parse_story(item) for item in raw["stories"]]
    slugs = [story.slug for story in stories]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"duplicate story slugs in {path}")
    return stories


def parse_story(item: dict[str, Any]) -> Story:
    """Build a Story from its JSON object, rejecting malformed versions."""
    versions = tuple(parse_version(v) for v in item["versions"])
    if not versions:
        raise ValueError(f"story {item['slug']!r} has no versions")
    return Story(slug=item["slug"], versions=versions)


def parse_version(item: dict[str, Any]) -> StoryVersion:
    """Build a StoryVersion from its JSON object."""
    for key in ("published", "modified"):
        # Fail at load time rather than mid-request if a date lacks an offset.
        parse_timestamp(item[key])
    return StoryVersion(
        title=item["title"],
        byline=item["byline"],
        published=item["published"],
        modified=item["modified"],
        paragraphs=tuple(item["paragraphs"]),
    )


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO 8601 timestamp that must carry a UTC offset."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without timezone: {value!r}")
    return moment


def format_http_date(moment: datetime) -> str:
    """Format a datetime as an RFC 9110 HTTP-date."""
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def format_display_date(moment: datetime) -> str:
    """Format a datetime the way the page shows it to readers."""
    return f"{moment.day} {moment:%B %Y, %H:%M} {moment.tzname()}"


# --------------------------------------------------------------------------- rendering


def esc(text: str) -> str:
    """Escape text for HTML or XML content and attribute values."""
    return html.escape(text, quote=True)


def story_url(base_url: str, slug: str) -> str:
    """Return the canonical URL of a story."""
    return f"{base_url}/news/{slug}"


def render_json_ld(version: StoryVersion, canonical: str) -> str:
    """Render the NewsArticle structured-data block, safe to embed in a script tag."""
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": version.title,
        "author": {"@type": "Person", "name": version.byline},
        "datePublished": version.published,
        "dateModified": version.modified,
        "mainEntityOfPage": {"@type": "WebPage", "@id": canonical},
        "publisher": {"@type": "Organization", "name": SITE_NAME},
    }
    # "</" inside a script block would let text end the element early.
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def render_site_header(base_url: str) -> str:
    """Render the masthead and section navigation."""
    items = "\n".join(
        f'      <li><a href="{esc(base_url)}/#{key}">{esc(label)}</a></li>' for label, key in SECTIONS
    )
    return (
        '<header class="site-header">\n'
        f'  <a class="site-logo" href="{esc(base_url)}/">{esc(SITE_NAME)}</a>\n'
        '  <nav class="site-nav" aria-label="Sections">\n'
        "    <ul>\n"
        f"{items}\n"
        "    </ul>\n"
        "  </nav>\n"
        "</header>"
    )


def render_dateline(version: StoryVersion) -> str:
    """Render the published (and, if different, updated) timestamps."""
    published = parse_timestamp(version.published)
    parts = [f'Published <time itemprop="datePublished" datetime="{esc(version.published)}">{esc(format_display_date(published))}</time>']
    if version.modified != version.published:
        modified = parse_timestamp(version.modified)
        parts.append(
            f'Updated <time itemprop="dateModified" datetime="{esc(version.modified)}">{esc(format_display_date(modified))}</time>'
        )
    return '<p class="dateline">' + " &middot; ".join(parts) + "</p>"


def render_share_widget(canonical: str, title: str) -> str:
    """Render the social share buttons shown under an article."""
    buttons = "\n".join(
        f'    <li><a class="share-{esc(target.lower())}" href="#share" data-url="{esc(canonical)}" '
        f'data-title="{esc(title)}">Share on {esc(target)}</a></li>'
        for target in SHARE_TARGETS
    )
    return (
        '<aside class="share-tools" aria-label="Share this story">\n'
        "  <h2>Share this story</h2>\n"
        '  <ul class="share-buttons">\n'
        f"{buttons}\n"
        "  </ul>\n"
        "</aside>"
    )


def render_related(slug: str, base_url: str) -> str:
    """Render a short list of related links, never pointing at the story itself."""
    picks = [link for link in RELATED_LINKS if link[0] != slug][:RELATED_COUNT]
    items = "\n".join(
        f'    <li><a href="{esc(story_url(base_url, other))}">{esc(text)}</a></li>' for other, text in picks
    )
    return (
        '<aside class="related-stories" aria-label="Related stories">\n'
        "  <h2>Related stories</h2>\n"
        "  <ul>\n"
        f"{items}\n"
        "  </ul>\n"
        "</aside>"
    )


def render_newsletter(base_url: str) -> str:
    """Render the newsletter sign-up box."""
    return (
        '<section class="newsletter-signup" aria-label="Newsletter">\n'
        "  <h2>Get the Morning Briefing</h2>\n"
        "  <p>The day's top stories from Harlow Bay, in your inbox before breakfast. Free, every weekday.</p>\n"
        f'  <form action="{esc(base_url)}/newsletter" method="post">\n'
        '    <label for="newsletter-email">Email address</label>\n'
        '    <input id="newsletter-email" type="email" name="email" placeholder="you@example.com" required>\n'
        '    <button type="submit">Sign up</button>\n'
        "  </form>\n"
        "</section>"
    )


def render_site_footer(base_url: str) -> str:
    """Render the page footer."""
    return (
        '<footer class="site-footer">\n'
        f"  <p>&copy; 2025 {esc(SITE_NAME)}. All rights reserved.</p>\n"
        f'  <p><a href="{esc(base_url)}/#about">About us</a> | <a href="{esc(base_url)}/#contact">Contact</a> | '
        f'<a href="{esc(base_url)}/#privacy">Privacy policy</a> | <a href="{esc(base_url)}/feed.xml">RSS</a></p>\n'
        "</footer>"
    )


def render_article(story_version: StoryVersion, slug: str, base_url: str) -> str:
    """Render a complete HTML5 article page for one version of a story."""
    version = story_version
    canonical = story_url(base_url, slug)
    title = esc(version.title)
    byline = esc(version.byline)
    summary = esc(version.paragraphs[0]) if version.paragraphs else ""
    body = "\n".join(f"      <p>{esc(paragraph)}</p>" for paragraph in version.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<meta name="author" content="{byline}">
<meta name="description" content="{summary}">
<link rel="canonical" href="{esc(canonical)}">
<link rel="alternate" type="application/rss+xml" title="{esc(SITE_NAME)}" href="{esc(base_url)}/feed.xml">
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:url" content="{esc(canonical)}">
<meta property="og:site_name" content="{esc(SITE_NAME)}">
<meta property="article:published_time" content="{esc(version.published)}">
<meta property="article:modified_time" content="{esc(version.modified)}">
<script type="application/ld+json">{render_json_ld(version, canonical)}</script>
<style>{PAGE_STYLE}</style>
</head>
<body>
{render_site_header(base_url)}
<main id="content">
  <article class="story" itemscope itemtype="https://schema.org/NewsArticle">
    <header class="story-header">
      <h1 itemprop="headline">{title}</h1>
      <p class="byline">By <span class="author" itemprop="author">{byline}</span></p>
      {render_dateline(version)}
    </header>
    <div class="article-body" itemprop="articleBody">
{body}
    </div>
  </article>
{render_share_widget(canonical, version.title)}
{render_related(slug, base_url)}
{render_newsletter(base_url)}
</main>
{render_site_footer(base_url)}
</body>
</html>
"""


def render_feed_item(story: Story, version: StoryVersion, base_url: str) -> str:
    """Render one RSS <item> for a story's current version."""
    link = story_url(base_url, story.slug)
    if story.slug in TRACKED_FEED_SLUGS:
        link = f"{link}?{TRACKING_QUERY}"
    description = version.paragraphs[0] if version.paragraphs else ""
    pub_date = format_datetime(parse_timestamp(version.published))
    return (
        "    <item>\n"
        f"      <title>{esc(version.title)}</title>\n"
        f"      <link>{esc(link)}</link>\n"
        f'      <guid isPermaLink="false">{esc(story.slug)}</guid>\n'
        f"      <pubDate>{pub_date}</pubDate>\n"
        f"      <author>newsdesk@harlowbaycourier.example ({esc(version.byline)})</author>\n"
        f"      <description>{esc(description)}</description>\n"
        "    </item>"
    )


def render_feed(stories_with_current_versions: Iterable[tuple[Story, StoryVersion]], base_url: str) -> str:
    """Render the RSS 2.0 feed for the given (story, current version) pairs."""
    pairs = list(stories_with_current_versions)
    items = "\n".join(render_feed_item(story, version, base_url) for story, version in pairs)
    build_date = format_datetime(latest_modified(version for _, version in pairs))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>{esc(SITE_NAME)}</title>
    <link>{esc(base_url)}/</link>
    <description>{esc(SITE_TAGLINE)}</description>
    <language>en-gb</language>
    <lastBuildDate>{build_date}</lastBuildDate>
    <atom:link href="{esc(base_url)}/feed.xml" rel="self" type="application/rss+xml"/>
{items}
  </channel>
</rss>
"""


def render_index(stories_with_current_versions: Iterable[tuple[Story, StoryVersion]], base_url: str) -> str:
    """Render a minimal front page linking every story, for humans poking at the demo."""
    items = "\n".join(
        f'    <li><a href="{esc(story_url(base_url, story.slug))}">{esc(version.title)}</a></li>'
        for story, version in stories_with_current_versions
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{esc(SITE_NAME)}</title><style>{PAGE_STYLE}</style></head>
<body>
{render_site_header(base_url)}
<main id="content">
  <h1>Latest news</h1>
  <ul>
{items}
  </ul>
</main>
{render_site_footer(base_url)}
</body>
</html>
"""


def latest_modified(versions: Iterable[StoryVersion]) -> datetime:
    """Return the most recent modified time among versions (epoch if none)."""
    moments = [parse_timestamp(version.modified) for version in versions]
    return max(moments, default=datetime(1970, 1, 1, tzinfo=timezone.utc))


# --------------------------------------------------------------------------- HTTP helpers


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Apply RFC 9110's weak comparison of an If-None-Match list to our ETag."""
    candidates = [tag.strip() for tag in if_none_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in candidates)


def is_not_modified(headers: Any, resource: Resource) -> bool:
    """Decide whether a conditional GET can be answered with 304."""
    if_none_match = headers.get("If-None-Match")
    # RFC 9110 13.2.2: If-Modified-Since is ignored when If-None-Match is present.
    if if_none_match is not None:
        return etag_matches(if_none_match, resource.etag)
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    # HTTP-dates have one-second resolution, so compare at that precision.
    return since >= resource.last_modified.replace(microsecond=0)


# --------------------------------------------------------------------------- server


class Newsroom:
    """A threaded HTTP server publishing the demo stories, with control and alert-sink endpoints."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Load the stories and prepare (but do not bind) the server."""
        self._host = host
        self._port = port
        self._stories = load_stories()
        self._positions = {story.slug: 0 for story in self._stories}
        self._round = 0
        self._received: list[Any] = []
        self._lock = threading.Lock()
        self._server: _NewsroomServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> Newsroom:
        """Bind the socket and serve requests on a daemon thread."""
        if self._server is not None:
            raise RuntimeError("newsroom already started")
        server = _NewsroomServer((self._host, self._port), _NewsroomHandler)
        server.newsroom = self
        self._server = server
        # A short poll interval keeps stop() fast, which matters when tests start many servers.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="demo-newsroom", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the socket; safe to call twice."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Newsroom:
        """Start the server when entering a with-block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server when leaving a with-block."""
        self.stop()

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:54321 (requires start())."""
        if self._server is None:
            raise RuntimeError("newsroom not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- story state

    @property
    def stories(self) -> list[Story]:
        """Return all stories in feed order."""
        return list(self._stories)

    @property
    def round(self) -> int:
        """Return how many times advance() has been called since the last reset."""
        with self._lock:
            return self._round

    def advance(self) -> int:
        """Move every story to its next version (staying at its last) and return the new round."""
        with self._lock:
            for story in self._stories:
                current = self._positions[story.slug]
                self._positions[story.slug] = min(current + 1, len(story.versions) - 1)
            self._round += 1
            return self._round

    def reset(self) -> None:
        """Put every story back to its first version."""
        with self._lock:
            self._positions = {story.slug: 0 for story in self._stories}
            self._round = 0

    def state(self) -> dict[str, Any]:
        """Return the round and each story's 1-based current version number."""
        with self._lock:
            versions = {slug: index + 1 for slug, index in self._positions.items()}
            return {"round": self._round, "stories": versions}

    def current_versions(self) -> list[tuple[Story, StoryVersion]]:
        """Return each story paired with the version currently being served."""
        with self._lock:
            return [(story, story.versions[self._positions[story.slug]]) for story in self._stories]

    def find_current(self, slug: str) -> StoryVersion | None:
        """Return the version currently served for slug, or None if unknown."""
        return next((version for story, version in self.current_versions() if story.slug == slug), None)

    # -- alert sink

    @property
    def received(self) -> list[Any]:
        """Return a snapshot of the JSON bodies POSTed to /_sink, oldest first."""
        with self._lock:
            return list(self._received)

    def record_alert(self, payload: Any) -> None:
        """Store one alert payload received by the sink."""
        with self._lock:
            self._received.append(payload)

    def clear_received(self) -> None:
        """Forget all alerts received so far."""
        with self._lock:
            self._received.clear()

    # -- rendering for the handler

    def feed_resource(self) -> Resource:
        """Render the RSS feed for the current versions."""
        pairs = self.current_versions()
        return Resource(
            body=render_feed(pairs, self.url).encode("utf-8"),
            content_type="application/rss+xml; charset=utf-8",
            last_modified=latest_modified(version for _, version in pairs),
        )

    def article_resource(self, slug: str) -> Resource | None:
        """Render the current page for slug, or None if there is no such story."""
        version = self.find_current(slug)
        if version is None:
            return None
        return Resource(
            body=render_article(version, slug, self.url).encode("utf-8"),
            content_type="text/html; charset=utf-8",
            last_modified=parse_timestamp(version.modified),
        )

    def index_resource(self) -> Resource:
        """Render the front page."""
        pairs = self.current_versions()
        return Resource(
            body=render_index(pairs, self.url).encode("utf-8"),
            content_type="text/html; charset=utf-8",
            last_modified=latest_modified(version for _, version in pairs),
        )


class _NewsroomServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows which Newsroom it serves."""

    daemon_threads = True
    newsroom: Newsroom


class _NewsroomHandler(BaseHTTPRequestHandler):
    """Route requests to the newsroom's pages, controls and alert sink."""

    server: _NewsroomServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every response
    server_version = "RedlineDemoNewsroom/1.0"

    # Paths that exist, with the methods each accepts (for 405 vs 404).
    FIXED_ROUTES: dict[str, tuple[str, ...]] = {
        "/": ("GET", "HEAD"),
        "/feed.xml": ("GET", "HEAD"),
        "/_control/advance": ("POST",),
        "/_control/reset": ("POST",),
        "/_control/state": ("GET", "HEAD"),
        "/_sink": ("GET", "HEAD", "POST"),
    }

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        """Stay quiet; tests and demos do not want per-request noise on stderr."""

    def do_GET(self) -> None:
        """Handle GET requests."""
        self.dispatch("GET")

    def do_HEAD(self) -> None:
        """Handle HEAD requests like GET, without a body."""
        self.dispatch("HEAD")

    def do_POST(self) -> None:
        """Handle POST requests."""
        self.dispatch("POST")

    def dispatch(self, method: str) -> None:
        """Send the request to the handler for its path, or answer 404/405."""
        path = urlsplit(self.path).path
        newsroom = self.server.newsroom
        if path.startswith("/news/"):
            if self.check_method(method, ("GET", "HEAD")):
                self.serve_article(path.removeprefix("/news/"))
            return
        allowed = self.FIXED_ROUTES.get(path)
        if allowed is None:
            self.send_text(HTTPStatus.NOT_FOUND, "Not found\n")
            return
        if not self.check_method(method, allowed):
            return
        if path == "/":
            self.send_resource(newsroom.index_resource())
        elif path == "/feed.xml":
            self.send_resource(newsroom.feed_resource())
        elif path == "/_control/advance":
            self.send_json(HTTPStatus.OK, {"round": newsroom.advance()})
        elif path == "/_control/reset":
            newsroom.reset()
            self.send_json(HTTPStatus.OK, {"round": newsroom.round})
        elif path == "/_control/state":
            self.send_json(HTTPStatus.OK, newsroom.state())
        elif method == "POST":
            self.receive_alert()
        else:
            self.send_json(HTTPStatus.OK, newsroom.received)

    def check_method(self, method: str, allowed: Sequence[str]) -> bool:
        """Answer 405 and return False if method is not allowed here."""
        if method in allowed:
            return True
        self.send_text(HTTPStatus.METHOD_NOT_ALLOWED, "Method not allowed\n", {"Allow": ", ".join(allowed)})
        return False

    def serve_article(self, slug: str) -> None:
        """Serve a story page, tolerating a trailing slash."""
        resource = self.server.newsroom.article_resource(slug.rstrip("/"))
        if resource is None:
            self.send_text(HTTPStatus.NOT_FOUND, "Not found\n")
            return
        self.send_resource(resource)

    def receive_alert(self) -> None:
        """Parse a JSON alert (e.g. from Apprise json://) and record it."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            self.send_json(HTTPStatus.BAD_REQUEST, {"ok": False, "error": f"invalid JSON: {error}"})
            return
        self.server.newsroom.record_alert(payload)
        self.send_json(HTTPStatus.OK, {"ok": True})

    def send_resource(self, resource: Resource) -> None:
        """Send a page or feed, answering 304 when the client's copy is current."""
        validators = {
            "ETag": resource.etag,
            "Last-Modified": format_http_date(resource.last_modified),
            # Clients may store the page but must revalidate, which exercises 304s.
            "Cache-Control": "no-cache",
        }
        if is_not_modified(self.headers, resource):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self.send_body(HTTPStatus.OK, resource.body, resource.content_type, validators)

    def send_json(self, status: HTTPStatus, payload: Any) -> None:
        """Send a JSON response."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_body(status, body, "application/json; charset=utf-8", {"Cache-Control": "no-store"})

    def send_text(self, status: HTTPStatus, text: str, headers: dict[str, str] | None = None) -> None:
        """Send a plain-text response."""
        self.send_body(status, text.encode("utf-8"), "text/plain; charset=utf-8", headers or {})

    def send_body(self, status: HTTPStatus, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        """Send status, headers and (except for HEAD) the body."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# --------------------------------------------------------------------------- CLI


def advance_every(newsroom: Newsroom, seconds: float, stop: threading.Event) -> threading.Thread:
    """Publish the next version of every story each `seconds` until stop is set, on a daemon thread."""
    def publish() -> None:
        while not stop.wait(seconds):
            print(f"round {newsroom.advance()}: the newsroom published the next version of its stories", flush=True)

    thread = threading.Thread(target=publish, name="demo-newsroom-timer", daemon=True)
    thread.start()
    return thread


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo newsroom in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Serve the Redline demo newsroom.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000; 0 = any free port)")
    parser.add_argument("--advance-every", type=float, default=0, metavar="SECONDS",
                        help="publish the next version of every story this often (default: only when asked)")
    args = parser.parse_args(argv)
    newsroom = Newsroom(host=args.host, port=args.port).start()
    stop = threading.Event()
    print(f"Demo newsroom serving at {newsroom.url}", flush=True)
    print(f"  feed:    {newsroom.url}/feed.xml", flush=True)
    print(f"  advance: curl -X POST {newsroom.url}/_control/advance", flush=True)
    print(f"  alerts:  json://{urlsplit(newsroom.url).netloc}/_sink", flush=True)
    if args.advance_every > 0:
        advance_every(newsroom, args.advance_every, stop)
        print(f"  it publishes the next version of its stories every {args.advance_every:g} s", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        print("\nShutting down.", flush=True)
    finally:
        stop.set()
        newsroom.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
