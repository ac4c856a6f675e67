"""Tests for the `redline` command line (pipeline.cli), run in-process with CliRunner."""

from __future__ import annotations

import csv
import gzip
import io
import json
import socket

import pytest
from click.testing import CliRunner

import storage
from demo.newsroom import load_stories, render_article
from pipeline.cli import cli
from pipeline.extract import normalize_text
from pipeline.output import diff_as_unified

FLOOD = load_stories()[0]
FLOOD_OLD = ("Rescuers said that at least 12 people were killed when the Meridian River burst its banks overnight.\n"
             "The county said 300 homes had been destroyed and hundreds more damaged along the riverfront.\n")
FLOOD_NEW = FLOOD_OLD.replace("at least 12", "at least 19")


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args, input=None, env=None):
    return runner.invoke(cli, [str(a) for a in args], input=input, env=env)


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture
def article_html(tmp_path):
    """The first flood-toll page, written to a file."""
    html = render_article(FLOOD.versions[0], FLOOD.slug, "http://127.0.0.1:8000")
    path = tmp_path / "flood.html"
    path.write_text(html, encoding="utf-8")
    return path


def write_config(tmp_path, feed_url: str, name: str = "redline.toml"):
    path = tmp_path / name
    path.write_text(
        '[database]\npath = "redline.db"\n\n'
        "[network]\nallow_private = true\nhost_delay = 0\n\n"
        f'[[sources]]\nname = "newsroom"\nkind = "rss"\nurl = "{feed_url}"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def tracked(runner, tmp_path, newsroom):
    """A config following the newsroom, after two runs with an advance between: (config path, flood-toll URL)."""
    config = write_config(tmp_path, f"{newsroom.url}/feed.xml")
    first = invoke(runner, "run", "--config", config)
    assert first.exit_code == 0, first.output
    newsroom.advance()
    second = invoke(runner, "run", "--config", config, "--all")
    assert second.exit_code == 0, second.output
    return config, f"{newsroom.url}/news/flood-toll"


# --------------------------------------------------------------------------- extract


def assert_flood_page(record: dict) -> None:
    version = FLOOD.versions[0]
    assert record["title"] == version.title
    assert record["byline"] == version.byline
    assert record["published"].startswith("2025-03-11T05:42:00")
    assert record["modified"].startswith("2025-03-11T05:42:00")
    assert record["text"] == normalize_text("\n".join(version.paragraphs))
    assert record["notices"] == []


def test_extract_json_of_an_html_file(runner, article_html):
    result = invoke(runner, "extract", article_html, "--json")

    assert result.exit_code == 0, result.output
    record, = json_lines(result.stdout)
    assert_flood_page(record)


def test_extract_json_of_a_gzipped_file(runner, article_html, tmp_path):
    gz = tmp_path / "flood.html.gz"
    gz.write_bytes(gzip.compress(article_html.read_bytes()))

    result = invoke(runner, "extract", gz, "--json")

    assert result.exit_code == 0, result.output
    record, = json_lines(result.stdout)
    assert_flood_page(record)


def test_extract_json_from_stdin(runner, article_html):
    result = invoke(runner, "extract", "-", "--json", input=article_html.read_bytes())

    assert result.exit_code == 0, result.output
    record, = json_lines(result.stdout)
    assert_flood_page(record)


def test_extract_as_text_shows_title_and_body(runner, article_html):
    result = invoke(runner, "extract", article_html)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(FLOOD.versions[0].title + "\n")
    assert "at least 12 people were killed" in result.stdout


def test_extract_of_a_missing_file_names_the_path(runner, tmp_path):
    missing = tmp_path / "nowhere" / "page.html"

    result = invoke(runner, "extract", missing, "--json")

    assert result.exit_code != 0
    assert str(missing) in result.output
    assert "Traceback" not in result.output


def test_extract_of_a_bad_gzip_file_names_the_path(runner, tmp_path):
    bad = tmp_path / "page.html.gz"
    bad.write_bytes(b"<html>not gzip</html>")

    result = invoke(runner, "extract", bad)

    assert result.exit_code != 0
    assert str(bad) in result.output


def test_extract_of_a_page_without_text_fails_cleanly(runner, tmp_path):
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body></body></html>")

    result = invoke(runner, "extract", empty, "--url", "http://127.0.0.1/news/empty")

    assert result.exit_code == 1
    assert "http://127.0.0.1/news/empty" in result.output


# --------------------------------------------------------------------------- compare


def test_compare_json_gives_ops_and_a_figure_change(runner, tmp_path):
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text(FLOOD_OLD, encoding="utf-8")
    new.write_text(FLOOD_NEW, encoding="utf-8")

    result = invoke(runner, "compare", old, new, "--json")

    assert result.exit_code == 0, result.output
    record, = json_lines(result.stdout)
    ops = record["ops"]
    assert all(isinstance(op, list) and len(op) == 2 and op[0] in (-1, 0, 1) for op in ops)
    assert "".join(text for op, text in ops if op <= 0) == normalize_text(FLOOD_OLD)
    assert "".join(text for op, text in ops if op >= 0) == normalize_text(FLOOD_NEW)
    assert [-1, "12"] in ops and [1, "19"] in ops
    figure, = [c for c in record["changes"] if c["kind"] == "figure"]
    assert (figure["before"], figure["after"]) == ("at least 12", "at least 19")
    assert figure["context"].startswith("Rescuers said that at least 19 people were killed")
    assert record["stats"]["figures_changed"] == 1


def test_compare_normalises_the_files_before_diffing(runner, tmp_path):
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("\u201cWe are safe,\u201d she said.\n\n" + FLOOD_OLD, encoding="utf-8")
    new.write_text('"We are safe," she said.\n' + FLOOD_OLD, encoding="utf-8")

    result = invoke(runner, "compare", old, new, "--json")

    assert result.exit_code == 0, result.output
    record, = json_lines(result.stdout)
    assert all(op == 0 for op, _ in record["ops"])
    assert record["changes"] == []


def test_compare_as_text_marks_the_changed_words(runner, tmp_path):
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text(FLOOD_OLD, encoding="utf-8")
    new.write_text(FLOOD_NEW, encoding="utf-8")

    result = invoke(runner, "compare", old, new)

    assert result.exit_code == 0, result.output
    assert "figure: at least 12 → at least 19" in result.stdout
    assert "[-12-]{+19+}" in result.stdout


def test_compare_as_text_keeps_bracketed_words(runner, tmp_path):
    # Regression: at 22a891d print_diff printed with rich markup on, and "[sic]" was taken for a style tag.
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("He wrote that [sic] 12 people died in the flood.\n", encoding="utf-8")
    new.write_text("He wrote that [sic] 19 people died in the flood.\n", encoding="utf-8")

    result = invoke(runner, "compare", old, new)

    assert result.exit_code == 0, result.output
    assert "[sic]" in result.stdout


def test_compare_piped_prints_the_words_as_written_and_loads_no_rich(tmp_path):
    # Before, output to a pipe went through rich, which turned ":fire:" in an article into an emoji (and took
    # 18 ms to load); piped output is the plain rendering, written as it is.
    import subprocess
    import sys

    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("The toll rose to 12 people.\n", encoding="utf-8")
    new.write_text("The toll rose to 31 people :fire: today.\n", encoding="utf-8")
    code = ("import sys; from pipeline.cli import cli; sys.argv = ['redline', 'compare', sys.argv[1], sys.argv[2]]\n"
            "try:\n    cli()\nexcept SystemExit:\n    pass\nprint('rich' in sys.modules)")
    printed = subprocess.run([sys.executable, "-c", code, str(old), str(new)], capture_output=True, text=True,
                             check=True).stdout
    assert "{+31+} people{+ :fire: today+}" in printed and printed.endswith("False\n")


def test_compare_of_a_file_that_is_not_utf8_names_it(runner, tmp_path):
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_bytes(b"caf\xe9 \xff\xfe")
    new.write_text("cafe", encoding="utf-8")

    result = invoke(runner, "compare", old, new)

    assert result.exit_code != 0
    assert str(old) in result.output


def test_compare_jsonl_gives_one_result_per_pair_shaped_like_compare_json(runner, tmp_path):
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text(FLOOD_OLD, encoding="utf-8")
    new.write_text(FLOOD_NEW, encoding="utf-8")
    single, = json_lines(invoke(runner, "compare", old, new, "--json").stdout)
    pairs = [{"old": FLOOD_OLD, "new": FLOOD_NEW}, {"id": "b", "old": "The fine was £12.", "new": "The fine was £15."},
             {"old": "Nothing changed.", "new": "Nothing changed."}] * 500

    result = invoke(runner, "compare", "--jsonl", input="".join(json.dumps(p) + "\n" for p in pairs))

    assert result.exit_code == 0, result.output[-500:]
    records = json_lines(result.stdout)
    assert len(records) == 1500
    assert records[0] == single
    assert records[1]["id"] == "b"
    assert [(c["before"], c["after"]) for c in records[1]["changes"]] == [("£12", "£15")]
    assert records[2]["changes"] == [] and set(records[2]) == {"ops", "stats", "changes"}
    assert records[3] == single


def test_compare_jsonl_reports_a_bad_line_and_goes_on(runner):
    lines = ['{"old": "12 people", "new": "19 people"}', "not json", '{"old": "x"}', "[1, 2]",
             '{"old": "5 boats", "new": "6 boats"}']

    result = invoke(runner, "compare", "--jsonl", input="\n".join(lines) + "\n")

    assert result.exit_code == 1
    records = json_lines(result.stdout)
    assert len(records) == 5
    assert [r.get("line") for r in records] == [None, 2, 3, 4, None]
    assert "stdin line 2: not a JSON object" in records[1]["error"]
    assert 'stdin line 3: expected an object with string fields "old" and "new"' in records[2]["error"]
    assert records[4]["changes"][0]["after"] == "6"
    assert "3 of 5 line(s) could not be compared" in result.stderr


def test_compare_reads_in_the_language_asked_or_guessed(runner, tmp_path):
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("Die Quote lag bei 5,8 Prozent, teilte das Amt mit.", encoding="utf-8")
    new.write_text("Die Quote lag bei 6,1 Prozent, teilte das Amt mit.", encoding="utf-8")
    lines = ['{"old": "Au moins 12 morts.", "new": "Au moins 15 morts.", "language": "fr"}',
             '{"old": "12", "new": "13", "language": "xx"}']

    guessed = json_lines(invoke(runner, "compare", old, new, "--json").stdout)[0]
    asked = json_lines(invoke(runner, "compare", old, new, "--json", "--language", "de").stdout)[0]
    unknown = invoke(runner, "compare", old, new, "--language", "xx")
    many = json_lines(invoke(runner, "compare", "--jsonl", input="\n".join(lines) + "\n").stdout)

    for record in (guessed, asked):
        assert [(c["before"], c["after"]) for c in record["changes"]] == [("5,8 Prozent", "6,1 Prozent")]
    assert unknown.exit_code == 2 and "'xx': expected a language with figure tables (de, en, es, fr)" in unknown.output
    assert [(c["before"], c["after"]) for c in many[0]["changes"]] == [("Au moins 12", "Au moins 15")]
    assert many[1] == {"line": 2, "error": "stdin line 2: \"language\" 'xx': expected a language with figure tables "
                                           "(de, en, es, fr)"}


def test_compare_needs_two_files_or_jsonl(runner, tmp_path):
    assert "needs two files" in invoke(runner, "compare", tmp_path / "old.txt").output
    assert "give no OLD or NEW" in invoke(runner, "compare", "a", "b", "--jsonl", input="").output


# --------------------------------------------------------------------------- run and the stored history


def test_run_twice_then_history(runner, tracked):
    config, url = tracked

    result = invoke(runner, "history", url, "--config", config)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("v1 ") and "at least 12" in lines[0]
    assert lines[1].startswith("v2 ") and "at least 19" in lines[1]


def test_history_json(runner, tracked):
    config, url = tracked

    result = invoke(runner, "history", url, "--config", config, "--json")

    assert result.exit_code == 0, result.output
    records = json_lines(result.stdout)
    assert [r["number"] for r in records] == [1, 2]
    assert all(r["url"] == url and "text" not in r for r in records)
    assert records[1]["title"] == FLOOD.versions[1].title


def test_history_of_an_unknown_url_fails_cleanly(runner, tracked):
    config, _ = tracked

    result = invoke(runner, "history", "http://127.0.0.1:1/news/unknown", "--config", config)

    assert result.exit_code == 1
    assert "http://127.0.0.1:1/news/unknown" in result.output


def test_diff_marked(runner, tracked):
    config, url = tracked

    result = invoke(runner, "diff", url, "--format", "marked", "--config", config)

    assert result.exit_code == 0, result.output
    assert "[-" in result.stdout and "{+" in result.stdout
    assert "[-12-]{+19+}" in result.stdout
    assert "figure: at least 12 → at least 19 (people killed)" in result.stdout
    assert "\x1b[" not in result.stdout  # plain text, no colour codes


def test_diff_marked_does_not_wrap_lines(runner, tracked):
    # Regression: at 22a891d rich wrapped the plain diff at the console width, breaking lines mid-sentence.
    config, url = tracked
    ops = json_lines(invoke(runner, "diff", url, "--format", "json", "--config", config).stdout)[0]["ops"]

    result = invoke(runner, "diff", url, "--format", "marked", "--config", config, env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    assert diff_as_unified(ops) in result.stdout


def test_diff_json(runner, tracked):
    config, url = tracked

    result = invoke(runner, "diff", url, "--format", "json", "--config", config)

    assert result.exit_code == 0, result.output
    record, = json_lines(result.stdout)
    assert (record["url"], record["from"], record["to"]) == (url, 1, 2)
    old_text = normalize_text("\n".join(FLOOD.versions[0].paragraphs))
    new_text = normalize_text("\n".join(FLOOD.versions[1].paragraphs))
    assert "".join(text for op, text in record["ops"] if op <= 0) == old_text
    assert "".join(text for op, text in record["ops"] if op >= 0) == new_text
    kinds = {c["kind"] for c in record["changes"]}
    assert kinds == {"headline", "modified", "figure"}


def test_diff_html_is_a_page_with_inline_and_side_by_side_views(runner, tracked):
    config, url = tracked

    result = invoke(runner, "diff", url, "--format", "html", "--config", config)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert "<del>12</del><ins>19</ins>" in result.stdout
    assert 'id="inline"' in result.stdout and 'id="side-by-side"' in result.stdout
    assert ('<p class="timestamp">timestamp bumped, nothing said of what changed: update banner: Updated 11 March '
            '2025, 09:15 UTC') in result.stdout


def test_diff_in_the_terminal_format_tells_how_the_page_marked_the_edit(runner, tracked):
    config, url = tracked

    result = invoke(runner, "diff", url, "--config", config)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{url}  v1 → v2\n")
    assert "timestamp bumped, nothing said of what changed: update banner" in result.stdout
    assert "dateModified" in result.stdout
    assert "[-12-]{+19+}" in result.stdout  # CliRunner is no terminal: plain markers


def test_diff_of_a_version_that_does_not_exist_names_it(runner, tracked):
    config, url = tracked

    result = invoke(runner, "diff", url, "--from", "1", "--to", "9", "--config", config)

    assert result.exit_code == 1
    assert "no version 9" in result.output


def test_reextract_reads_every_stored_page_again(runner, tracked):
    config, url = tracked

    result = invoke(runner, "reextract", "--config", config)

    assert result.exit_code == 0, result.output
    *per_version, summary = result.stdout.splitlines()
    assert f"{url}  v2  same" in per_version and all(line.endswith("  same") for line in per_version)
    assert summary == f"{len(per_version)} version(s) read again: 0 read differently, 0 flagged as extractor drift, 0 failed"
    records = json_lines(invoke(runner, "reextract", url, "--json", "--config", config).stdout)
    assert [(r["number"], r["status"], r["drift_only"]) for r in records] == [(1, "same", False), (2, "same", False)]


def test_diff_of_an_article_with_one_version_fails_cleanly(runner, tracked, newsroom):
    config, _ = tracked
    url = f"{newsroom.url}/news/library-reopens"  # never revised

    result = invoke(runner, "diff", url, "--config", config)

    assert result.exit_code == 1
    assert "fewer than two versions" in result.output


def test_changes_json_of_one_kind(runner, tracked):
    config, url = tracked

    result = invoke(runner, "changes", "--json", "--kind", "figure", "--config", config)

    assert result.exit_code == 0, result.output
    records = json_lines(result.stdout)
    assert records
    for record in records:
        assert {"url", "kind", "before", "after", "context", "detected_at"} <= set(record)
        assert record["kind"] == "figure"
        assert record["after"] in record["context"]
    assert any(r["url"] == url and (r["before"], r["after"]) == ("at least 12", "at least 19") for r in records)


def test_changes_as_text_lists_every_kind(runner, tracked):
    config, url = tracked

    result = invoke(runner, "changes", "--config", config)

    assert result.exit_code == 0, result.output
    assert "headline:" in result.stdout and "figure:" in result.stdout
    assert url in result.stdout
    assert "[stealth]" not in result.stdout  # every demo revision moves its dateModified and banner


def alerting_config(tmp_path, newsroom, url_credentials=""):
    config = write_config(tmp_path, f"{newsroom.url}/feed.xml")
    host = newsroom.url.split("://", 1)[1]
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[[alerts]]\nname = "figures"\nkinds = ["figure", "headline"]\n'
                  f'urls = ["json://{url_credentials}{host}/_sink"]\n')
    return config


def test_alerts_lists_delivery_without_secrets(runner, tmp_path, newsroom):
    config = alerting_config(tmp_path, newsroom, url_credentials="user:s3cretpw@")
    invoke(runner, "run", "--config", config)
    newsroom.advance()
    invoke(runner, "run", "--config", config, "--all")

    text = invoke(runner, "alerts", "--config", config)
    listed = json_lines(invoke(runner, "alerts", "--json", "--config", config).stdout)

    assert text.exit_code == 0, text.output
    assert listed and {a["status"] for a in listed} == {"sent"}
    assert "figure: at least 12 → at least 19 (people killed) +7 (+58%)" in text.stdout
    assert "sent" in text.stdout and "user:****@" in text.stdout
    assert "s3cretpw" not in text.stdout + json.dumps(listed)
    assert json_lines(invoke(runner, "alerts", "--json", "--status", "failed", "--config", config).stdout) == []
    assert len(json_lines(invoke(runner, "alerts", "--json", "--newest", "1", "--config", config).stdout)) == 1


def test_resend_requeues_only_what_was_not_sent(runner, tmp_path, newsroom):
    config = alerting_config(tmp_path, newsroom)
    invoke(runner, "run", "--config", config)
    newsroom.advance()
    invoke(runner, "run", "--config", config, "--all")
    sent = json_lines(invoke(runner, "alerts", "--json", "--config", config).stdout)[0]["id"]

    result = invoke(runner, "resend", sent, 999, "--config", config)

    assert result.exit_code == 1
    assert "requeued 0 alert(s)" in result.stdout
    assert f"not requeued (unknown, sent or being sent): {sent} 999" in result.output


def test_feed_is_atom_with_an_entry_per_changed_version(runner, tracked, tmp_path):
    import feedparser

    config, url = tracked

    result = invoke(runner, "feed", "--config", config, "--self-url", "https://r.example/changes.xml")

    assert result.exit_code == 0, result.output
    parsed = feedparser.parse(result.stdout_bytes)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Redline: detected changes"
    flood = [e for e in parsed.entries if e.link == url and "#redline-v" in e.id]
    assert len(flood) == 1  # the headline, date and figure changes of one version, together
    assert any(e.link == url and "feed" in e.summary for e in parsed.entries)  # the feed's own headline change
    entry = flood[0]
    assert entry.id == f"{url}#redline-v2"
    assert entry.title.startswith("Meridian River flood kills at least 19 in Harlow Bay: headline:")
    assert "figure: at least 12 → at least 19 (people killed)" in entry.summary
    assert {t.term for t in entry.tags} == {"headline", "modified", "figure"}
    assert len({e.id for e in parsed.entries}) == len(parsed.entries)


def test_feed_of_one_source_and_of_every_source_into_a_folder(runner, tracked, tmp_path):
    import feedparser

    config, _ = tracked

    one = feedparser.parse(invoke(runner, "feed", "--source", "newsroom", "--config", config).stdout_bytes)
    unknown = invoke(runner, "feed", "--source", "nosuch", "--config", config)
    written = invoke(runner, "feed", "--dir", tmp_path / "feeds", "--config", config)

    assert one.feed.title == "Redline: changes in newsroom" and one.entries
    assert unknown.exit_code == 1 and "nosuch" in unknown.output
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in (tmp_path / "feeds").iterdir()) == ["changes-newsroom.xml", "changes.xml"]
    every = feedparser.parse((tmp_path / "feeds" / "changes.xml").read_bytes())
    assert [e.id for e in every.entries] == [e.id for e in one.entries]


