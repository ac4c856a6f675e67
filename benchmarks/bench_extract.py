"""Extraction quality on real news pages: Redline's rules against trafilatura's plain defaults.

Each page of the fundus test corpus (mapping.csv pairs the HTML with a JSON file holding
what a hand-written per-site parser extracted) is run through both extractors in the same
run. The reference is the article body in that JSON: summary, section headlines and
paragraphs. Scores are token-level: bag-of-words precision, recall and F1, over words
lowercased and NFC-normalised (each Chinese or Japanese character is one token), pooled over
all pages (micro) and averaged per page (macro).

Usage: python -m benchmarks.bench_extract [CORPUS]   (default: ../shared/corpus/fundus)
The corpus is read in place, never copied.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import trafilatura

from pipeline.errors import ExtractionError, WallError
from pipeline.extract import clean_text, extract_article

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "fundus"
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def tokens(text: str | None) -> Counter:
    """The bag of words a text is scored on."""
    return Counter(_TOKEN.findall(unicodedata.normalize("NFC", text or "").casefold()))


def reference_body(corpus: Path, row: dict) -> str:
    """The article body the corpus's per-site parser found: summary, section headlines, paragraphs."""
    path = corpus / row["ground_truth_json"]
    try:
        body = json.loads(path.read_text(encoding="utf-8"))[row["parser_version"]]["body"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"{path}: no body for parser version {row['parser_version']!r} ({exc})") from None
    parts = list(body.get("summary", []))
    for section in body.get("sections", []):
        parts += section.get("headline", []) + section.get("paragraphs", [])
    return "\n".join(parts)


def read_pages(corpus: Path) -> list[tuple[str, str, bytes, str]]:
    """(name, url, raw HTML, reference body) for every row of mapping.csv."""
    mapping = corpus / "mapping.csv"
    if not mapping.is_file():
        raise SystemExit(f"{mapping}: not found (expected the fundus corpus's mapping.csv; pass the corpus folder)")
    pages = []
    with mapping.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            html = gzip.decompress((corpus / row["html"]).read_bytes())
            pages.append((row["html"], row["url"], html, reference_body(corpus, row)))
    return pages


def score(got: Counter, want: Counter) -> tuple[int, int, int]:
    """Tokens in common, tokens extracted, tokens expected."""
    return sum((got & want).values()), sum(got.values()), sum(want.values())


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def summarise(name: str, counts: list[tuple[int, int, int]], seconds: float) -> tuple[float, str]:
    common, got, want = (sum(c[k] for c in counts) for k in range(3))
    micro_p, micro_r = common / got, common / want
    per_page = [(c / g if g else 0.0, c / w if w else 0.0) for c, g, w in counts]
    macro_p = statistics.fmean(p for p, _ in per_page)
    macro_r = statistics.fmean(r for _, r in per_page)
    macro_f = statistics.fmean(f1(p, r) for p, r in per_page)
    line = (f"| {name} | {micro_p:.3f} | {micro_r:.3f} | {f1(micro_p, micro_r):.3f} | {macro_p:.3f} | "
            f"{macro_r:.3f} | {macro_f:.3f} | {seconds / len(counts) * 1000:.1f} |")
    return f1(micro_p, micro_r), line


def main(corpus: Path = CORPUS) -> None:
    pages = read_pages(Path(corpus))
    runs = {
        "trafilatura defaults (`extract(html, url=url)`)": lambda html, url: trafilatura.extract(html, url=url),
        "Redline (`clean_text`: tuned options, widgets, normalisation, noise lines)": clean_text,
    }
    counts = {name: [] for name in runs}
    seconds = dict.fromkeys(runs, 0.0)
    whole, refused = 0.0, Counter()
    # Each page runs through every extractor in turn, timed in CPU seconds: a machine that slows down for a
    # minute slows all of them alike (timed one extractor over all pages, then the next, the ratio moved
    # between 1.09 and 1.30 from run to run).
    for name, url, html, reference in pages:
        want = tokens(reference)
        for run, extract in runs.items():
            start = time.process_time()
            text = extract(html, url)
            seconds[run] += time.process_time() - start
            counts[run].append(score(tokens(text), want))
        start = time.process_time()
        try:
            extract_article(html, url)
        except WallError as exc:
            refused["wall"] += 1
            print(f"  refused as a wall: {name}: {exc.reason}")
        except ExtractionError as exc:
            refused["no text"] += 1
            print(f"  refused, no text: {name}: {exc.reason}")
        whole += time.process_time() - start
    print(f"{len(pages)} pages from {corpus}")
    print("| extractor | micro P | micro R | micro F1 | macro P | macro R | macro F1 | CPU ms/page |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for run in runs:
        print(summarise(run, counts[run], seconds[run])[1])
    default, tuned = (counts[run] for run in runs)
    per_page = [(f1(*_pr(a)), f1(*_pr(b))) for a, b in zip(default, tuned)]
    better = sum(b > a + 1e-9 for a, b in per_page)
    worse = sum(b < a - 1e-9 for a, b in per_page)
    print(f"per page F1: Redline better on {better}, worse on {worse}, equal on {len(pages) - better - worse}")
    print(f"extract_article would store no version for {sum(refused.values())} page(s): {dict(refused)}")
    baseline, text = (seconds[run] for run in runs)
    print(f"CPU time against trafilatura's: clean_text {text / baseline:.2f}x; extract_article (walls, banner, "
          f"dates and byline too: what a check runs) {whole / len(pages) * 1000:.1f} ms/page, {whole / baseline:.2f}x")


def _pr(count: tuple[int, int, int]) -> tuple[float, float]:
    common, got, want = count
    return (common / got if got else 0.0), (common / want if want else 0.0)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
