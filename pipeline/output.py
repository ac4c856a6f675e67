"""Renderings of versions, diffs and changes: terminal colours, unified text and JSON."""

from __future__ import annotations

import json
from typing import Iterable

from rich.console import Console
from rich.text import Text

_STYLES = {-1: "bold red strike", 1: "bold green", 0: ""}


def diff_as_rich(ops: Iterable[tuple[int, str]]) -> Text:
    """The word diff as coloured terminal text: deletions red and struck, insertions green."""
    text = Text()
    for op, chunk in ops:
        text.append(chunk, style=_STYLES[op])
    return text


def diff_as_unified(ops: Iterable[tuple[int, str]]) -> str:
    """The word diff as plain text: [-deleted-] and {+inserted+}, as git's word diff writes them."""
    marks = {-1: ("[-", "-]"), 1: ("{+", "+}"), 0: ("", "")}
    return "".join(f"{marks[op][0]}{chunk}{marks[op][1]}" for op, chunk in ops)


def print_diff(ops: Iterable[tuple[int, str]], console: Console | None = None) -> None:
    """Print the coloured word diff (plain markers when the output is not a terminal)."""
    console = console or Console()
    rendered = diff_as_rich(ops) if console.is_terminal else diff_as_unified(ops)
    console.print(rendered, markup=False, highlight=False, soft_wrap=True)


def describe_change(change: dict) -> str:
    """One human line for a change: kind, before → after, subject."""
    subject = f" ({change['subject']})" if change.get("subject") else ""
    if change.get("before") and change.get("after"):
        return f"{change['kind']}: {change['before']} → {change['after']}{subject}"
    return f"{change['kind']}: {change.get('after') or change.get('before')}"


def to_json_line(record: dict) -> str:
    """One compact JSON line that keeps non-ASCII text readable."""
    return json.dumps(record, ensure_ascii=False, default=str)
