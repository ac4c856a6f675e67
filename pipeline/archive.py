"""The archive as researchers read it: finding an article by any form of its URL, the article list,
search, statistics, timelines, a figure's values over a story's versions, and exports.

The CLI and the web workspace are both thin over these functions.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta
from typing import Iterable, Iterator

import storage
from pipeline.config import CHANGE_KINDS
from pipeline.errors import InputError, InvalidURLError, NotFoundError
from pipeline.models import (Alert, ArchiveStats, Article, ArticleSummary, CorrectedIssue, FigurePoint, SearchHit,
                             SentenceOp, SourceStats, StoredChange, to_dict)
from pipeline.output import EXPORT_FIELDS, EXPORTS, describe_change, version_as_record



def url_forms(url: str) -> list[str]:
    """The forms a pasted URL may be stored under: as given, canonicalised (tracking parameters,
    fragment and trailing slash dropped, a wrapper unwrapped) and the same under the other scheme."""
    from pipeline.sources import canonicalize_url, unwrap_url  # courlan loads only when a URL is looked up

    forms = [url.strip()]
    try:
        canonical = canonicalize_url(unwrap_url(url.strip()))
    except InvalidURLError:
        return forms
    other = ("http://" + canonical[8:] if canonical.startswith("https://")
             else "https://" + canonical[7:] if canonical.startswith("http://") else None)
    return list(dict.fromkeys(form for form in (*forms, canonical, other) if form))


def locate_article(db, url: str) -> Article:
    """The article tracked under any form of url (or whose id url is), or NotFoundError naming the forms tried."""
    given = url.strip()
    if given.isdigit():
        return storage.get_article(db, int(given))
    owner = storage.owner_of(db, given)  # as stored: no need to read the URL (nor to load courlan)
    if owner:
        return storage.get_article(db, owner)
    forms = url_forms(given)
    for form in forms[1:]:
        if owner := storage.owner_of(db, form):
            return storage.get_article(db, owner)
    tried = f" (tried {', '.join(forms)})" if len(forms) > 1 else ""
    raise NotFoundError(f"no article is tracked at {url!r}{tried}")


def check_kind(kind: str | None) -> str | None:
    """kind, when Redline records changes of that kind; else InputError naming the kinds it knows."""
    if kind is not None and kind not in CHANGE_KINDS:
        raise InputError(f"kind {kind!r}: expected one of {', '.join(CHANGE_KINDS)}")
    return kind


def read_day(value: str | None, name: str, end: bool = False) -> str | None:
    """A date typed by a reader (2026-12-01) as the ISO bound of a query: the start of that day, or with end
    the start of the next (so an end date includes its whole day). InputError names the option."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{name} {value!r}: expected a date such as 2026-12-01") from None
    return (day + timedelta(days=1) if end else day).isoformat()


# Newsletters ------------------------------------------------------------------------------

def list_newsletters(db, source: str | None = None) -> list[CorrectedIssue]:
    """Newsletter issues, oldest first (of one source, or all), each with the issue it corrects when it is a
    corrected re-send, and the changes between the two (subject and text, as between two versions)."""
    from pipeline.diff import compare_versions  # the diff stages load only when an issue corrects another

    issues = storage.list_issues(db, source=source)
    by_id = {issue.id: issue for issue in issues}
    listed = []
    for issue in issues:
        earlier = by_id.get(issue.corrects)
        changes = compare_versions(earlier.text, issue.text, earlier.subject, issue.subject).changes if earlier else ()
        listed.append(CorrectedIssue(issue, earlier, tuple(changes)))
    return listed


def newsletter_as_record(entry: CorrectedIssue) -> dict:
    """One issue of `redline newsletters --json`."""
    issue = entry.issue
    return {"source": issue.source, "subject": issue.subject, "sender": issue.sender, "date": issue.sent_at,
            "message_id": issue.message_id, "list_id": issue.list_id, "received_at": issue.received_at,
            "version": issue.version, "corrects": entry.corrects.message_id if entry.corrects else None,
            "links": [url for url, _, _ in issue.links], "anchors": [anchor for _, anchor, _ in issue.links],
            "changes": [describe_change(change) for change in entry.changes]}


# Statistics --------------------------------------------------------------------------------

def stats_as_record(stats: ArchiveStats) -> dict:
    """What `redline stats --json` prints: sources (name, articles, versions, changes, ...) and totals."""
    def one(s: SourceStats) -> dict:
        return {"name": s.source, "kind": s.kind, "articles": s.articles, "versions": s.versions,
                "changes": s.changes, "changes_by_kind": s.changes_by_kind, "updates": s.updates,
                "stealth_edits": s.stealth, "stealth_share": s.stealth_share, "timestamp_only": s.bumped,
                "median_hours_to_first_update": s.median_hours_to_first_update, "failing": s.failing,
                "gone": s.gone, "last_error": s.last_error}
    totals = one(stats.totals)
    del totals["name"], totals["kind"], totals["last_error"]
    return {"sources": [one(s) for s in stats.sources], "totals": totals}


