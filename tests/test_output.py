"""Tests for pipeline.output: one DiffReport rendered for the terminal, as HTML, unified text and JSON."""

from __future__ import annotations

import io
import json

import lxml.html
import pytest
from rich.console import Console

from pipeline.diff import compare_pages
from pipeline.errors import InputError
from pipeline.models import Change, DiffReport, Extracted
from pipeline.output import (describe_disclosure, print_report, render_html, render_json, render_report,
                             render_marked)

OLD = ("Rescuers said at least 12 people were killed in the flood.\n"
       "The mayor said <script>alert('x')</script> & more was \"under way\".\n"
       "Schools were closed on Tuesday.")
NEW = ("Rescuers said at least 19 people were killed in the flood.\n"
       "The mayor said <script>alert('x')</script> & more was \"well under way\".\n"
       "Schools were closed on Tuesday.\nCorrection: An earlier version of this story gave the wrong toll.")


@pytest.fixture
def report():
    diff = compare_pages(Extracted(OLD, title="Flood <b>kills</b> 12"), Extracted(NEW, title="Flood <b>kills</b> 19"))
    return DiffReport(diff, "http://127.0.0.1/news/flood?a=1&b=<2>", 2, 3, "Flood <b>kills</b> 12",
                      "Flood <b>kills</b> 19", revert_of=1, note="both pages read again by <extractor>")


def test_html_escapes_every_piece_of_article_text(report):
    page = render_html(report)

    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "Flood &lt;b&gt;kills&lt;/b&gt; 19" in page
    assert "?a=1&amp;b=&lt;2&gt;" in page and "&lt;extractor&gt;" in page


def test_html_has_an_inline_view_and_one_side_by_side_row_per_sentence(report):
    document = lxml.html.fromstring(render_html(report))

    inline = document.xpath('//section[@id="inline"]//div[@class="text"]')[0]
    assert [d.text for d in inline.xpath(".//del")][:1] == ["12"]
    assert [i.text for i in inline.xpath(".//ins")][:1] == ["19"]
    rows = document.xpath('//section[@id="side-by-side"]//tbody/tr')
    assert [r.get("class") for r in rows] == [s.op for s in report.diff.sentences]
    edited = rows[0]
    assert edited.xpath('td[@class="old"]/del/text()') == ["12"] and edited.xpath('td[@class="new"]/ins/text()') == ["19"]
    assert rows[-1].get("class") == "added" and rows[-1].xpath('td[@class="old"]')[0].text is None
    # The text rebuilds: the old column holds every old sentence, the new column every new one.
    assert " ".join(r.xpath('td[@class="new"]')[0].text_content() for r in rows) == NEW.replace("\n", " ")


def test_html_says_whether_the_edit_was_disclosed(report):
    document = lxml.html.fromstring(render_html(report))

    assert document.xpath('//p[@class="disclosed"]/text()') == [describe_disclosure(report)]
    stealth = DiffReport(compare_pages(Extracted(OLD), Extracted(OLD.replace("12", "19"))))
    assert lxml.html.fromstring(render_html(stealth)).xpath('//p[@class="stealth"]')


def test_unified_text_holds_the_heading_revert_disclosure_stats_changes_and_word_diff(report):
    text = render_marked(report)

    lines = text.split("\n")
    assert lines[0] == "http://127.0.0.1/news/flood?a=1&b=<2>  v2 → v3  (v3 reverts to v1)"
    assert lines[1] == "note: both pages read again by <extractor>"
    assert lines[2].startswith("disclosed: notice: Correction: An earlier version")
    assert lines[3].startswith("words: ") and "sentences: 1 added" in lines[3]
    assert "  headline: Flood <b>kills</b> 12 → Flood <b>kills</b> 19" in lines
    assert "  quote: under way → well under way" in lines
    assert "at least [-12-]{+19+} people" in text
    assert "\x1b[" not in text


def test_json_is_one_line_with_ops_that_rebuild_both_texts(report):
    line = render_json(report)

    assert "\n" not in line
    record = json.loads(line)
    assert (record["from"], record["to"], record["revert_of"], record["disclosed"]) == (2, 3, 1, True)
    assert "".join(t for op, t in record["ops"] if op <= 0) == OLD
    assert "".join(t for op, t in record["ops"] if op >= 0) == NEW
    assert [s["op"] for s in record["sentences"]] == [s.op for s in report.diff.sentences]
    assert {c["kind"] for c in record["changes"]} == {"headline", "figure", "quote", "correction"}


def test_terminal_output_is_coloured_on_a_terminal_and_plain_otherwise(report):
    coloured, plain = io.StringIO(), io.StringIO()

    print_report(report, Console(file=coloured, force_terminal=True, width=100))
    print_report(report, Console(file=plain, force_terminal=False, width=100))

    assert "\x1b[" in coloured.getvalue() and "v3 reverts to v1" in coloured.getvalue()
    assert "\x1b[" not in plain.getvalue() and "[-12-]{+19+}" in plain.getvalue()


def test_render_report_names_an_unknown_format(report):
    with pytest.raises(InputError, match="'pdf'"):
        render_report(report, "pdf")


ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\"


def test_control_characters_in_article_text_never_reach_a_terminal_or_a_text_file():
    diff = compare_pages(Extracted(f"The toll is 12.{ESCAPES}", title=f"Flood{ESCAPES}"),
                         Extracted(f"The toll is 19.{ESCAPES}", title=f"Flood 19{ESCAPES}"))
    report = DiffReport(diff, "http://127.0.0.1/a", 1, 2, f"Flood{ESCAPES}", f"Flood 19{ESCAPES}")
    stream = io.StringIO()
    print_report(report, Console(file=stream, force_terminal=True, color_system="standard"))
    shown = stream.getvalue()
    assert "\x1b[2J" not in shown and "\x1b]" not in shown and "\\x1b[2J" in shown
    unified = render_marked(report)
    assert "\x1b" not in unified and "\x07" not in unified and "\\x1b]0;owned" in unified


def test_rich_markup_in_article_text_is_printed_as_written():
    diff = compare_pages(Extracted("Toll [bold red]12[/bold red] [link=https://evil.example]x[/link]."),
                         Extracted("Toll [bold red]19[/bold red] [link=https://evil.example]x[/link]."))
    stream = io.StringIO()
    print_report(DiffReport(diff, "u", 1, 2), Console(file=stream, force_terminal=True, color_system="standard"))
    assert "[link=https://evil.example]" in stream.getvalue() and "\x1b]8" not in stream.getvalue()


def test_unified_is_a_diff_u_of_the_sentences():
    from pipeline.output import render_unified

    diff = compare_pages(Extracted("One stays. The toll is 12. Gone now."), Extracted("One stays. The toll is 19. New here."))
    text = render_unified(DiffReport(diff, "https://x.example/a", 1, 2))
    assert text.splitlines() == ["--- https://x.example/a v1", "+++ https://x.example/a v2", "@@ -1,3 +1,3 @@",
                                 " One stays.", "-The toll is 12.", "-Gone now.", "+The toll is 19.", "+New here."]


def test_a_feed_change_reads_as_seen_in_the_feed_not_as_a_quote():
    from pipeline.models import IN_THE_FEED
    from pipeline.output import describe_with_context

    lines = describe_with_context(Change("headline", "Flood kills 12", "Flood kills 19", context=IN_THE_FEED))
    assert lines == ["headline: Flood kills 12 → Flood kills 19", "    (seen in the feed, before the page itself)"]
