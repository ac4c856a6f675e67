"""Stored versions read again: the diff between any two, and re-extraction with today's extractor.

A stored version keeps its raw page, so when the extractor changes, both sides of a diff
are read by the same extractor and a difference the extractor made is never taken for
a newsroom's edit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import storage
from pipeline.archive import locate_article
from pipeline.config import DiffSettings, Settings, SourceSettings
from pipeline.diff import compare_pages
from pipeline.errors import ExtractionError, InputError
from pipeline.extract import describe_extractor, extract_article, hash_text
from pipeline.models import Article, DiffReport, Extracted, Reextraction, Version, to_iso, utcnow


def same_page(old: Extracted, new: Extracted) -> bool:
    """Whether two extractions tell the same text under the same headline."""
    return old.text == new.text and old.title == new.title


def source_of(db, settings: Settings, article: Article) -> SourceSettings | None:
    """The configured source an article came from (None if it is no longer configured)."""
    name = storage.source_name(db, article.source_id)
    return next((source for source in settings.sources if source.name == name), None)


def reread_version(db, rules: DiffSettings, article: Article, version: Version) -> Extracted:
    """The version as today's extractor with these rules reads its stored page (as stored when
    that is the extractor that stored it, or when the page cannot be read again)."""
    if version.extractor == describe_extractor(rules.ignore) or not version.raw_blob:
        return version.page()
    try:
        return extract_article(storage.get_blob(db, version.raw_blob), article.canonical_url, rules)
    except ExtractionError:
        return version.page()


def diff_versions(settings: Settings, url: str, from_number: int | None = None,
                  to_number: int | None = None) -> DiffReport:
    """The diff between two stored versions of the article at url, under any form of it (default: the
    latest and the one before)."""
    db = storage.open_archive(settings, create=False)
    return diff_article(db, settings, locate_article(db, url), from_number, to_number)


def diff_article(db, settings: Settings, article: Article, from_number: int | None = None,
                 to_number: int | None = None) -> DiffReport:
    """The diff between two stored versions of article (default: the latest and the one before).

    When the two were extracted by different extractors, both stored pages are read again by
    the current one, so that the diff shows the newsroom's edits and not the extractor's.
    """
    latest = storage.latest_version(db, article.id)
    if latest is None or latest.number < 2:
        raise InputError(f"{article.canonical_url}: has fewer than two versions, nothing to compare")
    to_number = to_number or latest.number
    from_number = from_number or to_number - 1
    old, new = storage.get_version(db, article.id, from_number), storage.get_version(db, article.id, to_number)
    old_page, new_page, note = old.page(), new.page(), None
    if old.extractor != new.extractor:
        rules = settings.diff_for(source_of(db, settings, article))
        old_page, new_page = reread_version(db, rules, article, old), reread_version(db, rules, article, new)
        note = (f"v{from_number} was extracted by {old.extractor} and v{to_number} by {new.extractor}; "
                f"both stored pages were read again by {describe_extractor(rules.ignore)}")
    return DiffReport(compare_pages(old_page, new_page, settings.diff.language), article.canonical_url,
                      from_number, to_number, old.title, new.title, new.revert_of, note)


def reextract(settings: Settings, url: str | None = None, now: datetime | None = None) -> list[Reextraction]:
    """Run today's extractor over every stored page (of one article, or all) and say what differs.

    A version whose page now reads exactly like the page before it existed only because the
    extractor changed: it is flagged as drift (its changes are no longer listed), never as an edit.
    """
    checked_at = to_iso(now or utcnow())
    db = storage.open_archive(settings, create=False)
    articles = [locate_article(db, url)] if url else storage.list_articles(db)
    results = []
    for article in articles:
        rules = settings.diff_for(source_of(db, settings, article))
        extractor, earlier = describe_extractor(rules.ignore), None
        for version in storage.list_versions(db, article.id):
            result = Reextraction(article.canonical_url, article.id, version.number, extractor, version.extractor,
                                  checked_at)
            try:
                page = extract_article(storage.get_blob(db, version.raw_blob), article.canonical_url, rules)
            except Exception as exc:  # noqa: BLE001 - one unreadable page never stops the others
                result, page = replace(result, error=f"{type(exc).__name__}: {exc}"), None
            else:
                result = replace(result, text_hash=hash_text(page.text), differs=not same_page(version.page(), page),
                                 drift_only=earlier is not None and same_page(earlier, page))
            if result.drift_only:
                storage.mark_extractor_drift(db, article.id, version.number)
            storage.record_reextraction(db, result)
            results.append(result)
            earlier = page
    return results
