"""Tests for pipeline/archive.py: finding articles by any URL, statistics, figure series."""

from __future__ import annotations

import pytest

import storage
from pipeline import archive
from pipeline.errors import InputError, NotFoundError
from pipeline.models import StoredChange
from test_storage import add_article, figure_diff, store

URL = "https://news.example.org/story"


@pytest.mark.parametrize("pasted", [URL, URL + "/", URL + "?utm_source=x&utm_campaign=y", URL + "#top",
                                    "http://news.example.org/story", "HTTPS://News.Example.org/story",
                                    "https://www.google.com/url?q=https://news.example.org/story&sa=D"])
def test_an_article_is_found_under_any_form_of_its_url(db, pasted):
    article = add_article(db, URL)
    assert archive.locate_article(db, pasted).id == article


def test_an_alias_and_an_id_find_it_too_and_a_miss_names_what_was_tried(db):
    article = add_article(db, URL)
    storage.add_aliases(db, {"https://feeds.example/x1": URL}, "redirect", storage_now())
    assert archive.locate_article(db, "https://feeds.example/x1").id == article
    assert archive.locate_article(db, str(article)).id == article
    with pytest.raises(NotFoundError, match=r"no article is tracked at 'https://other.example/a\?utm_source=x' \(tried"):
        archive.locate_article(db, "https://other.example/a?utm_source=x")


def storage_now():
    from test_storage import NOW

    return NOW


def test_check_kind_names_the_known_kinds():
    assert archive.check_kind("figure") == "figure" and archive.check_kind(None) is None
    with pytest.raises(InputError, match="kind 'toll': expected one of figure, headline"):
        archive.check_kind("toll")


def test_stats_add_up_over_sources(db):
    article = add_article(db)
    store(db, article, 1, "The toll is 12")
    store(db, article, 2, "The toll is 15", diff=figure_diff())
    record = archive.stats_as_record(storage.summarise_sources(db))
    [wire] = record["sources"]
    assert record["totals"]["versions"] == wire["versions"] == 2
    assert record["totals"]["changes_by_kind"] == wire["changes_by_kind"] == {"figure": 1, "headline": 1}
    assert wire["stealth_share"] == 1.0


def _figure(before, after, to, subject="people killed", detail="value"):
    return StoredChange(id=to, article_id=1, url=URL, kind="figure", before=before, after=after, detected_at="",
                        subject=subject, detail=detail, from_number=to - 1, to_number=to)


def test_figure_series_follows_each_figure_over_the_versions():
    series = archive.figure_series([_figure("at least 12", "at least 19", 2), _figure("at least 19", "at least 27", 3),
                                    _figure("$4.5 million", "$6 million", 3, subject="aid"),
                                    _figure(None, "about 600", 3, subject="people in shelter", detail="added")])
    assert [(p.version, p.value) for p in series["people killed"]] == [(1, "at least 12"), (2, "at least 19"),
                                                                       (3, "at least 27")]
    assert archive.figure_values(series) == {"people killed": [12, 19, 27], "aid": [4.5e6, 6e6]}


def test_figure_values_are_read_in_the_language_of_the_storys_text():
    series = archive.figure_series([_figure("2,5 Millionen Euro", "3,1 Millionen Euro", 2, subject="schaden")])
    german = "Die Polizei teilte mit, dass der Schaden an der Brücke nicht gering ist und auch die Straße leidet."

    assert archive.figure_values(series, german) == {"schaden": [2.5e6, 3.1e6]}
    assert archive.figure_values(series, "", fallback="de") == {"schaden": [2.5e6, 3.1e6]}
    assert archive.figure_values(series) != {"schaden": [2.5e6, 3.1e6]}  # read as English, "2,5" is no 2.5
