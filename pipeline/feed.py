"""An Atom feed of detected changes, so any feed reader can follow them.

render_feed is a pure function of stored changes; changes_feed and write_feeds read them.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import groupby
from pathlib import Path
from xml.etree import ElementTree

import storage
from pipeline.config import Settings
from pipeline.models import StoredChange, to_iso, utcnow
from pipeline.output import describe_change, describe_with_context, workspace_link

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:redline:changes"
FEED_ENTRIES = 200  # newest changes a feed holds


def changes_feed(settings: Settings, source: str | None = None, newest: int = FEED_ENTRIES,
                 self_url: str | None = None, now: datetime | None = None) -> bytes:
    """The Atom feed of the newest detected changes, of every source or of one."""
    if source is not None:
        settings.source(source)  # a name that is not configured is an error, not an empty feed
    db = storage.open_archive(settings, create=False)
    return render_feed(storage.list_changes(db, source=source, newest=newest), now or utcnow(), source, self_url,
                       settings.web.base_url)


def write_feeds(settings: Settings, folder: str | Path, now: datetime | None = None) -> list[Path]:
    """Write changes.xml (every source) and changes-<source>.xml for each configured source into folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = now or utcnow()
    written = []
    for source in [None, *(source.name for source in settings.sources)]:
        slug = re.sub(r"[^a-z0-9]+", "-", source.lower()).strip("-") if source else ""
        path = folder / (f"changes-{slug}.xml" if source else "changes.xml")
        temporary = path.with_suffix(".xml.tmp")
        temporary.write_bytes(changes_feed(settings, source, now=now))
        temporary.replace(path)  # a reader never sees half a feed
        written.append(path)
    return written


# Characters XML 1.0 cannot carry at all, escaped or not: one in an article's text would make the whole feed unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _element(parent, tag: str, text: str | None = None, **attributes) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}",
                                     {k: _xml_text(v) for k, v in attributes.items() if v})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _entry_key(change: StoredChange) -> tuple:
    # One entry per new version of an article (its changes together); an event without a version stands alone.
    return change.article_id, change.to_number if change.to_number is not None else f"event-{change.id}"


def render_feed(changes: list[StoredChange], now: datetime, source: str | None = None, self_url: str | None = None,
                base_url: str | None = None) -> bytes:
    """The Atom document for changes as storage.list_changes gives them (oldest first): one entry
    per new version of an article, newest first, gathering that version's changes."""
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    _element(feed, "title", f"Redline: changes in {source}" if source else "Redline: detected changes")
    _element(feed, "id", f"{FEED_ID}:{source}" if source else FEED_ID)
    _element(feed, "updated", max((c.detected_at for c in changes), default=to_iso(now)))
    _element(_element(feed, "author"), "name", "Redline")
    _element(feed, "generator", "Redline")
    if self_url:
        _element(feed, "link", rel="self", href=self_url)
    entries = [list(group) for _, group in groupby(changes, key=_entry_key)]
    for group in sorted(entries, key=lambda g: (g[-1].detected_at, g[-1].id), reverse=True):
        _add_entry(feed, group, base_url)
    ElementTree.indent(feed)
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _add_entry(feed: ElementTree.Element, group: list[StoredChange], base_url: str | None) -> None:
    first, last = group[0], group[-1]
    entry = _element(feed, "entry")
    title = first.article_title or first.url
    more = f" (and {len(group) - 1} more)" if len(group) > 1 else ""
    _element(entry, "title", f"{title}: {describe_change(first)}{more}")
    version = f"v{first.to_number}" if first.to_number is not None else f"{first.kind}-{first.id}"
    _element(entry, "id", f"{first.url}#redline-{version}")
    _element(entry, "updated", last.detected_at)
    _element(entry, "published", first.detected_at)
    _element(entry, "link", rel="alternate", href=first.url)
    diff_page = workspace_link(base_url, first.article_id, first.from_number, first.to_number)
    if diff_page:  # the diff in the workspace: the entry's permanent link to what changed
        _element(entry, "link", rel="related", href=diff_page, title="the diff in Redline's workspace")
    for kind in dict.fromkeys(change.kind for change in group):
        _element(entry, "category", term=kind)
    lines = [line for change in group for line in describe_with_context(change)]
    if first.from_number is not None:
        lines.append(f"v{first.from_number} → v{first.to_number} of {first.url}")
    if first.source:
        lines.append(f"source: {first.source}")
    _element(entry, "content", "\n".join(lines), type="text")
