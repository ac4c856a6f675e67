"""Cost of diffing two long versions: Redline's word diff and sentence alignment against bare diffs.

The old version is about 5,000 words of real English news prose (article bodies of the
fundus corpus, read in place); the new one edits about 10% of its sentences (a figure, a
word, a clause, a deleted word, a split sentence) and moves, adds and removes a little more.
Redline's diff (compare_pages: word diff, sentence alignment with a word diff per edited
sentence, changes, statistics, disclosure) is timed beside its two main parts and two bare
baselines on the same texts: diff-match-patch's character diff with semantic cleanup, and
difflib's SequenceMatcher over whitespace-separated words.

Usage: python -m benchmarks.bench_diff [CORPUS]   (default: ../shared/corpus/fundus)
"""

from __future__ import annotations

import csv
import difflib
import random
import re
import statistics
import sys
import time
from pathlib import Path

from diff_match_patch import diff_match_patch

from benchmarks.bench_extract import CORPUS, reference_body
from pipeline.diff import _paragraph_sentences, align_sentences, compare_pages, split_sentences
from pipeline.words import diff_words
from pipeline.extract import normalize_text
from pipeline.models import Extracted

WORDS = 5000
EDITED_SHARE = 0.10
RUNS = 15
ENGLISH = {"us", "uk", "ca", "au"}


def old_version(corpus: Path, words: int = WORDS) -> str:
    """About `words` words of English article paragraphs from the corpus, one paragraph a line."""
    mapping = corpus / "mapping.csv"
    if not mapping.is_file():
        raise SystemExit(f"{mapping}: not found (expected the fundus corpus's mapping.csv; pass the corpus folder)")
    paragraphs, count = [], 0
    with mapping.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["country"] not in ENGLISH:
                continue
            for paragraph in normalize_text(reference_body(corpus, row)).split("\n"):
                paragraphs.append(paragraph)
                count += len(paragraph.split())
                if count >= words:
                    return "\n".join(paragraphs)
    raise SystemExit(f"{corpus}: fewer than {words} words of English article text")


def _edit(sentence: str, kind: int, rng: random.Random) -> str:
    words = sentence.split(" ")
    if kind == 0:  # a figure changes, or appears
        numbers = [k for k, w in enumerate(words) if re.fullmatch(r"\d[\d,.]*", w)]
        if numbers:
            k = numbers[0]
            words[k] = f"{int(re.sub(r'[^0-9]', '', words[k]) or 0) + 7:,}"
            return " ".join(words)
        return " ".join(words[:2] + ["at least 40,000"] + words[2:])
    if kind == 1 and len(words) > 3:  # a word is replaced
        words[rng.randrange(1, len(words) - 1)] = rng.choice(["reportedly", "officials", "Tuesday", "sharply"])
        return " ".join(words)
    if kind == 2:  # a clause is inserted
        return " ".join(words[:1] + ["(according to a statement released on Monday)"] + words[1:])
    if kind == 3 and len(words) > 4:  # a word is removed
        del words[rng.randrange(1, len(words) - 1)]
        return " ".join(words)
    if "," in sentence:  # the sentence is split in two at its first comma
        head, tail = sentence.split(",", 1)
        tail = tail.strip()
        return f"{head}. {tail[:1].upper()}{tail[1:]}"
    return sentence + " Officials declined to comment."