# Records for scripts -----------------------------------------------------------------------

def summary_as_record(summary: ArticleSummary) -> dict:
    """One article of `redline articles --json`."""
    return to_dict(summary)


def hit_as_record(hit: SearchHit, marks: tuple[str, str] = ("[", "]")) -> dict:
    """One hit of `redline search --json`, the matched words in the snippet between marks."""
    record = to_dict(hit)
    record["snippet"] = hit.snippet.replace(storage.MARK_START, marks[0]).replace(storage.MARK_END, marks[1])
    return record


# A figure over a story's versions --------------------------------------------------------------

def figure_series(changes: Iterable[StoredChange]) -> dict[str, list[FigurePoint]]:
    """Each figure's value version by version, from a story's figure changes (subject → points): the
    value before its first change, then after each. A figure without a subject is named by its first value."""
    series: dict[str, list[FigurePoint]] = {}
    for change in changes:
        if change.kind != "figure" or change.detail != "value" or change.to_number is None:
            continue
        points = series.setdefault(change.subject or change.before or "figure", [])
        if not points:
            points.append(FigurePoint(change.subject or "", change.from_number or change.to_number - 1, change.before))
        points.append(FigurePoint(change.subject or "", change.to_number, change.after, change.delta))
    return series


def figure_values(series: dict[str, list[FigurePoint]], text: str = "",
                  fallback: str = "en") -> dict[str, list[float | None]]:
    """The number each point's text stands for (the middle of a range), None where none can be read; read in
    the language of the story's text (see extract.guess_language) when Redline has tables for it, else fallback."""
    from pipeline.extract import guess_language
    from pipeline.figures import choose_language, read_numbers  # its tables load only when figures are drawn

    language = choose_language(guess_language(text), fallback)

    def value(text: str | None) -> float | None:
        found = read_numbers(text or "", language)
        return found[0].middle if found else None

    return {subject: [value(point.value) for point in points] for subject, points in series.items()}


# Exports -----------------------------------------------------------------------------------

def export_records(db, what: str = "versions") -> Iterator[dict]:
    """Every stored version (text and metadata), change or alert as one flat record with its article's
    URL and source, oldest first, streamed."""
    if what == "versions":
        return ({"source": source, **version_as_record(url, version)}
                for url, source, version in storage.export_versions(db))
    if what == "changes":
        return (to_dict(change) for change in storage.export_changes(db))
    if what == "alerts":
        return (to_dict(alert) for alert in storage.export_alerts(db))
    raise InputError(f"--what {what!r}: expected one of {', '.join(EXPORTS)}")


def export_fields(what: str) -> tuple[str, ...]:
    """The columns of export_records(what), in order (a CSV header)."""
    if what == "versions":
        return ("source", *EXPORT_FIELDS)
    return tuple(f.name for f in fields(StoredChange if what == "changes" else Alert))


def raw_page(db, url: str, number: int | None = None) -> bytes:
    """The page as fetched for a version of the article at url (default: its latest version)."""
    article = locate_article(db, url)
    version = storage.get_version(db, article.id, number) if number else storage.latest_version(db, article.id)
    if version is None:
        raise NotFoundError(f"{article.canonical_url}: no version is stored yet")
    if not version.raw_blob:
        raise NotFoundError(f"{article.canonical_url} v{version.number}: its raw page was pruned (redline prune)")
    return storage.get_blob(db, version.raw_blob)


def newsedits_rows(db) -> Iterator[dict]:
    """The archive in the layout of the NewsEdits corpus (Spangher et al., 2022): an `entryversion` row per
    version, then a `split_sentences` row per sentence with what happened to it since the version before
    (op: unchanged, edited, moved, added; a deleted sentence is a row of the newer version with
    sent_idx null and sent_idx_prev set). entry_id is Redline's article id; versions count from 1."""
    from pipeline.diff import align_sentences, split_sentences

    previous: tuple[int, list[str]] | None = None
    for url, source, version in storage.export_versions(db):
        yield {"table": "entryversion", "source": source, "entry_id": version.article_id, "version": version.number,
               "title": version.title, "created": version.fetched_at, "url": url, "modified": version.modified_at}
        sentences = split_sentences(version.text)
        earlier = previous[1] if previous and previous[0] == version.article_id else None
        ops = align_sentences(earlier, sentences) if earlier is not None else [
            SentenceOp("added", (), (i,), None, text) for i, text in enumerate(sentences)]
        for op in ops:
            yield {"table": "split_sentences", "source": source, "entry_id": version.article_id,
                   "version": version.number, "sent_idx": op.new_index,
                   "sentence": op.new if op.new is not None else op.old,
                   "op": op.op if earlier is not None else "first",
                   "sent_idx_prev": op.old_index}
        previous = (version.article_id, sentences)
