"""Word-level diffs, sentence alignment and change classification: pure functions of strings."""

from __future__ import annotations

import functools
import re
from collections import Counter
from difflib import SequenceMatcher

from pipeline import compile_lazily
from pipeline.extract import (CORRECTION_LABELS, EARLIER_VERSION, UPDATE_LABELS, count_words, find_notices, find_words,
                              guess_language, is_later)
from pipeline.figures import Tables, choose_language, compare_aligned, get_tables
from pipeline.models import Change, Diff, Extracted, SentenceOp
from pipeline.words import diff_words


# Words after which a full stop does not end a sentence: titles, ranks, "U.S.", "Calif.".
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "gen", "gov", "sen", "rep", "lt", "col", "sgt", "capt", "cmdr",
    "adm", "maj", "cpl", "pvt", "rev", "fr", "hon", "pres", "supt", "det", "insp", "amb", "atty",
    "st", "mt", "ft", "ave", "blvd", "jr", "sr", "inc", "corp", "co", "ltd", "llc", "plc", "bros", "dept",
    "univ", "assn", "vs", "v", "etc", "al", "approx", "e.g", "i.e", "cf", "a.m", "p.m",
    "ala", "ariz", "ark", "calif", "colo", "conn", "fla", "kan", "mich", "minn", "neb", "nev", "okla",
    "tenn", "tex", "vt", "wis", "wyo",
})
# Abbreviations only before a number: "No. 5", "Jan. 6", "pp. 12" (but "the answer was no. Then").
NUMBERED = frozenset({"no", "nos", "vol", "pp", "fig", "ch", "art", "jan", "feb", "mar", "apr", "jun", "jul",
                      "aug", "sep", "sept", "oct", "nov", "dec"})
# After these a full stop also ends the sentence when a capitalised word follows ("at 3 p.m. Officials said").
_SENTENCE_FINAL_ABBREVIATIONS = frozenset({"a.m", "p.m", "etc", "inc", "corp", "ltd", "llc", "plc"})
_NOT_A_START = frozenset({"ET", "EST", "EDT", "PT", "PST", "PDT", "CT", "CST", "CDT", "MT", "GMT", "UTC", "BST"})
# A sentence ends at . ! ? or "..." (then any closing quotes or brackets) before whitespace and an
# opening capital, digit, quote or bracket; Chinese and Japanese full stops end one without any space.
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+[\"'(\[¿¡]?[A-Z0-9À-ÖØ-Þ])|[。！？][」』）]*")
_LAST_WORD = re.compile(r"(?:^|[\s\"'(\[])([^\s\"'(\[]+)$")
# Matched at a position rather than run on the rest of the paragraph, sliced off for each stop: those slices
# made splitting quadratic in a paragraph's length (a page of 800 kB without a line break took 1.7 s).
_SPACE = re.compile(r"\s*")
_NEXT_WORD = re.compile(r"\S*")
SIMILAR = 0.5  # Dice overlap of two sentences' words above which one is taken for an edit of the other
SPLIT_SHARE = 0.6  # share of a neighbour's words that must come from the rest of a sentence for a split or merge
QUOTE = re.compile(r'"([^"\n]+)"')
SINGLE_QUOTE = re.compile(r"(?<!\w)'([^'\n]+?)'(?!\w)")


# --------------------------------------------------------------------------- sentences