def test_changes_seen_in_the_feed_say_so(runner, tracked):
    config, url = tracked

    result = invoke(runner, "changes", "--kind", "headline", "--config", config)

    lines = [line for line in result.stdout.splitlines() if url in line]
    assert any("(feed)  headline: Meridian River flood kills at least 12" in line for line in lines)
    assert any("v1→v2  headline:" in line for line in lines)  # and the page showed it when checked


def test_export_jsonl(runner, tracked):
    config, url = tracked

    result = invoke(runner, "export", "--format", "jsonl", "--config", config)

    assert result.exit_code == 0, result.output
    records = json_lines(result.stdout)
    for record in records:
        assert {"url", "number", "fetched_at", "title", "text"} <= set(record)
    flood = [r for r in records if r["url"] == url]
    assert [r["number"] for r in flood] == [1, 2]
    assert flood[1]["text"] == normalize_text("\n".join(FLOOD.versions[1].paragraphs))
    db = storage.open_db(config.parent / "redline.db")
    assert len(records) == storage.count_rows(db)["versions"]


def test_export_csv(runner, tracked):
    config, url = tracked

    result = invoke(runner, "export", "--format", "csv", "--config", config)

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    jsonl = json_lines(invoke(runner, "export", "--format", "jsonl", "--config", config).stdout)
    assert len(rows) == len(jsonl)
    assert {"url", "number", "fetched_at", "title", "text"} <= set(rows[0])
    flood = [r for r in rows if r["url"] == url]
    assert [r["number"] for r in flood] == ["1", "2"]
    assert flood[0]["text"] == normalize_text("\n".join(FLOOD.versions[0].paragraphs))  # quotes and newlines survive


