"""Key figures in a sentence (number, qualifier, unit, subject) and how they changed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.models import Change

# Per-language tables: the logic below reads only these, so a language is a new table.
QUALIFIERS = {
    "en": ("at least", "more than", "over", "nearly", "almost", "about", "around", "roughly",
           "approximately", "up to", "fewer than", "less than", "some", "as many as", "at most"),
}
SCALES = {"en": {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6,
                 "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12}}
# Words skipped inside the phrase after a figure ("12 people were killed" -> "people killed").
SKIPPED = {"en": {"a", "an", "the", "were", "was", "are", "is", "have", "has", "had", "been", "be",
                  "being", "reportedly", "its", "their", "his", "her"}}
# Words that end that phrase: what follows them says where or why, not what was counted.
BOUNDARIES = {"en": {"of", "to", "in", "on", "at", "when", "after", "before", "as", "because", "while",
                     "who", "which", "that", "and", "or", "for", "from", "by", "with", "since",
                     "during", "across", "near", "than", "but", "said", "says"}}
# Verbs that link a preceding subject to its figure ("the death toll rose to 40,000").
LINKING = {"en": {"rose", "risen", "climbed", "reached", "stood", "stands", "increased", "jumped",
                  "fell", "dropped", "hit", "now", "stand", "totals", "totalled", "totaled", "grew", "is", "was"}}

_NUMBER = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_WORD = re.compile(r"[A-Za-z][\w'-]*|[.,;:!?()\"]")


def _figure_pattern(language: str) -> re.Pattern:
    qualifiers = "|".join(re.escape(q) for q in sorted(QUALIFIERS[language], key=len, reverse=True))
    scales = "|".join(sorted(SCALES[language], key=len, reverse=True))
    return re.compile(
        rf"(?P<time>\b\d{{1,2}}:\d{{2}}(?!\d)(?:\s*[ap]\.?m\.?)?)"
        rf"|(?:\b(?P<qualifier>{qualifiers})\s+)?(?P<currency>[$€£¥])?(?P<number>(?<![\w.,]){_NUMBER})"
        rf"(?:\s?(?P<scale>{scales})\b)?(?P<percent>\s?%|\s+percent\b)?",
        re.IGNORECASE,
    )


_PATTERNS = {language: _figure_pattern(language) for language in QUALIFIERS}


@dataclass(frozen=True)
class Figure:
    """A number in a sentence with what qualifies and what it counts."""

    text: str
    value: float
    qualifier: str | None
    unit: str | None
    subject: str
    start: int
    end: int


def _subject(sentence: str, start: int, end: int, language: str) -> str:
    skipped, boundaries = SKIPPED[language], BOUNDARIES[language]

    def phrase(words: list[str]) -> list[str]:
        kept = []
        for word in (w.lower() for w in words):
            if not word[0].isalpha() or word in boundaries:
                break
            if word not in skipped:
                kept.append(word)
        return kept

    after = phrase(_WORD.findall(sentence[end:])[:5])[:3]
    if after:
        return " ".join(after)
    preceding = list(reversed(_WORD.findall(sentence[:start])[-6:]))
    while preceding and preceding[0].lower() in boundaries | skipped | LINKING[language]:
        preceding.pop(0)
    before = phrase(preceding)[:2]
    return " ".join(reversed(before))


def find_figures(sentence: str, language: str = "en") -> list[Figure]:
    """Every counted figure in sentence; years and times of day are left out."""
    figures = []
    for match in _PATTERNS[language].finditer(sentence):
        if match.group("time"):
            continue
        number = match.group("number")
        scale = (match.group("scale") or "").lower()
        unit = match.group("currency") or ("%" if match.group("percent") else None)
        if not unit and not scale and re.fullmatch(r"(1[89]|20)\d\d", number):
            continue  # a year, not a count
        value = float(number.replace(",", "")) * SCALES[language].get(scale, 1)
        figures.append(Figure(
            text=match.group(0).strip(),
            value=value,
            qualifier=(match.group("qualifier") or "").lower() or None,
            unit=unit,
            subject=_subject(sentence, match.start(), match.end(), language),
            start=match.start(),
            end=match.end(),
        ))
    return figures


def _pair(old: list[Figure], new: list[Figure]) -> list[tuple[Figure | None, Figure | None]]:
    if len(old) == len(new):
        return list(zip(old, new))
    pairs, unmatched = [], list(new)
    for figure in old:
        twin = next((n for n in unmatched if n.subject == figure.subject and n.unit == figure.unit), None)
        if twin:
            unmatched.remove(twin)
        pairs.append((figure, twin))
    return pairs + [(None, figure) for figure in unmatched]


def compare_figures(old_sentence: str, new_sentence: str, language: str = "en") -> list[Change]:
    """A figure change for each number whose value or qualifier differs between two aligned sentences."""
    changes = []
    for before, after in _pair(find_figures(old_sentence, language), find_figures(new_sentence, language)):
        if before and after and (before.value, before.qualifier) == (after.value, after.qualifier):
            continue
        if before is None or after is None:
            continue  # figures added or removed travel with their sentence's own change
        delta = after.value - before.value
        changes.append(Change(
            kind="figure",
            before=before.text,
            after=after.text,
            context=new_sentence,
            subject=after.subject or before.subject,
            significance=abs(delta) / before.value if before.value else 1.0,
        ))
    return changes