def _ends_sentence(paragraph: str, end: int, next_start: int, tables: Tables) -> bool:
    """Whether the punctuation ending at end closes a sentence, given the words around it."""
    # The last 80 characters hold the word before the stop: searching the paragraph from its start for each
    # stop took time quadratic in the paragraph's length.
    head = paragraph[max(0, end - 80):end].rstrip("\"')]")
    if not head.endswith(".") or head.endswith(".."):
        return True
    word = _LAST_WORD.search(head[:-1])
    word = word.group(1).lower() if word else ""
    following = _NEXT_WORD.match(paragraph, next_start).group().strip("\"'([")
    if not word:
        return True
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "John F. Kennedy"
    if word in NUMBERED:
        return not following[:1].isdigit()
    if word in _SENTENCE_FINAL_ABBREVIATIONS:
        return following not in _NOT_A_START
    if tables.ordinal_dot and word.isdecimal() and len(word) <= 2 and following.rstrip(".,") in tables.months:
        return False  # "am 3. März"
    return not (word in ABBREVIATIONS or word in tables.abbreviations or re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Sentences of text; a paragraph break always ends one, and abbreviations, initials and numbers never do
    (English's, and those of language)."""
    return [sentence for paragraph in text.split("\n") for sentence in _paragraph_sentences(paragraph, language)]


@functools.lru_cache(maxsize=4096)  # a new version shares most paragraphs with the last: each is split once
def _paragraph_sentences(paragraph: str, language: str) -> tuple[str, ...]:
    tables = get_tables(language)
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        following = _SPACE.match(paragraph, match.end()).end()
        if not _ends_sentence(paragraph, match.end(), following, tables):
            continue
        sentence = paragraph[start:match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = following
    if paragraph[start:].strip():
        sentences.append(paragraph[start:].strip())
    return tuple(sentences)


def _words(sentence: str) -> Counter:
    return Counter(find_words(sentence.lower()))


def _dice(a: Counter, b: Counter) -> float:
    total = sum(a.values()) + sum(b.values())
    return 2 * _shared(a, b) / total if total else 0.0


def _share_within(part: Counter, whole: Counter) -> float:
    size = sum(part.values())
    return _shared(part, whole) / size if size else 0.0


def _shared(a: Counter, b: Counter) -> int:
    """The words of a and b in common, repeats counted: (a & b)'s total, without building that Counter."""
    return sum(min(a[word], b[word]) for word in a.keys() & b.keys())


def _rarest(bags: list[Counter]):
    """A function giving, for one of bags, the words (each repeat its own: ("the", 0), ("the", 1)) that any
    bag of bags it can reach SIMILAR with must share with it: its rarest ones, past those it may lack.

    Two bags with Dice overlap s or more share at least s/(2 - s) of the larger one's words; then the rarer
    of the words they share is among the rarest len - that + 1 of each (prefix filtering), and pairs
    sharing none of those cannot be similar. Scoring every pair that shared any word ("the") instead took
    time quadratic in the sentences edited: 11 s for 3,000 in a long live page.
    """
    def words(bag: Counter) -> list[tuple[str, int]]:
        return [(word, repeat) for word, count in bag.items() for repeat in range(count)]

    frequency = Counter(word for bag in bags for word in words(bag))

    def prefix(bag: Counter) -> list[tuple[str, int]]:
        ordered = sorted(words(bag), key=lambda word: (frequency[word], word))
        shared = int(SIMILAR * len(ordered) / (2 - SIMILAR))  # rounded down: a longer prefix misses nothing
        return ordered[:len(ordered) - shared + 1]
    return prefix


class _LazyWords(dict):
    """Sentence index -> its words, counted on first use."""

    def __init__(self, sentences: list[str]):
        super().__init__()
        self.sentences = sentences

    def __missing__(self, k: int) -> Counter:
        self[k] = _words(self.sentences[k])
        return self[k]


class _Aligner:
    """The state of one alignment: which sentences are matched to which, and how."""

    def __init__(self, old: list[str], new: list[str]):
        self.old, self.new = old, new
        # Words are counted only for sentences left over after exact matching: most of them are not.
        self.old_words = _LazyWords(old)
        self.new_words = _LazyWords(new)
        self.free_old = set(range(len(old)))
        self.free_new = set(range(len(new)))
        self.groups: list[list] = []

    def pair(self, op: str, i: int, j: int) -> None:
        self.free_old.discard(i)
        self.free_new.discard(j)
        self.groups.append([op, [i], [j]])

    def match_in_order(self) -> None:
        """Identical sentences in the same order are unchanged (a longest common subsequence)."""
        for block in SequenceMatcher(None, self.old, self.new, autojunk=False).get_matching_blocks():
            for k in range(block.size):
                self.pair("unchanged", block.a + k, block.b + k)

    def match_moved(self) -> None:
        """Identical sentences found elsewhere in the other version moved."""
        waiting: dict[str, list[int]] = {}
        for i in sorted(self.free_old):
            waiting.setdefault(self.old[i], []).append(i)
        for j in sorted(self.free_new):
            if waiting.get(self.new[j]):
                self.pair("moved", waiting[self.new[j]].pop(0), j)

    def match_edited(self) -> None:
        """Pair the remaining sentences by word overlap, best pairs first, nearer positions breaking ties.

        Only pairs that can reach SIMILAR are scored: see _rarest."""
        prefixes = _rarest([self.old_words[i] for i in self.free_old] + [self.new_words[j] for j in self.free_new])
        index: dict[tuple[str, int], set[int]] = {}
        for j in self.free_new:
            for word in prefixes(self.new_words[j]):
                index.setdefault(word, set()).add(j)
        scored = []
        scale_old, scale_new = max(len(self.old), 1), max(len(self.new), 1)
        for i in self.free_old:
            for j in set().union(*(index.get(w, ()) for w in prefixes(self.old_words[i]))):
                score = _dice(self.old_words[i], self.new_words[j])
                if score >= SIMILAR:
                    scored.append((-score, abs(i / scale_old - j / scale_new), i, j))
        for _, _, i, j in sorted(scored):
            if i in self.free_old and j in self.free_new:
                self.pair("edited", i, j)

    def absorb_splits_and_merges(self) -> None:
        """Grow an edited pair by adjacent unmatched sentences whose words come from the other side's rest."""
        for group in [g for g in self.groups if g[0] == "edited"]:
            for mine, theirs, free, words_mine, words_theirs in (
                (1, 2, self.free_new, self.old_words, self.new_words),   # one old sentence split in two
                (2, 1, self.free_old, self.new_words, self.old_words),   # two old sentences merged
            ):
                whole = sum((words_mine[k] for k in group[mine]), Counter())
                grown = True
                while grown:
                    grown = False
                    covered = sum((words_theirs[k] for k in group[theirs]), Counter())
                    for k in (min(group[theirs]) - 1, max(group[theirs]) + 1):
                        if k in free and _share_within(words_theirs[k], whole - covered) >= SPLIT_SHARE \
                                and _dice(whole, covered + words_theirs[k]) > _dice(whole, covered):
                            group[theirs] = sorted([*group[theirs], k])
                            free.discard(k)
                            grown = True
                            break

    def result(self) -> list[SentenceOp]:
        ops = []
        for op, olds, news in self.groups:
            old_text = " ".join(self.old[i] for i in olds)
            new_text = " ".join(self.new[j] for j in news)
            ops.append(SentenceOp(op, tuple(olds), tuple(news), old_text, new_text,
                                  tuple(diff_words(old_text, new_text)) if op == "edited" else ()))
        ops += [SentenceOp("deleted", (i,), (), self.old[i], None) for i in self.free_old]
        ops += [SentenceOp("added", (), (j,), None, self.new[j]) for j in self.free_new]
        return sorted(ops, key=self._position(ops))

    def _position(self, ops: list[SentenceOp]):
        # Deleted sentences sit where they stood in the old text, after the new place of the old
        # sentence before them.
        after = [-1.0] * (len(self.old) + 1)
        for s in ops:
            for i in s.old_indices:
                if s.new_indices:
                    after[i + 1] = max(s.new_indices)
        for i in range(1, len(after)):
            after[i] = max(after[i], after[i - 1])

        def key(s: SentenceOp):
            if s.new_indices:
                return (min(s.new_indices), 1, 0)
            return (after[s.old_indices[0]] + 0.5, 0, s.old_indices[0])
        return key


def align_sentences(old: list[str], new: list[str]) -> list[SentenceOp]:
    """Every sentence of both lists exactly once, in the manner of the NewsEdits alignment.

    Each op is unchanged, moved (identical, elsewhere), edited (similar words; a sentence that
    split in two or two that merged are one edited op), added or deleted, in the new text's order.
    """
    aligner = _Aligner(old, new)
    aligner.match_in_order()
    aligner.match_moved()
    aligner.match_edited()
    aligner.absorb_splits_and_merges()
    return aligner.result()


# --------------------------------------------------------------------------- changes


def find_quotes(sentence: str) -> list[str]:
    """The text inside quotation marks in a sentence; a quote left open or closed runs to the sentence's edge.

    Double quotes first; single quotes (British style) only in a sentence without double ones.
    """
    mark = '"' if '"' in sentence else "'"
    pattern = QUOTE if mark == '"' else SINGLE_QUOTE
    quotes = pattern.findall(sentence)
    rest = pattern.sub(" ", sentence)
    lone = [k for k, char in enumerate(rest) if char == mark and (mark == '"' or _quote_edge(rest, k))]
    if len(lone) == 1:
        k = lone[0]
        opening = k == 0 or rest[k - 1].isspace()
        quotes.append(rest[k + 1:] if opening else rest[:k])
    return [q.strip() for q in quotes if _words(q)]


def _quote_edge(text: str, k: int) -> bool:
    # A single quote inside a word ("it's") is an apostrophe, not a quotation mark.
    before = text[k - 1] if k else " "
    after = text[k + 1] if k + 1 < len(text) else " "
    return not (before.isalnum() and after.isalnum())


def compare_quotes(old_sentence: str, new_sentence: str) -> list[Change]:
    """A quote change for each quotation whose words changed between two aligned sentences."""
    old_quotes, new_quotes = find_quotes(old_sentence), find_quotes(new_sentence)
    for quote in list(old_quotes):
        twin = next((q for q in new_quotes if _words(q) == _words(quote)), None)
        if twin is not None:  # the same words, perhaps with other punctuation: no change
            old_quotes.remove(quote)
            new_quotes.remove(twin)
    changes = []
    for before in old_quotes:
        twin = max(new_quotes, key=lambda q: _dice(_words(before), _words(q)), default=None)
        if twin is not None and _dice(_words(before), _words(twin)) >= SIMILAR / 2:
            new_quotes.remove(twin)
            changes.append(Change("quote", before, twin, context=new_sentence))
        else:
            changes.append(Change("quote", before, None, context=new_sentence))
    return changes + [Change("quote", None, after, context=new_sentence) for after in new_quotes]


def _banner_key(banner: str | None) -> str | None:
    # "Updated 2 hours ago" changes with the clock, not with the story: only its appearance counts.
    if banner and re.search(r"\bago\b|\bvor\b|\bil y a\b|\bhace\b", banner, re.IGNORECASE):
        return "relative"
    return banner


# What makes a notice or banner say what changed, not only that something did: a correction, clarification or
# editor's note, an earlier version owned up to, or an update line naming its content ("updated to include
# comment from the mayor", "updated with the latest toll", "Update: the toll rose to 19"). Read only when a page
# shows a new notice or banner, so compiled on first use (2 ms that most diffs never need).
_CORRECTED = compile_lazily(rf"^\s*(?:{CORRECTION_LABELS})\b|{EARLIER_VERSION}", re.IGNORECASE)
_UPDATED_WITH = compile_lazily(
    r"\bupdated?\b.{0,40}?\b(?:to (?:include|reflect|add|correct|clarify|remove|show|note)|"
    r"with (?:the |new |more |additional |further |comment|details|information|reaction))"
    r"|\b(?:aktualisiert|ergänzt)\b.{0,40}?\b(?:um (?:eine|einen|die|den|das|weitere|neue)\b|"
    r"mit (?:neuen|weiteren|aktuellen) )"
    r"|\bum (?:eine|einen|die|den|das|weitere|neue)\b.{0,60}?\b(?:ergänzt|erweitert)\b"
    r"|\b(?:mis à jour|actualisé)e?\b.{0,40}?\b"
    r"(?:avec |pour (?:inclure|ajouter|préciser|corriger))"
    r"|\bactualizad[oa]\b.{0,40}?\b(?:con |para (?:incluir|añadir|agregar|corregir|aclarar))",
    re.IGNORECASE)
_UPDATE_LINE = compile_lazily(rf"^\s*(?:{UPDATE_LABELS})\s*[:.\-–—]\s*(.*)$", re.IGNORECASE)
# Words of a date or time in an update line ("Update: Tuesday 11 March, 09:15 UTC", "Aktualisiert: 3. März, 14 Uhr").
_WORD_NOT_DATE = compile_lazily(
    r"\b(?!(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|"
    r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|at\b|on\b|utc\b|gmt\b|[ap]m\b|"
    r"(?:jän|mär|mai|okt|dez|janv|févr|avr|juil|août|déc|ene|abr|ago|dic)[^\W\d_]*\b|"
    r"(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi"
    r"|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo)\b|"
    r"(?:uhr|um|am|le|à|les|el|del|las|de)\b)[^\W\d_]{3,}",
    re.IGNORECASE)


def says_what_changed(line: str) -> bool:
    """Whether a notice or banner says what changed (a correction, "updated to include …"), not only that
    the story changed ("This story has been updated.", "Updated 11 March 2025, 09:15")."""
    if _CORRECTED.search(line) or _UPDATED_WITH.search(line):
        return True
    update = _UPDATE_LINE.match(line)
    return bool(update) and len(_WORD_NOT_DATE.findall(update.group(1))) >= 3


def find_disclosures(old: Extracted, new: Extracted) -> tuple[tuple[str, ...], bool]:
    """How the page marks the edit from old to new (new notices, a new banner, a later dateModified), and
    whether any of them says what changed (see says_what_changed); a timestamp alone says only that it did."""
    known = set(find_notices(old.text))
    notices = [notice for notice in find_notices(new.text) if notice not in known]
    reasons = [f"notice: {notice}" for notice in notices]
    says = any(says_what_changed(notice) for notice in notices)
    if new.banner and _banner_key(new.banner) != _banner_key(old.banner):
        reasons.append(f"update banner: {new.banner}")
        says = says or says_what_changed(new.banner)
    if is_later(new.modified, old.modified or old.published):
        reasons.append(f"dateModified: {old.modified or old.published} -> {new.modified}")
    return tuple(reasons), says


def _metadata_changes(old: Extracted, new: Extracted) -> list[Change]:
    changes = []
    if old.title != new.title and old.title and new.title:
        changes.append(Change("headline", old.title, new.title, context=new.title))
    if old.byline != new.byline and (old.byline or new.byline):
        changes.append(Change("byline", old.byline, new.byline))
    for kind, before, after in (("published", old.published, new.published),
                                ("modified", old.modified, new.modified)):
        if before and after and before != after:
            changes.append(Change(kind, before, after))
    return changes


def notice_parts(text: str) -> dict[str, str]:
    """Each notice line of text mapped to its notice: the whole paragraph when it opens with the
    notice ("Correction: … It is $18 million, not $80 million."), else only the sentences that are one."""
    parts = {}
    for line in find_notices(text):
        sentences = split_sentences(line)
        if sentences and find_notices(sentences[0]):
            parts[line] = line
        else:
            parts[line] = " ".join(s for s in sentences if find_notices(s))
    return parts


def _notice_changes(old_text: str, new_text: str) -> tuple[list[Change], set[str]]:
    """A correction change for each notice that is new or reworded, and the sentences those notices hold."""
    before = set(notice_parts(old_text).values())
    changes, sentences = [], set()
    for notice in notice_parts(new_text).values():
        if notice in before:
            continue
        earlier = max(before, key=lambda b: _dice(_words(b), _words(notice)), default=None)
        if earlier is not None and _dice(_words(earlier), _words(notice)) < SIMILAR:
            earlier = None
        changes.append(Change("correction", earlier, notice, context=notice))
        sentences.update(split_sentences(notice))
    return changes, sentences


def _sentence_changes(sentence: SentenceOp) -> list[Change]:
    if sentence.op == "edited":
        return compare_quotes(sentence.old, sentence.new)
    if sentence.op == "added":
        return [Change("sentence_added", None, sentence.new, context=sentence.new)]
    if sentence.op == "deleted":
        return [Change("sentence_removed", sentence.old, None, context=sentence.old)]
    return []


def _stats(ops: list[tuple[int, str]], alignment: list[SentenceOp], changes: list[Change]) -> dict:
    replaced = sum(count_words(text) for k, (op, text) in enumerate(ops)
                   if op == -1 and k + 1 < len(ops) and ops[k + 1][0] == 1)
    stats = {
        "words_added": sum(count_words(t) for op, t in ops if op == 1),
        "words_removed": sum(count_words(t) for op, t in ops if op == -1),
        "words_edited": replaced,
        "words_moved": sum(count_words(s.new) for s in alignment if s.op == "moved"),
    }
    for name in ("added", "deleted", "edited", "moved", "unchanged"):
        stats[f"sentences_{name}"] = sum(1 for s in alignment if s.op == name)
    stats["sentences_split"] = sum(1 for s in alignment if s.shape == "split")
    stats["sentences_merged"] = sum(1 for s in alignment if s.shape == "merged")
    stats["figures_changed"] = sum(1 for c in changes if c.kind == "figure")
    return stats


def compare_pages(old: Extracted, new: Extracted, language: str = "en") -> Diff:
    """The word diff, sentence alignment, statistics, changes and disclosure from one version to the next;
    sentences and figures are read in the new page's language (see choose_language), else in language."""
    language = choose_language(new.language, language)
    alignment = align_sentences(split_sentences(old.text, language), split_sentences(new.text, language))
    corrections, in_notices = _notice_changes(old.text, new.text)
    # A sentence of a new or reworded notice is told by its correction change.
    told = [s for s in alignment
            if not (in_notices and s.new_indices and set(split_sentences(s.new)) <= in_notices)]
    # Figures are compared over the whole alignment, so a figure that moved sentences is followed.
    changes = _metadata_changes(old, new) + corrections + compare_aligned(((s.old, s.new) for s in told), language)
    for sentence in told:
        changes.extend(_sentence_changes(sentence))
    ops = diff_words(old.text, new.text)
    disclosures, says = find_disclosures(old, new)
    return Diff(ops=tuple(ops), changes=tuple(changes), stats=_stats(ops, alignment, changes),
                sentences=tuple(alignment), disclosed=says, disclosures=disclosures, bumped=bool(disclosures) and not says)


def find_stealth_edit(diff: Diff) -> Change | None:
    """A stealth_edit change when the diff edited the text or the headline and the page shows nothing of it
    (no notice, banner or later dateModified; a bumped timestamp is its own state, not a stealth edit)."""
    if diff.disclosed or diff.bumped:
        return None
    touched = [s for s in diff.sentences if s.op in ("edited", "added", "deleted")]
    headline = next((c for c in diff.changes if c.kind == "headline"), None)
    counts = Counter(s.op for s in touched)
    parts = ["headline"] * bool(headline) + [f"{counts[op]} sentence(s) {op}" for op in ("edited", "added", "deleted")
                                            if counts[op]]
    if not parts:
        return None
    context = (touched[0].new or touched[0].old) if touched else headline.after
    return Change("stealth_edit", None, "changed without notice: " + ", ".join(parts), context=context)


def compare_versions(
    old_text: str,
    new_text: str,
    old_title: str | None = None,
    new_title: str | None = None,
    old_byline: str | None = None,
    new_byline: str | None = None,
    language: str | None = None,
) -> Diff:
    """compare_pages for two texts with, optionally, their headlines and bylines; read in language, or in the
    language guessed from the new text (English when no guess holds)."""
    new = Extracted(new_text, new_title, new_byline, language=language or guess_language(new_text))
    return compare_pages(Extracted(old_text, old_title, old_byline), new, language or "en")
