"""Cost of checking articles that did not change, against a bare HTTP GET of the same pages.

A local newsroom serves N article pages (the demo stories, repeated under distinct
URLs). Redline checks them all once (first versions), then again: the second round
is the common case, where nothing changed. The baseline is a plain httpx GET of each
page, with no database, extraction or scheduling.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks._support import bare_gets, peak_rss_mib, serve, timed
from demo.newsroom import load_stories, render_article
from pipeline import cycle
from pipeline.config import settings_from_dict

ARTICLES = 300


def main(articles: int = ARTICLES) -> None:
    versions = [(story.slug, version) for story in load_stories() for version in story.versions[:1]]
    pages = {}
    for i in range(articles):
        slug, version = versions[i % len(versions)]
        pages[f"/news/{i}/{slug}"] = render_article(version, slug, "http://127.0.0.1").encode()
    pages["/list.txt"] = "\n".join(pages).encode()
    server = serve(pages)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_dict({
            "database": {"path": str(Path(tmp) / "bench.db")}, "network": {"allow_private": True, "host_delay": 0},
            "sources": [{"name": "bench", "kind": "urls", "url": base + "/list.txt"}],
        })
        cycle.poll_sources(settings)

        def check_all():
            for batch in cycle.plan_batches(settings, everything=True):
                cycle.check_batch(settings, batch)

        first = timed(check_all)
        unchanged = timed(check_all)

    baseline = timed(lambda: bare_gets(base + path for path in pages))
    server.shutdown()
    print(f"{articles} articles, one check each (wall ms per article / CPU ms per article):")
    for label, (wall, cpu) in (("first check (extract + store v1)", first),
                               ("unchanged re-check", unchanged),
                               ("baseline: bare httpx GET", baseline)):
        print(f"  {label:34s} {wall / articles * 1000:7.2f} wall  {cpu / articles * 1000:7.2f} CPU"
              f"  ({articles / wall:6.0f} checks/s)")
    print(f"  peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
