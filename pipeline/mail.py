"""Newsletters: mail messages (from an mbox, a Maildir or a folder of .eml files) read into issues
and the article links they carry. Pure functions of bytes, apart from reading the mailbox files.

A newsletter's links go through tracking redirects: a target carried in the query string or in a
base64 path segment is decoded here without a request; any other tracker is left for the poll to
follow through the polite, guarded fetcher. Unsubscribe, preference, "view in browser", social and
mail links are dropped.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import mailbox
import re
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.html

from pipeline.errors import FeedError, InvalidURLError
from pipeline.extract import normalize_text
from pipeline.models import Issue, Link, StoredIssue, from_iso, to_iso
from pipeline.sources import is_trackable, story_url

MAX_MESSAGE_BYTES = 10_000_000  # a message larger than this (attachments) is skipped, said why
_NOT_STORIES = re.compile(
    r"unsubscribe|opt[ -]?out|manage (your )?(subscription|preferences|email)|update (your )?preferences|"
    r"email preferences|view (it |this )?(in (your )?browser|online|as a web ?page)|web version|"
    r"forward(ed)? (this|to a friend)|sign ?up|subscribe|privacy policy|terms of (use|service)|contact us",
    re.IGNORECASE)
# In a link's own address: what only boilerplate links carry.
_NOT_STORY_URL = re.compile(r"unsubscribe|/preferences|opt-?out|view-?(in-?browser|online)|web-?version|/manage/",
                            re.IGNORECASE)
_SOCIAL = re.compile(r"(^|\.)(facebook|twitter|x|instagram|linkedin|youtube|tiktok|threads|pinterest|whatsapp|"
                     r"reddit|bsky|mastodon)\.(com|app|social|net)$", re.IGNORECASE)
_TRACKER_HOST = re.compile(r"(^|\.)(list-manage\.com|mailchi\.mp|ct\.sendgrid\.net|sendgrid\.net|mcsv\.net|"
                           r"r\.mail\.|click\.|links?\.|track\.|email\.|e\.|t\.)", re.IGNORECASE)
_TRACKER_PATH = re.compile(r"/(track/click|ls/click|c/|redirect/|r/|click/|l/)", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')\]]+")


def read_mailbox(kind: str, path: Path) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(key, raw message, why it was skipped) for every message in the mailbox; FeedError if it cannot be read."""
    if not path.exists():
        raise FeedError(str(path), f"no {kind} there")
    try:
        if kind == "eml":
            files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml" and p.is_file())
            for file in files:
                yield from _bounded(file.name, file.stat().st_size, file.read_bytes)
            return
        box = mailbox.mbox(path, create=False) if kind == "mbox" else mailbox.Maildir(path, create=False)
        for key in box.iterkeys():
            with box.get_file(key) as message:  # read no further than the size limit
                yield from _bounded(str(key), None, lambda message=message: message.read(MAX_MESSAGE_BYTES + 1))
    except (OSError, mailbox.Error) as exc:
        raise FeedError(str(path), f"the {kind} cannot be read ({exc})") from None


def _bounded(key: str, size: int | None, read) -> Iterator[tuple[str, bytes | None, str | None]]:
    if size is not None and size > MAX_MESSAGE_BYTES:
        yield key, None, f"{size:,} bytes: larger than {MAX_MESSAGE_BYTES:,}, skipped"
        return
    raw = read()
    if len(raw) > MAX_MESSAGE_BYTES:
        yield key, None, f"more than {MAX_MESSAGE_BYTES:,} bytes: skipped"
        return
    yield key, raw, None


