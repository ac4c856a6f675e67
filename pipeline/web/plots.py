"""The workspace's plots, drawn by matplotlib as SVG: pure functions of the numbers they show.

matplotlib loads on the first plot (not with the app) and draws through its object API, one
Figure per call, so that requests served on several threads never share pyplot's state.
"""

from __future__ import annotations

import io
import threading
from datetime import date, timedelta
from typing import Iterable

from pipeline.models import FigurePoint, SourceStats

_LOCK = threading.Lock()  # matplotlib's font cache and text layout are not safe under threads
_COLOURS = ("#b3261e", "#1f5fa8", "#2e7d32", "#8a4b00", "#6a1b9a", "#00695c", "#37474f", "#ad1457")


def _figure(width: float = 7.5, height: float = 3.2):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def _svg(figure) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "redline"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})  # the same numbers give the same file
    return buffer.getvalue()


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555")
    ax.set_axis_off()


def plot_per_day(per_day: dict[str | None, dict[str, int]], what: str = "versions") -> bytes:
    """Stacked bars of a count per day, a colour per source, from source → YYYY-MM-DD → count."""
    series = {source or "(no source)": {date.fromisoformat(day): count for day, count in counts.items()}
              for source, counts in per_day.items()}
    days = sorted({day for counts in series.values() for day in counts})
    with _LOCK:
        figure, ax = _figure()
        if not series:
            _empty(ax, f"no {what} stored in this period")
            return _svg(figure)
        from matplotlib.dates import DateFormatter

        bottom = [0] * len(days)
        for i, (source, counts) in enumerate(sorted(series.items())):
            heights = [counts.get(day, 0) for day in days]
            ax.bar(days, heights, bottom=bottom, color=_COLOURS[i % len(_COLOURS)], label=source, width=0.8)
            bottom = [b + h for b, h in zip(bottom, heights)]
        ax.set_xlim(days[0] - timedelta(days=1), days[-1] + timedelta(days=1))
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
        ax.set_ylabel(f"{what} per day")
        ax.legend(fontsize="small", frameon=False)
        figure.autofmt_xdate()
        return _svg(figure)


def describe_hours(hours: float, _=None) -> str:
    """A duration in hours said in the unit that suits it: 45 s, 12 min, 3.5 h, 2 d."""
    for size, unit in ((24 * 365, "y"), (24, "d"), (1, "h"), (1 / 60, "min")):
        if hours >= size:
            return f"{hours / size:.3g} {unit}"
    return f"{hours * 3600:.3g} s"


def plot_update_delays(hours: Iterable[float]) -> bytes:
    """A histogram of the time from a story's first version to each later one, on a log scale."""
    values = [max(h, 1 / 3600) for h in hours if h is not None]
    with _LOCK:
        figure, ax = _figure()
        if not values:
            _empty(ax, "no story has been updated yet")
            return _svg(figure)
        import numpy
        from matplotlib.ticker import FuncFormatter, LogLocator

        low, high = min(values), max(values)
        bins = numpy.geomspace(low / 1.5, high * 1.5, 30)
        ax.hist(values, bins=bins, color=_COLOURS[1])
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(numticks=8))
        ax.xaxis.set_major_formatter(FuncFormatter(describe_hours))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
        ax.set_xlabel("time from first seen to the update")
        ax.set_ylabel("updates")
        return _svg(figure)


def plot_stealth_share(stats: Iterable[SourceStats]) -> bytes:
    """Bars of the share of each source's updates that the page did not disclose."""
    rows = [(s.source or "(no source)", s.stealth_share, s.updates) for s in stats if s.updates]
    with _LOCK:
        figure, ax = _figure(height=max(2.0, 0.45 * len(rows) + 1))
        if not rows:
            _empty(ax, "no updates yet")
        else:
            names = [f"{name} ({updates})" for name, _, updates in rows]
            bars = ax.barh(names, [share * 100 for _, share, _ in rows], color=_COLOURS[0])
            ax.bar_label(bars, fmt="%.0f%%", padding=3)
            ax.set_xlim(0, 100)
            ax.set_xlabel("stealth edits, % of updates (updates in brackets)")
            ax.invert_yaxis()
        return _svg(figure)


def plot_figures(series: dict[str, list[FigurePoint]], values: dict[str, list[float | None]]) -> bytes:
    """A small step chart per figure of one story, each on its own scale: its value at each version (the
    death toll as it rose). values holds the numbers read from each point's text, None where none could be read."""
    drawable = {subject: [(p.version, v) for p, v in zip(points, values[subject]) if v is not None]
                for subject, points in series.items()}
    drawable = {subject: pairs for subject, pairs in drawable.items() if pairs}
    with _LOCK:
        if not drawable:
            figure, ax = _figure(height=1.5)
            _empty(ax, "no figure of this story changed value")
            return _svg(figure)
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        columns = min(3, len(drawable))
        rows = -(-len(drawable) // columns)
        figure = Figure(figsize=(3.0 * columns, 2.3 * rows), layout="constrained")
        for i, (subject, pairs) in enumerate(drawable.items()):
            ax = figure.add_subplot(rows, columns, i + 1)
            ax.step([v for v, _ in pairs], [n for _, n in pairs], where="post", marker="o",
                    color=_COLOURS[i % len(_COLOURS)])
            ax.set_title(subject, fontsize="medium")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("version", fontsize="small")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.10g}"))
        return _svg(figure)
