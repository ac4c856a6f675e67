"""Renderings of diffs and changes: terminal colours, HTML (inline and side by side), unified text, JSON.

Every diff rendering reads one DiffReport. Article text is untrusted: HTML output escapes all of it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Callable, Iterable

from pipeline import import_lazily
from pipeline.errors import InputError
from pipeline.models import (IN_THE_FEED, Alert, Change, Diff, DiffReport, SentenceOp, StoredChange, Version,
                             to_dict)

if TYPE_CHECKING:  # rich loads only when something is printed in colour: every command starts without it
    from rich.console import Console
    from rich.text import Text

# Every command imports this module; only a diff rendered as HTML or unified needs these (3 ms of each start).
difflib = import_lazily("difflib")
html = import_lazily("html")

FORMATS = ("terminal", "html", "unified", "marked", "json")
EXPORTS = ("versions", "changes", "alerts")  # what `redline export --what` writes
_STYLES = {-1: "bold red strike", 1: "bold green", 0: ""}
_MARKS = {-1: ("[-", "-]"), 1: ("{+", "+}"), 0: ("", "")}
# Kinds worth a line of their own above the text; sentence changes show in the text itself.
_HEADLINE_KINDS = ("headline", "byline", "published", "modified", "figure", "quote", "correction")


# Control characters in article text (an escape sequence clears a screen, retitles a window, forges a link)
# are shown, never sent to a terminal or written into a text file; tab and line breaks stay.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """text with each control character written out (\\x1b), so no terminal acts on it."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group(0)):02x}", text)


def diff_as_rich(ops: Iterable[tuple[int, str]]) -> Text:
    """The word diff as coloured terminal text: deletions red and struck, insertions green."""
    from rich.text import Text

    text = Text()
    for op, chunk in ops:
        text.append(printable(chunk), style=_STYLES[op])
    return text


def diff_as_unified(ops: Iterable[tuple[int, str]]) -> str:
    """The word diff as plain text: [-deleted-] and {+inserted+}, as git's word diff writes them."""
    return "".join(f"{_MARKS[op][0]}{printable(chunk)}{_MARKS[op][1]}" for op, chunk in ops)


def _plain_output(console: Console | None) -> bool:
    # Output piped or written to a file is the plain rendering either way, so rich (18 ms of a start) is not
    # loaded for it; where FORCE_COLOR or TTY_COMPATIBLE ask for a terminal's output anyway, rich decides.
    return (console is None and not sys.stdout.isatty()
            and not os.environ.get("FORCE_COLOR") and not os.environ.get("TTY_COMPATIBLE"))


def print_diff(ops: Iterable[tuple[int, str]], console: Console | None = None) -> None:
    """Print the coloured word diff (plain markers when the output is not a terminal)."""
    if _plain_output(console):
        sys.stdout.write(diff_as_unified(ops) + "\n")
        return
    from rich.console import Console

    console = console or Console()
    rendered = diff_as_rich(ops) if console.is_terminal else diff_as_unified(ops)
    console.print(rendered, markup=False, highlight=False, soft_wrap=True)


def _signed(value: float) -> str:
    for size, word in ((1e12, " trillion"), (1e9, " billion"), (1e6, " million")):
        if abs(value) >= size:
            return f"{value / size:+.3g}{word}"
    return f"{value:+,.10g}"


def describe_change(change: Change | StoredChange | Alert) -> str:
    """One line for a change: kind, before → after, what it counts, and how much a figure moved."""
    subject = f" ({change.subject})" if change.subject else ""
    if change.kind == "figure" and change.detail in ("added", "removed"):
        return f"figure {change.detail}: {change.after or change.before}{subject}"
    if not (change.before and change.after):
        return f"{change.kind}: {change.after or change.before}"
    line = f"{change.kind}: {change.before} → {change.after}{subject}"
    if change.kind == "figure" and change.detail == "value" and change.delta is not None:
        line += f" {_signed(change.delta)}"
        if change.relative is not None:
            line += f" ({change.relative:+.0%})"
    return line


def describe_with_context(change: Change | StoredChange | Alert) -> list[str]:
    """describe_change, then the sentence the change sits in when that says more than the line does."""
    lines = [describe_change(change)]
    if change.context == IN_THE_FEED:
        lines.append("    (seen in the feed, before the page itself)")
    elif change.context and change.context not in (change.before, change.after):
        lines.append(f"    \"{change.context}\"")
    return lines


def workspace_path(article_id: int, from_number: int | None = None, to_number: int | None = None) -> str:
    """The workspace page of a change, relative to the workspace's root: the diff that made a version, or
    the article when the change belongs to no pair of versions (a page gone, a feed's rewrite)."""
    if to_number is None:
        return f"articles/{article_id}"
    return f"articles/{article_id}/diff?from={from_number or to_number - 1}&to={to_number}"


