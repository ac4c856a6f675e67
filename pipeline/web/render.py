"""HTML pieces the workspace's templates cannot build alone: a diff as blocks of sentences with
collapsed unchanged runs and marked figures, search snippets, and links that are safe to follow.

Article text, titles, bylines and URLs are untrusted: every piece here is escaped before it is
marked up, and a URL becomes a link only when it is http(s).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

import storage
from pipeline.models import Change, DiffReport, SentenceOp, record
from pipeline.output import describe_change, html_ops

COLLAPSE_AFTER = 2  # unchanged sentences kept visible on each side of a change; longer runs fold away
TOP_KINDS = ("headline", "byline", "published", "modified", "correction")


def safe_href(url: str | None) -> str | None:
    """url when a browser may follow it (http or https), else None: a javascript: or data: URL stays text."""
    if not url:
        return None
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in ("http", "https") else None


def mark_snippet(snippet: str) -> Markup:
    """A search snippet escaped, with the matched words in <mark>."""
    return Markup(str(escape(snippet)).replace(storage.MARK_START, "<mark>").replace(storage.MARK_END, "</mark>"))


@record
class Block:
    """A part of the diff body: one sentence op (with its figure changes) or a run of unchanged sentences."""

    kind: str  # sentence | run
    op: str = "unchanged"
    old: Markup = Markup("")
    new: Markup = Markup("")
    inline: Markup = Markup("")  # both sides in one: deletions and insertions in place
    figures: tuple[str, ...] = ()  # describe_change lines of the figure changes in this sentence
    run: tuple[str, ...] = ()  # the unchanged sentences folded away


_DIGITS = re.compile(r"\d[\d,.]*\d|\d")


def _figure_pattern(values: list[str]) -> re.Pattern | None:
    # The figure as written ("at least 12") and its digits alone: an edit often touches only "12".
    values = {v for v in values if v} | {d for v in values if v for d in _DIGITS.findall(v)}
    values = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in values)) if values else None


def _marked(text: str, pattern: re.Pattern | None, title: str) -> str:
    if pattern is None:
        return str(escape(text))
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [str(escape(text[last:match.start()])),
                f'<mark class="figure" title="{escape(title)}">{escape(match.group(0))}</mark>']
        last = match.end()
    return "".join(out) + str(escape(text[last:]))


def _ops(sentence: SentenceOp, sides: tuple[int, ...], patterns: dict, title: str) -> Markup:
    if sentence.op == "edited":
        # a figure is marked where the edit touched it; the words around it are only text
        return Markup(html_ops(sentence.ops, sides, lambda chunk, op: _marked(chunk, patterns[op], title)))
    old, new = sentence.old or "", sentence.new or ""
    if sentence.op == "added":
        return Markup(f"<ins>{_marked(new, patterns[1], title)}</ins>" if 1 in sides else "")
    if sentence.op == "deleted":
        return Markup(f"<del>{_marked(old, patterns[-1], title)}</del>" if -1 in sides else "")
    # moved: the sentence as it reads on this side (inline: where it now stands)
    return Markup(_marked(new, patterns[1], title) if 1 in sides else _marked(old, patterns[-1], title))


def _figures_in(sentence: SentenceOp, figures: list[Change]) -> list[Change]:
    texts = [t for t in (sentence.old, sentence.new) if t]
    return [c for c in figures if c.context and any(c.context in t or t in c.context for t in texts)]


def _same(sentence: str) -> Block:
    text = Markup(escape(sentence))
    return Block("sentence", old=text, new=text, inline=text)


def diff_blocks(report: DiffReport) -> list[Block]:
    """The diff body in reading order: changed sentences with their word diff (figures marked with
    their change), and runs of unchanged sentences, the long ones folded (all but COLLAPSE_AFTER
    on each side of a change)."""
    figures = [c for c in report.diff.changes if c.kind == "figure"]
    blocks: list[Block] = []
    run: list[str] = []

    def flush(last: bool) -> None:
        keep_before = 0 if not blocks else COLLAPSE_AFTER
        keep_after = 0 if last else COLLAPSE_AFTER
        if len(run) <= keep_before + keep_after + 1:
            blocks.extend(_same(s) for s in run)
        else:
            head, tail = run[:keep_before], run[len(run) - keep_after:] if keep_after else []
            blocks.extend(_same(s) for s in head)
            blocks.append(Block("run", run=tuple(run[keep_before:len(run) - keep_after])))
            blocks.extend(_same(s) for s in tail)
        run.clear()

    for sentence in report.diff.sentences:
        if sentence.op == "unchanged":
            run.append(sentence.new or sentence.old or "")
            continue
        flush(last=False)
        found = _figures_in(sentence, figures)
        lines = tuple(describe_change(c) for c in found)
        patterns = {-1: _figure_pattern([c.before for c in found]), 1: _figure_pattern([c.after for c in found]),
                    0: None}
        title = "; ".join(lines)
        blocks.append(Block("sentence", op=sentence.op, old=_ops(sentence, (-1, 0), patterns, title),
                            new=_ops(sentence, (0, 1), patterns, title),
                            inline=_ops(sentence, (-1, 0, 1), patterns, title), figures=lines))
    flush(last=True)
    return blocks


def top_changes(report: DiffReport) -> list[str]:
    """Headline, byline, date and correction changes: shown above the text."""
    return [describe_change(c) for c in report.diff.changes if c.kind in TOP_KINDS]


def figure_changes(report: DiffReport) -> list[str]:
    """Every figure change of the diff, with its delta."""
    return [describe_change(c) for c in report.diff.changes if c.kind == "figure"]