def test_run_json_summary(runner, tmp_path, newsroom):
    config = write_config(tmp_path, f"{newsroom.url}/feed.xml")

    result = invoke(runner, "run", "--config", config, "--json")

    assert result.exit_code == 0, result.output
    summary, = json_lines(result.stdout)
    assert summary["polls"] == [{"source": "newsroom", "status": 200, "new_articles": 6, "changes": 0, "error": None}]
    assert summary["checks"]["new_version"] == 6


# --------------------------------------------------------------------------- bad input


def test_bad_config_names_the_file_and_the_key(runner, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[network]\nallow_privat = true\n", encoding="utf-8")

    result = invoke(runner, "run", "--config", config)

    assert result.exit_code != 0
    assert str(config) in result.output
    assert "network.allow_privat" in result.output
    assert "Traceback" not in result.output


def test_missing_config_names_the_file(runner, tmp_path):
    config = tmp_path / "absent.toml"

    result = invoke(runner, "history", "x", "--config", config)

    assert result.exit_code != 0
    assert str(config) in result.output


def test_run_with_an_unreachable_source_exits_0_and_records_the_error(runner, tmp_path):
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write_config(tmp_path, f"http://127.0.0.1:{port}/feed.xml")

    result = invoke(runner, "run", "--config", config)

    assert result.exit_code == 0, result.output
    assert "source newsroom: error:" in result.stdout
    assert f"127.0.0.1:{port}" in result.stdout
    db = storage.open_db(tmp_path / "redline.db")
    source = storage.get_source(db, "newsroom")
    assert f"127.0.0.1:{port}" in source.last_error
    assert storage.count_rows(db)["articles"] == 0


# The database at fault: one line naming the path, never a traceback ------------------------

def config_for_database(tmp_path, database):
    path = tmp_path / "db.toml"
    path.write_text(f'[database]\npath = "{database}"\nbusy_timeout = "0.2s"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [["changes"], ["history", "x"], ["alerts"], ["export"], ["feed"], ["diff", "x"]])
def test_a_reading_command_on_a_mistyped_path_creates_nothing(runner, tmp_path, command):
    missing = tmp_path / "typo" / "redline.db"
    result = invoke(runner, *command, "--config", config_for_database(tmp_path, missing))
    assert result.exit_code == 1 and f"{missing}: no database there" in result.output
    assert not missing.parent.exists()


@pytest.mark.parametrize("make, problem", [
    (lambda path: path.mkdir(), "is a folder, not a database file"),
    (lambda path: path.write_bytes(b"these are notes, not a database\n" * 100), "is not a SQLite database"),
])
def test_a_database_path_that_cannot_be_used_is_one_line(runner, tmp_path, make, problem):
    database = tmp_path / "redline.db"
    make(database)
    for command in (["run"], ["changes"]):
        result = invoke(runner, *command, "--config", config_for_database(tmp_path, database))
        assert result.exit_code == 1 and result.output.strip() == f"Error: {database}: {problem}" + (
            " (another file at the path?)" if "SQLite" in problem else "")


def test_a_locked_database_is_one_line_after_the_busy_timeout(runner, tmp_path):
    import sqlite3

    database = tmp_path / "redline.db"
    config = config_for_database(tmp_path, database)
    assert invoke(runner, "init", "--config", config).exit_code == 0
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another run writing, and not letting go
    try:
        result = invoke(runner, "run", "--all", "--config", config)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1 and f"{database}: is locked by another process" in result.output
    assert "Traceback" not in result.output


def test_the_command_line_loads_nothing_heavy_until_a_command_needs_it():
    # Start-up is paid by every command: the alert libraries load when a message goes out, Airflow only in its
    # DAGs, the web app and its plots (FastAPI, matplotlib, numpy) only in `redline serve`.
    import subprocess
    import sys

    heavy = ("apprise", "jinja2", "airflow", "fastapi", "uvicorn", "matplotlib", "numpy", "pandas",
             # and until a command needs them: storage's sqlite-utils, the stages' libraries, rich's colours
             "sqlite_utils", "httpx", "trafilatura", "courlan", "feedparser", "rich",
             "psycopg")  # only for an archive on PostgreSQL
    code = f"import sys, pipeline.cli; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
    still = ("import sys, storage.sqlite; utils = storage.sqlite.load_sqlite_utils(); hidden = 'numpy' not in sys.modules; "
             "import numpy, sqlite_utils.db; print(hidden, sqlite_utils.db.np is None, numpy.__name__)")
    assert subprocess.run([sys.executable, "-c", still], capture_output=True, text=True,
                          check=True).stdout.split() == ["True", "True", "numpy"]  # numpy itself still imports



# --------------------------------------------------------------------------- the researcher's commands


def test_articles_json_lists_every_story_with_its_counts(runner, tracked):
    config, url = tracked
    result = invoke(runner, "articles", "--json", "--sort", "changes", "--config", config)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {"id", "url", "source", "title", "versions", "changes", "last_changed_at"} <= set(rows[0])
    flood = next(row for row in rows if row["url"] == url)
    assert (flood["versions"], flood["source"]) == (2, "newsroom") and flood["changes"] > 0
    assert [row["changes"] for row in rows] == sorted((row["changes"] for row in rows), reverse=True)
    only = json.loads(invoke(runner, "articles", "--json", "--figure", "--text", "killed", "--config", config).stdout)
    assert [row["url"] for row in only] == [url]


def test_articles_rejects_a_bad_date_naming_it(runner, tracked):
    config, _ = tracked
    result = invoke(runner, "articles", "--since", "last week", "--config", config)
    assert result.exit_code == 1 and "--since 'last week': expected a date such as 2026-12-01" in result.output


def test_search_json_gives_url_version_and_snippet(runner, tracked):
    config, url = tracked
    result = invoke(runner, "search", '"at least 12"', "--json", "--config", config)
    assert result.exit_code == 0, result.output
    [hit] = json.loads(result.stdout)
    assert (hit["url"], hit["version"], hit["first_version"], hit["disappeared_at"]) == (url, 1, 1, 2)
    assert "[at least 12]" in hit["snippet"]
    assert json.loads(invoke(runner, "search", "zzyzx", "--json", "--config", config).stdout) == []
    assert invoke(runner, "search", "   ", "--config", config).exit_code == 1


def test_stats_json_has_sources_and_totals(runner, tracked):
    config, _ = tracked
    result = invoke(runner, "stats", "--json", "--config", config)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    [source] = record["sources"]
    assert {"name", "articles", "versions", "changes"} <= set(source) and source["name"] == "newsroom"
    assert record["totals"]["articles"] == source["articles"] and source["changes_by_kind"]["figure"] > 0
    assert source["median_hours_to_first_update"] is not None
    assert "figure" in invoke(runner, "stats", "--config", config).stdout


@pytest.mark.parametrize("form", ["{url}?utm_source=newsletter&utm_medium=email", "{url}/", "{url}#comments",
                                  "{url}?fbclid=x"])
def test_a_url_is_found_under_any_form_of_it(runner, tracked, form):
    config, url = tracked
    result = invoke(runner, "history", form.format(url=url), "--config", config)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("v1 ")


def test_an_unknown_change_kind_is_an_error_naming_the_kinds(runner, tracked):
    config, _ = tracked
    result = invoke(runner, "changes", "--kind", "figures", "--config", config)
    assert result.exit_code == 1
    assert "kind 'figures': expected one of" in result.output and "figure" in result.output


def test_diff_unified_is_a_patch_that_patch_applies(runner, tracked, tmp_path):
    config, url = tracked
    result = invoke(runner, "diff", url, "--format", "unified", "--config", config)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"--- {url} v1\n+++ {url} v2\n@@ ")
    old = [r for r in json_lines(invoke(runner, "diff", url, "--format", "json", "--config", config).stdout)][0]
    before = [s["old"] for s in sorted((s for s in old["sentences"] if s["old"] is not None),
                                       key=lambda s: s["old_indices"][0])]
    after = [s["new"] for s in sorted((s for s in old["sentences"] if s["new"] is not None),
                                      key=lambda s: s["new_indices"][0])]
    (tmp_path / "article").write_text("\n".join(before) + "\n", encoding="utf-8")
    (tmp_path / "change.diff").write_text(result.stdout, encoding="utf-8")
    import shutil
    import subprocess

    if not shutil.which("patch"):
        pytest.skip("patch is not installed")
    subprocess.run(["patch", "-s", str(tmp_path / "article"), str(tmp_path / "change.diff")], check=True)
    assert (tmp_path / "article").read_text(encoding="utf-8") == "\n".join(after) + "\n"


def test_export_changes_and_alerts_as_csv_with_a_source_column(runner, tracked):
    config, url = tracked
    for what in ("versions", "changes", "alerts"):
        result = invoke(runner, "export", "--format", "csv", "--what", what, "--config", config)
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert "source" in csv.DictReader(io.StringIO(result.stdout)).fieldnames, what
        if what != "alerts":  # no rule is configured: no alerts
            assert rows and all(row["source"] == "newsroom" for row in rows), what
    changes = json_lines(invoke(runner, "export", "--what", "changes", "--config", config).stdout)
    assert any(c["kind"] == "figure" and c["url"] == url for c in changes)


def test_export_raw_writes_the_page_as_fetched(runner, tracked, newsroom):
    config, url = tracked
    result = runner.invoke(cli, ["export", "--raw", url, "--version", "1", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert b"<html" in result.stdout_bytes and b"at least 12" in result.stdout_bytes
    assert invoke(runner, "export", "--version", "1", "--config", config).exit_code == 1


def test_export_newsedits_rows_per_version_and_sentence(runner, tracked):
    config, url = tracked
    rows = json_lines(invoke(runner, "export", "--format", "newsedits", "--config", config).stdout)
    versions = [r for r in rows if r["table"] == "entryversion" and r["url"] == url]
    assert [v["version"] for v in versions] == [1, 2]
    entry = versions[0]["entry_id"]
    sentences = [r for r in rows if r["table"] == "split_sentences" and r["entry_id"] == entry]
    assert {r["op"] for r in sentences if r["version"] == 1} == {"first"}
    second = [r for r in sentences if r["version"] == 2]
    assert {"unchanged", "edited"} <= {r["op"] for r in second}
    edited = next(r for r in second if r["op"] == "edited")
    assert edited["sent_idx"] is not None and edited["sent_idx_prev"] is not None


def test_a_reading_command_loads_storage_but_not_the_stages(tracked):
    import subprocess
    import sys

    config, _ = tracked
    code = ("import sys; from click.testing import CliRunner; from pipeline.cli import cli; "
            f"result = CliRunner().invoke(cli, ['changes', '--config', {str(config)!r}]); assert result.exit_code == 0; "
            "print(' '.join(m for m in ('sqlite_utils', 'httpx', 'trafilatura', 'feedparser', 'psycopg', 'logging') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []  # sqlite-utils too: it writes the migrations, and a migrated archive needs none; logging
    # (3 ms) only where something logs


def test_diffing_two_stored_versions_loads_neither_extraction_libraries_nor_openssl(tracked):
    import subprocess
    import sys

    config, url = tracked
    code = ("import sys; from click.testing import CliRunner; from pipeline.cli import cli; "
            f"result = CliRunner().invoke(cli, ['diff', {url!r}, '--config', {str(config)!r}]); "
            "assert result.exit_code == 0, result.output; "
            "print(' '.join(m for m in ('hashlib', 'httpx', 'trafilatura', 'lxml', 'sqlite_utils', 'logging') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


@pytest.mark.parametrize("everything", [False, True], ids=["nothing-due", "all-unchanged"])
def test_a_run_that_finds_no_new_text_loads_neither_diffing_nor_mail(tracked, everything):
    # A scheduled run usually finds nothing due, or pages that answer unchanged: it pays neither for the
    # diff and figure tables nor for newsletters' mail parsing, Apprise, trafilatura or httpx's own CLI.
    import subprocess
    import sys

    config, _ = tracked
    args = ["run", "--config", str(config)] + ["--all"] * everything
    # (what those modules import: a module imported lazily is in sys.modules before it is loaded)
    heavy = ("pipeline.figures", "diff_match_patch", "mailbox", "imaplib", "apprise", "trafilatura", "jinja2",
             "airflow", "rich", "pygments", "sqlite_utils", "courlan")
    code = ("import sys; from click.testing import CliRunner; from pipeline.cli import cli; "
            f"result = CliRunner().invoke(cli, {args!r}); assert result.exit_code == 0, result.output; "
            "print(result.output.splitlines()[1]); "
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    checks, loaded = (subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                      .stdout.split("\n")[:2])
    assert checks == ("checks: changes 0, not_modified 6" if everything else "checks: none due")
    assert loaded == ""


def test_a_run_with_no_source_and_nothing_due_loads_no_openssl(tmp_path):
    # What a scheduler's idle tick pays for: OpenSSL's hashes load where a page or a feed is hashed.
    import subprocess
    import sys

    config = tmp_path / "redline.toml"
    config.write_text(f"[database]\npath = {str(tmp_path / 'redline.db')!r}\n")
    code = ("import sys; from click.testing import CliRunner; from pipeline.cli import cli; "
            f"result = CliRunner().invoke(cli, ['run', '--config', {str(config)!r}]); "
            "assert result.exit_code == 0, result.output; print('hashlib' in sys.modules, '_hashlib' in sys.modules)")
    subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)  # (makes the archive: sqlite-utils)
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()

    assert loaded == ["False", "False"]


def test_the_project_is_on_the_path_without_an_import_finder():
    # Every process (each command, each Airflow task) would otherwise load setuptools' editable finder at
    # start-up, and pathlib and urllib with it.
    import subprocess
    import sys

    code = "import sys; print(' '.join(m for m in sys.modules if 'editable' in m or m in ('pathlib', 'urllib.parse')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], "reinstall Redline: make install (pip's --config-settings editable_mode=compat)"


def test_a_module_the_cli_loads_lazily_reads_as_an_imported_one():
    import subprocess
    import sys

    code = ("import pipeline.cli, pipeline.cycle, storage; "
            "print(pipeline.cycle.run_cycle.__name__, pipeline.cycle.check_batch.__name__, storage.open_db.__name__)")
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert printed == ["run_cycle", "check_batch", "open_db"]


def test_a_pattern_compiled_lazily_compiles_when_first_used_and_matches_as_compiled():
    import re

    from pipeline import compile_lazily

    re.purge()
    pattern = compile_lazily(r"(\d+) (?:homes|people)", re.IGNORECASE)
    assert re._cache == {}  # nothing compiled yet

    assert pattern.search("At least 300 HOMES were lost").group(1) == "300"
    assert pattern.findall("12 people, 40 homes") == ["12", "40"]
    assert pattern.pattern == r"(\d+) (?:homes|people)"
    assert "search" in vars(pattern)  # kept: a later call is the compiled pattern's own