def workspace_link(base_url: str | None, article_id: int, from_number: int | None, to_number: int | None) -> str | None:
    """The permanent address of workspace_path under the workspace's public address (None without one)."""
    return f"{base_url.rstrip('/')}/{workspace_path(article_id, from_number, to_number)}" if base_url else None


EXPORT_FIELDS = ("url", "number", "fetched_at", "title", "byline", "published_at", "modified_at", "text",
                 "text_hash", "word_count", "notices", "extractor", "revert_of")


def version_as_record(url: str, version: Version) -> dict:
    """One exported version: its article's URL and the fields of EXPORT_FIELDS."""
    record = {name: getattr(version, name) for name in EXPORT_FIELDS[1:]}
    return {"url": url, **record, "notices": list(version.notices)}


def to_json_line(record: dict) -> str:
    """One compact JSON line that keeps non-ASCII text readable."""
    return json.dumps(record, ensure_ascii=False, default=str)


# --------------------------------------------------------------------------- one report, four formats


def describe_versions(report: DiffReport) -> str:
    """The heading line: article, versions compared, and a revert if the newer version is one."""
    parts = [report.url or "", f"v{report.from_number} → v{report.to_number}" if report.to_number else ""]
    if report.revert_of:
        parts.append(f"(v{report.to_number} reverts to v{report.revert_of})")
    return "  ".join(p for p in parts if p)


def describe_disclosure(report: DiffReport) -> str:
    """Whether the newsroom disclosed the edit, only bumped its timestamp, or neither; and how."""
    if report.diff.disclosed:
        return "disclosed: " + "; ".join(report.diff.disclosures)
    if report.diff.bumped:
        return "timestamp bumped, nothing said of what changed: " + "; ".join(report.diff.disclosures)
    return "stealth edit: no correction or update notice, update banner or later dateModified"


def describe_stats(stats: dict) -> str:
    """The diff's statistics on one line."""
    words = ", ".join(f"{stats.get('words_' + k, 0)} {k}" for k in ("added", "removed", "edited", "moved"))
    sentences = ", ".join(f"{stats.get('sentences_' + k, 0)} {k}"
                          for k in ("added", "deleted", "edited", "moved", "split", "merged"))
    return f"words: {words}; sentences: {sentences}; figures changed: {stats.get('figures_changed', 0)}"


def _summary_lines(report: DiffReport) -> list[str]:
    lines = [describe_versions(report)]
    if report.note:
        lines.append(f"note: {report.note}")
    lines += [describe_disclosure(report), describe_stats(report.diff.stats)]
    lines += ["  " + describe_change(c) for c in report.diff.changes if c.kind in _HEADLINE_KINDS]
    return [printable(line) for line in lines if line]


def render_marked(report: DiffReport) -> str:
    """The report as plain text: summary lines, then the word diff with [-deleted-] and {+inserted+}."""
    return "\n".join(_summary_lines(report)) + "\n\n" + diff_as_unified(report.diff.ops) + "\n"


def _sentences(report: DiffReport, side: str) -> list[str]:
    # Each version's sentences in its own order, as the alignment saw them (a split or merge joined).
    ops = [s for s in report.diff.sentences if getattr(s, side) is not None]
    key = (lambda s: s.old_index) if side == "old" else (lambda s: s.new_index)
    return [printable(getattr(s, side)) for s in sorted(ops, key=key)]


def render_unified(report: DiffReport) -> str:
    """A unified diff (diff -u) of the two versions with one sentence per line, which patch and other tools read."""
    label = report.url or "article"
    lines = difflib.unified_diff([s + "\n" for s in _sentences(report, "old")], [s + "\n" for s in _sentences(report, "new")],
                                 fromfile=f"{label} v{report.from_number or 'old'}",
                                 tofile=f"{label} v{report.to_number or 'new'}")
    return "".join(lines)


def print_report(report: DiffReport, console: Console | None = None) -> None:
    """The report in terminal colours (plain markers when the output is not a terminal)."""
    if _plain_output(console):
        sys.stdout.write(render_marked(report))
        return
    from rich.console import Console
    from rich.text import Text

    console = console or Console()
    lines = _summary_lines(report)
    console.print(Text(lines[0], style="bold"), soft_wrap=True)
    for line in lines[1:]:
        style = ("green" if line.startswith("disclosed") else "yellow" if line.startswith(("stealth", "timestamp"))
                 else "")
        console.print(Text(line, style=style), soft_wrap=True)
    console.print()
    print_diff(report.diff.ops, console)