def read_message(raw: bytes) -> Issue:
    """The issue a newsletter message carries: its headers, its text (from the HTML part, else the
    text part) and its article links in order. Broken MIME and charsets are read as well as they can be."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html, plain = _body(message, "html"), _body(message, "plain")
    if html:
        tree = _tree(html)
        text = _visible_text(tree) if tree is not None else ""
        pairs = _anchors(tree) if tree is not None else []
    else:
        text = plain or ""
        # A sentence's full stop or comma after a URL is not part of it.
        pairs = [(match.group(0).rstrip(".,;:!?"), None) for match in _URL_IN_TEXT.finditer(text)]
    message_id = _header(message, "message-id") or f"<sha256-{hashlib.sha256(raw).hexdigest()}@redline>"
    return Issue(message_id=message_id.strip(), subject=_header(message, "subject"), sender=_header(message, "from"),
                 list_id=_header(message, "list-id"), sent_at=_date(_header(message, "date")),
                 text=normalize_text(text), links=article_links(pairs))


_CORRECTION_MARK = re.compile(r"^\s*(\[?(correction|corrected|update|updated)\]?\s*[:\-–]\s*|(re|fwd?)\s*:\s*)+",
                              re.IGNORECASE)
_SAYS_CORRECTION = re.compile(r"\b(correction|corrected|an earlier version of this (newsletter|email|issue))\b",
                              re.IGNORECASE)


def subject_key(subject: str | None) -> str:
    """A subject without correction and reply marks, case and spacing: what a re-send shares with its original."""
    return " ".join(_CORRECTION_MARK.sub("", subject or "").lower().split())


def relate(issue: Issue, similar: list[StoredIssue]) -> tuple[bool, StoredIssue | None]:
    """(received again, the issue it corrects) for a new issue, given the stored issues with its
    subject key sent near it: a re-send that says it corrects one is the newest one's next version;
    one sent within a day of another that links mostly the same stories is that issue again."""
    if not similar:
        return False, None
    if _SAYS_CORRECTION.search(issue.subject or "") or _SAYS_CORRECTION.search(issue.text[:600]):
        return False, similar[-1]
    sent, links = from_iso(issue.sent_at), {link.url for link in issue.links}
    return any(_same_links(links, {url for url, _, _ in other.links})
               and abs((from_iso(other.sent_at) - sent).total_seconds()) < 86400 for other in similar), None


def _same_links(one: set[str], other: set[str]) -> bool:
    # Half of the smaller set of stories, at least (two issues without links are alike too).
    if not one or not other:
        return not one and not other
    return len(one & other) * 2 >= min(len(one), len(other))


def read_issue_page(html: str, url: str, message_id: str, subject: str | None = None,
                    published: str | None = None) -> Issue:
    """An issue as a newsletter's web archive publishes it: the text and story links of its page's
    article (the site's own navigation, archive and subscribe links, on its own host, dropped)."""
    tree = _tree(html)
    scope = None if tree is None else next(iter(tree.xpath("//article") or tree.xpath("//main") or
                                                tree.xpath("//body") or [tree]))
    own = (urlsplit(url).hostname or "").lower()
    pairs = [] if scope is None else [(urljoin(url, href), anchor) for href, anchor in _anchors(scope)]
    pairs = [(href, anchor) for href, anchor in pairs if (urlsplit(href).hostname or "").lower() != own]
    return Issue(message_id=message_id, subject=subject, sender=own or None, list_id=None, sent_at=_date(published),
                 text=normalize_text(_visible_text(scope)) if scope is not None else "", links=article_links(pairs))


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser cannot make sense of
        value = message.get_all(name, [None])[0] if hasattr(message, "get_all") else None
    return " ".join(str(value).split()) or None if value is not None else None


def _date(value: str | None) -> str | None:
    try:
        moment = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    return to_iso(moment) if moment and moment.tzinfo else None


def _body(message: EmailMessage, subtype: str) -> str | None:
    for part in message.walk():
        if part.get_content_maintype() == "multipart" or part.get_content_type() != f"text/{subtype}":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, errors="replace")
        except LookupError:  # an unknown charset name
            return payload.decode("utf-8", errors="replace")
    return None


def _tree(html: str):
    try:
        return lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None


def _visible_text(tree) -> str:
    for element in tree.xpath("//script|//style|//head"):
        element.drop_tree()
    blocks = [" ".join(block.text_content().split()) for block in tree.xpath("//p|//h1|//h2|//h3|//li|//td[not(.//td)]")]
    return "\n".join(block for block in blocks if block) or " ".join(tree.text_content().split())


def _anchors(tree) -> list[tuple[str, str | None]]:
    return [(anchor.get("href", "").strip(), " ".join(anchor.text_content().split()) or None)
            for anchor in tree.xpath("//a[@href]")]


def article_links(pairs: list[tuple[str, str | None]]) -> tuple[Link, ...]:
    """The story links among (href, anchor text) pairs, in order, unwrapped, canonical and deduplicated;
    unsubscribe, preference, browser-view, social and mail links are dropped."""
    links: dict[str, Link] = {}
    for href, anchor in pairs:
        if not href.lower().startswith(("http://", "https://")):
            continue  # mailto:, tel:, #anchors, javascript:
        # A boilerplate label is short ("Unsubscribe", "View in browser"); a headline that says "sign up" is not.
        if (anchor and len(anchor.split()) <= 6 and _NOT_STORIES.search(anchor)) or _NOT_STORY_URL.search(href):
            continue
        url = unwrap_tracking(href)
        try:
            url = story_url(url, url)
        except InvalidURLError:
            continue
        host = urlsplit(url).hostname or ""
        if not is_trackable(url) or _SOCIAL.search(host) or urlsplit(url).path in ("", "/"):
            continue  # a front page or a social profile is no story
        if url not in links:
            links[url] = Link(url, len(links), anchor)
    return tuple(links.values())


def unwrap_tracking(url: str, depth: int = 0) -> str:
    """The target of a tracking link when it is written in the link itself (a query value or a base64
    path segment holding an http(s) URL), else the link unchanged."""
    if depth > 3:
        return url
    parts = urlsplit(url)
    for _, value in parse_qsl(parts.query):
        if value.startswith(("http://", "https://")):
            return unwrap_tracking(value, depth + 1)
    for segment in parts.path.split("/"):
        if len(segment) >= 16 and (target := _base64_url(segment)):
            return unwrap_tracking(target, depth + 1)
    return url


def _base64_url(segment: str) -> str | None:
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = _URL_IN_TEXT.search(decoded)
    return match.group(0) if match else None


# Paths only click trackers have, whatever their host.
_CLICK_PATH = re.compile(r"/(ls|track|wf|ss)/click\b|/redirect/|/click/", re.IGNORECASE)


def needs_following(url: str) -> bool:
    """Whether a newsletter link is a tracker whose target only a request can tell."""
    parts = urlsplit(url)
    return bool(_CLICK_PATH.search(parts.path)) or (
        bool(_TRACKER_HOST.search(parts.hostname or "")) and bool(_TRACKER_PATH.search(parts.path + "/")))