def new_version(old: str, share: float = EDITED_SHARE, seed: int = 4) -> tuple[str, int]:
    """old with about `share` of its sentences edited, one paragraph moved, sentences added and removed."""
    rng = random.Random(seed)
    paragraphs = [split_sentences(p) for p in old.split("\n")]
    places = [(p, s) for p, sentences in enumerate(paragraphs) for s in range(len(sentences))]
    chosen = rng.sample(places, round(len(places) * share))
    for n, (p, s) in enumerate(chosen):
        paragraphs[p][s] = _edit(paragraphs[p][s], n % 5, rng)
    texts = [" ".join(sentences) for sentences in paragraphs]
    texts.insert(len(texts) // 3, texts.pop(len(texts) * 2 // 3))  # a paragraph moves up
    texts.insert(len(texts) // 2, "The ministry said on Wednesday that it would publish the full report next week.")
    texts[-1] += " A spokesperson did not respond to a request for comment."
    del texts[len(texts) // 4]
    return "\n".join(texts), len(chosen)


def timed(work, runs: int = RUNS) -> tuple[float, float]:
    """Median and fastest wall time of work, in milliseconds; each run begins with no paragraph split yet, as
    a check does (split_sentences keeps each paragraph it split, so that a new version's shared ones are not
    split again; a repeat would otherwise find every paragraph kept)."""
    times = []
    for _ in range(runs):
        _paragraph_sentences.cache_clear()
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def dmp_char_diff(old: str, new: str) -> list:
    engine = diff_match_patch()
    engine.Diff_Timeout = 0  # exact, as Redline's word diff is
    ops = engine.diff_main(old, new)
    engine.diff_cleanupSemantic(ops)
    return ops


def main(corpus: Path = CORPUS) -> None:
    old = old_version(Path(corpus))
    new, edited = new_version(old)
    old_sentences, new_sentences = split_sentences(old), split_sentences(new)
    diff = compare_pages(Extracted(old), Extracted(new))
    print(f"old {len(old.split())} words / {len(old_sentences)} sentences; new {len(new.split())} words / "
          f"{len(new_sentences)} sentences; {edited} sentences edited ({edited / len(old_sentences):.0%})")
    shapes = ", ".join(f"{k[len('sentences_'):]} {v}" for k, v in diff.stats.items() if k.startswith("sentences_"))
    print(f"alignment: {shapes}")
    runs = {
        "Redline: compare_pages (word diff + alignment + changes + stats)":
            lambda: compare_pages(Extracted(old), Extracted(new)),
        "  part: diff_words (word diff, semantic cleanup)": lambda: diff_words(old, new),
        "  part: split_sentences + align_sentences": lambda: align_sentences(split_sentences(old),
                                                                            split_sentences(new)),
        "baseline: diff-match-patch character diff + semantic cleanup": lambda: dmp_char_diff(old, new),
        "baseline: difflib SequenceMatcher over words": lambda: difflib.SequenceMatcher(
            None, old.split(), new.split(), autojunk=False).get_opcodes(),
    }
    print_times(runs.items(), RUNS)
    worst_cases(Path(corpus))


def print_times(runs, repeats: int) -> None:
    """A table of (label, work) runs: each one's median and fastest time over repeats."""
    print(f"| run ({repeats} runs each) | median ms | fastest ms |")
    print("| --- | ---: | ---: |")
    for label, work in runs:
        median, fastest = timed(work, repeats)
        print(f"| {label} | {median:.1f} | {fastest:.1f} |")


def worst_cases(corpus: Path, runs: int = 3) -> None:
    """Diffs whose cost once grew with the square of the text: a long live page with every sentence edited,
    an article replaced whole by another (as when a URL is given to a new story), and a long page whose text
    has no line break."""
    page = old_version(corpus, WORDS * 12)
    edited, _ = new_version(page, share=1.0)
    both = old_version(corpus, WORDS * 2).split("\n")
    middle = len(both) // 2
    first, second = "\n".join(both[:middle]), "\n".join(both[middle:])
    one_line = page.replace("\n", " ")
    print(f"worst cases: a page of {len(page.split())} words, every sentence edited, and on one line; "
          f"an article of {len(first.split())} words replaced by another of {len(second.split())}")
    print_times([
        ("Redline: compare_pages, long page, every sentence edited",
         lambda: compare_pages(Extracted(page), Extracted(edited))),
        ("baseline: difflib SequenceMatcher over words, the same",
         lambda: difflib.SequenceMatcher(None, page.split(), edited.split(), autojunk=False).get_opcodes()),
        ("Redline: compare_pages, article replaced", lambda: compare_pages(Extracted(first), Extracted(second))),
        ("baseline: difflib SequenceMatcher over words, the same",
         lambda: difflib.SequenceMatcher(None, first.split(), second.split(), autojunk=False).get_opcodes()),
        ("Redline: split_sentences, the long page on one line", lambda: split_sentences(one_line)),
        ("baseline: re.split at every full stop, the same", lambda: re.split(r"(?<=[.!?])\s+", one_line)),
    ], runs)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
