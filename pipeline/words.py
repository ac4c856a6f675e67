"""Word diffs: diff-match-patch over word tokens, so a changed figure is one replaced token."""

from __future__ import annotations

import re

from diff_match_patch import diff_match_patch

from pipeline.extract import WordPattern

# Numbers with separators ("40,000", "1.5") stay one token so a changed figure is one replacement;
# a Chinese or Japanese character is a token of its own, as those scripts put no spaces between words.
_TOKEN = WordPattern(r"|\s+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Word, number, whitespace and punctuation tokens; joined, they give text back exactly."""
    return _TOKEN.findall(text)


# Myers' diff, which diff-match-patch runs, costs about the texts' length times the edits between them: an
# article replaced whole by another (a URL given to a new story) took 19 s at 5,000 words, minutes at 20,000.
# A bisection finds the middle of D edits by its round D/2, each round costing more than the last: at most
# BISECT_ROUNDS rounds keeps exact every part of up to 2,000 edits (every sentence of a 5,000-word article
# edited: the same diff, 0.37 s) and gives up within about 0.3 s on more. A part given up on is kept deleted
# and inserted whole, as diff-match-patch does when its clock runs out, but the same on any machine.
BISECT_ROUNDS = 1000


class _Rounds:
    """A bisection's budget of rounds, in place of diff-match-patch's deadline: the bisection asks
    `time.time() > deadline` once a round, and Python answers that with this object's __lt__."""

    def __init__(self, rounds: int):
        self.left = rounds

    def __lt__(self, now: float) -> bool:
        self.left -= 1
        return self.left < 0


class _Engine(diff_match_patch):
    """diff-match-patch with each bisection held to BISECT_ROUNDS (see there)."""

    def diff_bisect(self, text1, text2, deadline):
        return super().diff_bisect(text1, text2, _Rounds(BISECT_ROUNDS))


class _Codes(dict):
    """Token -> one private-use character; a token seen first gets the next."""

    def __missing__(self, token: str) -> str:
        code = self[token] = chr(0xE000 + len(self))
        return code


def diff_words(old: str, new: str) -> list[tuple[int, str]]:
    """diff-match-patch ops (-1 delete, 0 keep, 1 insert) computed over word tokens."""
    # The lines both texts begin and end with are kept whole, not tokenized (an edit usually touches a few
    # sentences of a long text): the same ops, unless an edit lies so near a cut that diff-match-patch's
    # clean-ups or the sliding could have reached past it, and then the whole texts are diffed.
    head, tail = _shared_lines(old, new)
    if head or tail:
        ops, tokens = _token_ops(old[head:len(old) - tail], new[head:len(new) - tail])
        reach = sum(len(codes) for op, codes in ops if op) + 2  # how far an edit may move, in tokens
        if (not head or (ops and ops[0][0] == 0 and len(ops[0][1]) > reach)) and \
                (not tail or (ops and ops[-1][0] == 0 and len(ops[-1][1]) > reach)):
            text = _texts(ops, tokens)
            if head:
                text[0] = (0, old[:head] + text[0][1])
            if tail:
                text[-1] = (0, text[-1][1] + old[len(old) - tail:])
            return text
    return _texts(*_token_ops(old, new))


def _token_ops(old: str, new: str) -> tuple[list[list], dict[str, str]]:
    """The ops over the two texts' token codes, and the token of each code."""
    # A paragraph break keeps its own character, so diff-match-patch's line mode can match whole
    # paragraphs first and diff words only inside the paragraphs that changed.
    vocabulary = _Codes({"\n": "\n"})
    old_codes, new_codes = ("".join(map(vocabulary.__getitem__, tokenize(text))) for text in (old, new))
    tokens = {code: token for token, code in vocabulary.items()}
    engine = _Engine()
    engine.Diff_Timeout = 0  # no clock: the same diff for the same texts (_Engine bounds the work instead)
    ops = engine.diff_main(old_codes, new_codes, True)
    engine.diff_cleanupSemantic(ops)
    return _slide_to_boundaries([list(op) for op in ops], tokens), tokens


def _texts(ops: list[list], tokens: dict[str, str]) -> list[tuple[int, str]]:
    return [(op, "".join(tokens[c] for c in codes)) for op, codes in ops if codes]


def _shared_lines(old: str, new: str) -> tuple[int, int]:
    """How many characters to keep whole at each end: of the stretch both texts begin (end) with, all but
    a margin (_margin), cut where a line begins (after a line break, at a character that is no white space,
    in both texts) so that no token crosses the cut."""
    most = min(len(old), len(new))
    begin = _shared_length(old, new, most)
    end = _shared_length(old[::-1], new[::-1], most - begin)  # (the two never overlap)
    margin = _margin(max(len(old), len(new)) - begin - end)
    start = old.rfind("\n", 0, max(begin - margin, 0)) + 1
    while start and (old[start:start + 1].isspace() or new[start:start + 1].isspace()):
        start = old.rfind("\n", 0, start - 1) + 1
    cut = old.find("\n", len(old) - max(end - margin, 0)) + 1  # a line break in the shared end of both texts
    while cut and old[cut:cut + 1].isspace():
        cut = old.find("\n", cut) + 1
    return start, len(old) - cut if cut else 0


def _margin(edited: int) -> int:
    # Characters of shared text diffed on each side of an edited stretch: enough, nearly always, for the
    # clean-ups to act as on the whole texts (a test sets none, to try the fallback).
    return 2 * edited + 200


def _shared_length(old: str, new: str, most: int) -> int:
    """How many characters old and new begin with alike, at most `most`: a binary search comparing slices
    (in C) rather than a loop over characters."""
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if old[low:middle] == new[low:middle]:  # (old[:low] and new[:low] are alike already)
            low = middle
        else:
            high = middle - 1
    return low


_BLANK_LINE_END = re.compile(r"\n\r?\n$")
_BLANK_LINE_START = re.compile(r"^\r?\n\r?\n")


def _boundary_score(before: str, after: str) -> int:
    """How good a place the point between before and after is for an edit to start or end:
    6 at an end of the text, then a blank line, a line break, a sentence end, a space, punctuation."""
    if not before or not after:
        return 6
    last, first = before[-1], after[0]
    if _BLANK_LINE_END.search(before) or _BLANK_LINE_START.match(after):
        return 5
    if last in "\r\n" or first in "\r\n":
        return 4
    if not last.isalnum() and not last.isspace() and first.isspace():
        return 3
    if last.isspace() or first.isspace():
        return 2
    return 1 if not last.isalnum() or not first.isalnum() else 0


def _slide_to_boundaries(ops: list[list], tokens: dict[str, str]) -> list[list]:
    """Slide each edit that sits between two equal runs to where a reader would place it (diff-match-patch's
    semantic lossless clean-up), but a whole token at a time: sliding characters can split a token
    (a whitespace run, say), which no word diff may do."""
    def text(codes: str) -> str:
        return "".join(tokens[c] for c in codes)

    def score(before: str, edit: str, after: str) -> int:
        # Two tokens on each side are enough to see a blank line.
        return (_boundary_score(text(before[-2:]), text(edit[:2])) if before else 6) + \
               (_boundary_score(text(edit[-2:]), text(after[:2])) if after else 6)

    index = 1
    while index < len(ops) - 1:
        (op_before, before), (op, edit), (op_after, after) = ops[index - 1], ops[index], ops[index + 1]
        if op_before == 0 and op_after == 0 and op != 0:
            shared = 0  # first as far left as the edit can go
            while shared < min(len(before), len(edit)) and before[-1 - shared] == edit[-1 - shared]:
                shared += 1
            if shared:
                before, edit, after = before[:-shared], edit[-shared:] + edit[:-shared], edit[-shared:] + after
            best, best_score = (before, edit, after), score(before, edit, after)
            while edit and after and edit[0] == after[0]:  # then right, one token at a time
                before, edit, after = before + edit[0], edit[1:] + after[0], after[1:]
                if (candidate := score(before, edit, after)) >= best_score:
                    best, best_score = (before, edit, after), candidate
            ops[index - 1][1], ops[index][1], ops[index + 1][1] = best
        index += 1
    return _merge_equal_neighbours([op for op in ops if op[1]])


def _merge_equal_neighbours(ops: list[list]) -> list[list]:
    merged: list[list] = []
    for op in ops:
        if merged and merged[-1][0] == op[0]:
            merged[-1][1] += op[1]
        else:
            merged.append(op)
    return merged
