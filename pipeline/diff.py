"""Word-level diffs, sentence alignment and change classification: pure functions of strings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from diff_match_patch import diff_match_patch

from pipeline.extract import find_notices
from pipeline.figures import compare_aligned
from pipeline.models import Change, Diff

# Numbers with separators ("40,000", "1.5") stay one token so a changed figure is one replacement.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|\w+(?:['’]\w+)*|\s+|[^\w\s]")
_ABBREVIATIONS = ("Mr", "Mrs", "Ms", "Dr", "Gen", "Gov", "Sen", "Rep", "Lt", "Col", "Sgt", "Capt",
                  "St", "Mt", "Jr", "Sr", "Prof", "No", "Inc", "Corp", "Co", "vs", "U.S", "U.K", "U.N")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
SIMILAR = 0.5  # share of words two sentences must have in common to count as one edited sentence


def tokenize(text: str) -> list[str]:
    """Word, number, whitespace and punctuation tokens; joined, they give text back exactly."""
    return _TOKEN.findall(text)


def diff_words(old: str, new: str) -> list[tuple[int, str]]:
    """diff-match-patch ops (-1 delete, 0 keep, 1 insert) computed over word tokens."""
    vocabulary: dict[str, str] = {}

    def encode(text: str) -> str:
        return "".join(vocabulary.setdefault(t, chr(0xE000 + len(vocabulary))) for t in tokenize(text))

    old_codes, new_codes = encode(old), encode(new)
    tokens = {code: token for token, code in vocabulary.items()}
    engine = diff_match_patch()
    engine.Diff_Timeout = 0  # exact diffs; inputs are article-sized
    ops = engine.diff_main(old_codes, new_codes, False)
    engine.diff_cleanupSemantic(ops)
    ops = [(op, "".join(tokens[c] for c in codes)) for op, codes in ops]
    # Slide each edit to the nearest paragraph, sentence or word boundary, as a reader would place it.
    engine.diff_cleanupSemanticLossless(ops)
    return [(op, text) for op, text in ops if text]


def split_sentences(text: str) -> list[str]:
    """Sentences of text; a paragraph break always ends one, and common abbreviations never do."""
    sentences = []
    for paragraph in text.split("\n"):
        start = 0
        for match in _SENTENCE_END.finditer(paragraph):
            head = paragraph[start:match.start()].rstrip("\"')]")
            last_word = re.search(r"([\w.]+)\.$", head)
            if last_word and (last_word.group(1) in _ABBREVIATIONS or re.fullmatch(r"[A-Z]", last_word.group(1))):
                continue
            sentences.append(paragraph[start:match.start() + len(match.group(0).rstrip())].strip())
            start = match.end()
        if paragraph[start:].strip():
            sentences.append(paragraph[start:].strip())
    return [s for s in sentences if s]


@dataclass(frozen=True)
class SentenceOp:
    """What happened to one sentence: unchanged, edited, moved, added or deleted."""

    op: str
    old_index: int | None
    new_index: int | None
    old: str | None
    new: str | None


def _words(sentence: str) -> list[str]:
    return [t.lower() for t in tokenize(sentence) if not t.isspace()]


def _count_words(text: str) -> int:
    return sum(1 for t in tokenize(text) if t[0].isalnum() or t[0] == "_")


def _similarity(a: list[str], b: list[str]) -> float:
    if not set(a) & set(b):
        return 0.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def align_sentences(old: list[str], new: list[str]) -> list[SentenceOp]:
    """Every sentence of both lists exactly once, in the manner of the NewsEdits alignment."""
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    pairs = {}  # new index -> (old index, op)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pairs[block.b + k] = (block.a + k, "unchanged")
    free_old = [i for i in range(len(old)) if i not in {a for a, _ in pairs.values()}]
    free_new = [j for j in range(len(new)) if j not in pairs]
    for j in list(free_new):  # identical sentences found elsewhere moved
        twin = next((i for i in free_old if old[i] == new[j]), None)
        if twin is not None:
            pairs[j] = (twin, "moved")
            free_old.remove(twin)
            free_new.remove(j)
    words_old = {i: _words(old[i]) for i in free_old}
    words_new = {j: _words(new[j]) for j in free_new}
    scored = sorted(
        ((_similarity(words_old[i], words_new[j]), i, j) for i in free_old for j in free_new),
        reverse=True,
    )
    for score, i, j in scored:
        if score < SIMILAR:
            break
        if i in free_old and j in free_new:
            pairs[j] = (i, "edited")
            free_old.remove(i)
            free_new.remove(j)
    ops = [SentenceOp("deleted", i, None, old[i], None) for i in free_old]
    for j in range(len(new)):
        if j in pairs:
            i, op = pairs[j]
            ops.append(SentenceOp(op, i, j, old[i], new[j]))
        else:
            ops.append(SentenceOp("added", None, j, None, new[j]))
    # Deleted sentences sit where they stood in the old text, among the new ones.
    return sorted(ops, key=lambda s: (s.new_index if s.new_index is not None else _slot(s.old_index, pairs), s.new_index is not None))


def _slot(old_index: int, pairs: dict) -> float:
    before = [j for j, (i, _) in pairs.items() if i < old_index]
    return max(before) + 0.5 if before else -0.5


def compare_versions(
    old_text: str,
    new_text: str,
    old_title: str | None = None,
    new_title: str | None = None,
    old_byline: str | None = None,
    new_byline: str | None = None,
) -> Diff:
    """The word diff, sentence statistics and meaningful changes from one version to the next."""
    changes = []
    if old_title != new_title and old_title and new_title:
        changes.append(Change("headline", old_title, new_title, context=new_title))
    if old_byline != new_byline and (old_byline or new_byline):
        changes.append(Change("byline", old_byline, new_byline))
    alignment = align_sentences(split_sentences(old_text), split_sentences(new_text))
    changes.extend(compare_aligned((s.old, s.new) for s in alignment))
    for sentence in alignment:
        if sentence.op == "added":
            kind = "correction" if find_notices(sentence.new) else "sentence_added"
            changes.append(Change(kind, None, sentence.new, context=sentence.new))
        elif sentence.op == "deleted":
            changes.append(Change("sentence_removed", sentence.old, None, context=sentence.old))
    ops = diff_words(old_text, new_text)
    stats = {
        "words_added": sum(_count_words(t) for op, t in ops if op == 1),
        "words_removed": sum(_count_words(t) for op, t in ops if op == -1),
        **{f"sentences_{name}": sum(1 for s in alignment if s.op == name)
           for name in ("added", "deleted", "edited", "moved")},
        "figures_changed": sum(1 for c in changes if c.kind == "figure"),
    }
    return Diff(ops=tuple(ops), changes=tuple(changes), stats=stats)