def report_as_record(report: DiffReport) -> dict:
    """The report as one JSON-able record: word ops as [op, text], changes, sentences, stats, disclosure."""
    diff = report.diff
    return {
        "url": report.url, "from": report.from_number, "to": report.to_number, "revert_of": report.revert_of,
        "old_title": report.old_title, "new_title": report.new_title, "note": report.note,
        "disclosed": diff.disclosed, "disclosure": diff.disclosure, "disclosures": list(diff.disclosures),
        "stats": diff.stats,
        "changes": [to_dict(c) for c in diff.changes], "ops": [list(op) for op in diff.ops],
        "sentences": [{"op": s.op, "old_indices": list(s.old_indices), "new_indices": list(s.new_indices),
                       "old": s.old, "new": s.new, "ops": [list(op) for op in s.ops]} for s in diff.sentences],
    }


def diff_as_record(diff: Diff) -> dict:
    """What `redline compare --json` prints for a diff: word ops, statistics and changes."""
    return {"ops": diff.ops, "stats": diff.stats, "changes": [to_dict(c) for c in diff.changes]}


def render_json(report: DiffReport) -> str:
    """The report as one JSON line."""
    return to_json_line(report_as_record(report))


_PAGE_STYLE = """
body{font:16px/1.5 Georgia,serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
.meta,.stats{color:#555;font-size:.9rem}.disclosed{color:#17622f}.timestamp{color:#6b5200}.stealth{color:#8a4b00;font-weight:bold}
del{background:#fbd3d3;color:#7a0c0c}ins{background:#d3f5dc;color:#0b5d1e;text-decoration:none}
.text{white-space:pre-wrap}table{border-collapse:collapse;width:100%}
td{vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #eee;width:46%}
td.op{width:8%;color:#555;font-size:.8rem;text-transform:uppercase}
tr.added td.new,tr.deleted td.old{background:#f6f6f6}tr.moved td{color:#335}
""".strip()


_HTML_TAGS = {-1: ("<del>", "</del>"), 1: ("<ins>", "</ins>"), 0: ("", "")}


def html_ops(ops: Iterable[tuple[int, str]], sides: tuple[int, ...] = (-1, 0, 1),
             mark: Callable[[str, int], str] | None = None) -> str:
    """The word diff as HTML, escaped, on these sides: deletions in <del>, insertions in <ins>. mark, when
    given, renders (escaped) each deleted or inserted chunk instead: the workspace marks figures in them."""
    return "".join(f"{_HTML_TAGS[op][0]}{mark(chunk, op) if mark and op else html.escape(chunk)}{_HTML_TAGS[op][1]}"
                   for op, chunk in ops if op in sides)


def _html_row(sentence: SentenceOp) -> str:
    if sentence.op == "edited":
        old, new = html_ops(sentence.ops, (-1, 0)), html_ops(sentence.ops, (0, 1))
    else:
        old, new = html.escape(sentence.old or ""), html.escape(sentence.new or "")
    label = sentence.op if sentence.shape == "one" else f"{sentence.op} ({sentence.shape})"
    return (f'<tr class="{html.escape(sentence.op)}"><td class="old">{old}</td>'
            f'<td class="op">{html.escape(label)}</td><td class="new">{new}</td></tr>')


def render_html(report: DiffReport) -> str:
    """A standalone HTML page: summary, changes, the inline word diff and the sentences side by side."""
    diff = report.diff
    changes = "".join(f'<li class="{html.escape(c.kind)}">{html.escape(describe_change(c))}</li>'
                      for c in diff.changes)
    title = report.new_title or report.old_title or report.url or "Redline diff"
    rows = "\n".join(_html_row(s) for s in diff.sentences)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} — Redline diff</title>
<style>{_PAGE_STYLE}</style>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<p class="meta">{html.escape(describe_versions(report))}</p>
{f'<p class="meta">{html.escape(report.note)}</p>' if report.note else ''}
<p class="{diff.disclosure}">{html.escape(describe_disclosure(report))}</p>
<p class="stats">{html.escape(describe_stats(diff.stats))}</p>
<ul class="changes">{changes}</ul>
</header>
<section id="inline">
<h2>Inline</h2>
<div class="text">{html_ops(diff.ops)}</div>
</section>
<section id="side-by-side">
<h2>Side by side</h2>
<table>
<thead><tr><th>v{html.escape(str(report.from_number or 'old'))}</th><th></th><th>v{html.escape(str(report.to_number or 'new'))}</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</section>
</body>
</html>
"""


def render_report(report: DiffReport, fmt: str) -> str:
    """The report in one of the text formats: html, unified, marked or json."""
    renderers = {"html": render_html, "unified": render_unified, "marked": render_marked, "json": render_json}
    if fmt not in renderers:
        raise InputError(f"format {fmt!r}: expected one of {', '.join(renderers)}")
    return renderers[fmt](report)
