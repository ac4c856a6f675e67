"""Tests for pipeline/web/plots.py: matplotlib's SVG of the workspace's numbers, with untrusted labels."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from pipeline.models import FigurePoint, SourceStats
from pipeline.web import plots

HOSTILE = '<script>alert("x")</script> killed'


def test_a_hostile_subject_is_text_in_the_svg_never_markup():
    series = {HOSTILE: [FigurePoint(HOSTILE, 1, "12"), FigurePoint(HOSTILE, 2, "19", 7.0)]}
    svg = plots.plot_figures(series, {HOSTILE: [12.0, 19.0]})
    root = ElementTree.fromstring(svg)  # well-formed
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert b"<script" not in svg and b"&lt;script&gt;" in svg


def test_each_plot_draws_with_no_data_and_says_so():
    for svg, message in ((plots.plot_per_day({}), b"no versions stored"),
                         (plots.plot_update_delays([]), b"no story has been updated yet"),
                         (plots.plot_stealth_share([]), b"no updates yet"),
                         (plots.plot_figures({}, {}), b"no figure of this story changed value")):
        ElementTree.fromstring(svg)
        assert message in svg


def test_the_same_numbers_give_the_same_file():
    per_day = {"wire": {"2026-11-30": 3, "2026-12-01": 5}, None: {"2026-12-01": 1}}
    assert plots.plot_per_day(per_day) == plots.plot_per_day(per_day)
    stats = [SourceStats("wire", "rss", 2, 5, 4, {}, updates=3, stealth=1)]
    assert b"33%" in plots.plot_stealth_share(stats)


def test_durations_are_said_in_the_unit_that_suits_them():
    assert [plots.describe_hours(h) for h in (0.01, 0.5, 3.5, 50, 24 * 400)] == [
        "36 s", "30 min", "3.5 h", "2.08 d", "1.1 y"]
