"""An Atom feed of detected changes, so any feed reader can follow them: a pure function of stored rows."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from xml.etree import ElementTree

from pipeline.alerts import describe
from pipeline.models import to_iso

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:redline:changes"


def _element(parent, tag: str, text: str | None = None, **attributes) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", {k: v for k, v in attributes.items() if v})
    if text is not None:
        element.text = text
    return element


def _entry_key(change: dict) -> tuple:
    # One entry per new version of an article (its changes together); an event without a version stands alone.
    return change["article_id"], change["to_number"] if change["to_number"] is not None else f"event-{change['id']}"


def render_feed(changes: list[dict], now: datetime, source: str | None = None, self_url: str | None = None) -> bytes:
    """The Atom document for changes as storage.list_changes gives them (oldest first): one entry
    per new version of an article, newest first, gathering that version's changes."""
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    _element(feed, "title", f"Redline: changes in {source}" if source else "Redline: detected changes")
    _element(feed, "id", f"{FEED_ID}:{source}" if source else FEED_ID)
    _element(feed, "updated", max((c["detected_at"] for c in changes), default=to_iso(now)))
    _element(_element(feed, "author"), "name", "Redline")
    _element(feed, "generator", "Redline")
    if self_url:
        _element(feed, "link", rel="self", href=self_url)
    entries = [list(group) for _, group in groupby(changes, key=_entry_key)]
    for group in sorted(entries, key=lambda g: (g[-1]["detected_at"], g[-1]["id"]), reverse=True):
        _add_entry(feed, group)
    ElementTree.indent(feed)
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _add_entry(feed: ElementTree.Element, group: list[dict]) -> None:
    first, last = group[0], group[-1]
    entry = _element(feed, "entry")
    title = first["article_title"] or first["url"]
    more = f" (and {len(group) - 1} more)" if len(group) > 1 else ""
    _element(entry, "title", f"{title}: {describe(first)}{more}")
    version = f"v{first['to_number']}" if first["to_number"] is not None else f"{first['kind']}-{first['id']}"
    _element(entry, "id", f"{first['url']}#redline-{version}")
    _element(entry, "updated", last["detected_at"])
    _element(entry, "published", first["detected_at"])
    _element(entry, "link", rel="alternate", href=first["url"])
    for kind in dict.fromkeys(change["kind"] for change in group):
        _element(entry, "category", term=kind)
    lines = []
    for change in group:
        lines.append(describe(change))
        if change["context"] and change["context"] not in (change["before"], change["after"]):
            lines.append(f"    \"{change['context']}\"")
    if first["from_number"] is not None:
        lines.append(f"v{first['from_number']} → v{first['to_number']} of {first['url']}")
    if first.get("source"):
        lines.append(f"source: {first['source']}")
    _element(entry, "content", "\n".join(lines), type="text")
