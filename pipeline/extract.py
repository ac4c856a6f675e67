"""HTML to clean article text and metadata: pure functions of strings."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

import htmldate
import trafilatura

from pipeline.errors import ExtractionError
from pipeline.models import Extracted

EXTRACTOR = f"trafilatura {trafilatura.__version__}"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
MIN_WORDS = 20

# Lines in which a newsroom discloses an edit; kept in the text and also listed as notices.
_NOTICE = re.compile(
    r"^\s*(?:correction|clarification|editor['’]s note|update[d]?)\s*[:.\-–—]"
    r"|an earlier version of this (?:story|article|report)"
    r"|this (?:story|article|report) has been (?:updated|corrected)",
    re.IGNORECASE,
)
# Lines that change on every visit without any edit: "Updated 3:45 PM ET", "5 minutes ago".
_BUILTIN_NOISE = (
    r"^\s*(?:last\s+)?updated:?\s+(?:on\s+)?[\w ,:./-]{0,40}\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?\s*\w{0,4}\s*$",
    r"^\s*(?:(?:last\s+)?updated|posted|published)?:?\s*\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?)\s+ago\s*$",
)
_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
})
_SPACES = re.compile(r"[ \t\f\v]+")
_MARKUP = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|article|p|div)\b", re.IGNORECASE)


def normalize_text(text: str) -> str:
    """NFC, straight quotes and dashes, single spaces; paragraph breaks kept, blank lines dropped."""
    text = unicodedata.normalize("NFC", text).translate(_TRANSLATE)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def strip_noise(text: str, patterns: tuple[str, ...] = ()) -> str:
    """Drop the lines that match a built-in or configured noise pattern."""
    noise = [re.compile(p, re.IGNORECASE) for p in (*_BUILTIN_NOISE, *patterns)]
    return "\n".join(line for line in text.split("\n") if not any(n.search(line) for n in noise))


def hash_text(text: str) -> str:
    """The content hash two versions share when their normalised text is the same."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def find_notices(text: str) -> tuple[str, ...]:
    """The lines in which the newsroom says the story was corrected or updated."""
    return tuple(line for line in text.split("\n") if _NOTICE.search(line))


def ensure_html(body: bytes, content_type: str | None, source: str) -> None:
    """Raise ExtractionError unless body looks like an HTML page."""
    if not body.strip():
        raise ExtractionError(source, "empty body (expected an HTML page)")
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and kind not in ("text/html", "application/xhtml+xml") and not _MARKUP.search(body[:4096]):
        raise ExtractionError(source, f"content type {kind!r} (expected text/html)")
    if not _MARKUP.search(body[:65536]):
        raise ExtractionError(source, "no HTML markup found (expected an HTML page)")


def _find_date(html: str | bytes, url: str | None, original: bool) -> str | None:
    found = htmldate.find_date(html, original_date=original, outputformat=_DATE_FORMAT, url=url)
    # ISO 8601 with a colon in the offset, like every other timestamp Redline stores.
    return datetime.strptime(found, _DATE_FORMAT).isoformat() if found else None


def extract_article(
    html: str | bytes, url: str | None = None, ignore: tuple[str, ...] = ()
) -> Extracted:
    """Clean text, title, byline and dates of the article in html, or ExtractionError."""
    source = url or "<html>"
    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=True
    )
    if document is None or not (document.text or "").strip():
        raise ExtractionError(source, "no article text found")
    title = normalize_text(document.title or "") or None
    lines = normalize_text(document.text).split("\n")
    if title and lines and lines[0] == title:
        lines = lines[1:]  # the headline is tracked on its own, not as body text
    text = strip_noise("\n".join(lines), ignore)
    if len(text.split()) < MIN_WORDS:
        raise ExtractionError(source, f"only {len(text.split())} words of text (expected at least {MIN_WORDS})")
    return Extracted(
        text=text,
        title=title,
        byline=normalize_text(document.author or "") or None,
        published=_find_date(html, url, original=True),
        modified=_find_date(html, url, original=False),
        notices=find_notices(text),
        extractor=EXTRACTOR,
    )
