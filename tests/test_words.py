"""Tests for pipeline.words: word tokens and word diffs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.words import diff_words, tokenize

FLOOD_OLD = ("Rescuers said that at least 12 people were killed when the river burst its banks. "
             "The county said 300 homes had been destroyed.\n"
             "Schools across the district were closed on Tuesday.")
FLOOD_NEW = FLOOD_OLD.replace("at least 12", "at least 19")


def rebuild(ops, side: int) -> str:
    """The old text (side -1) or the new text (side 1) that a list of ops stands for."""
    return "".join(text for op, text in ops if op in (0, side))


# --------------------------------------------------------------------------- tokenize


@pytest.mark.parametrize("text", [
    "",
    "The toll rose to 40,000 people, officials said.",
    "  leading and trailing spaces  ",
    "Line one.\nLine two.\n\nLine four\ttabbed.",
    "Curly \u201cquotes\u201d, it\u2019s \u00e9t\u00e9 \u2014 and emoji \U0001F30A!",
    "$4.5 million (about \u20ac4.1m) & 45% - 3:45 p.m.",
])
def test_tokenize_round_trips_exactly(text):
    assert "".join(tokenize(text)) == text


@pytest.mark.parametrize("number", ["40,000", "1.5", "1,234,567.89", "3.14159"])
def test_tokenize_keeps_numbers_with_separators_as_one_token(number):
    tokens = tokenize(f"about {number} people")

    assert number in tokens
    assert tokens == ["about", " ", number, " ", "people"]


def test_tokenize_separates_words_spaces_and_punctuation():
    assert tokenize("It's over, Dr. Lee.") == ["It's", " ", "over", ",", " ", "Dr", ".", " ", "Lee", "."]


# --------------------------------------------------------------------------- diff_words


def test_diff_words_changed_figure_is_one_delete_and_one_insert():
    old = "The death toll rose to 40,000 people"
    new = "The death toll rose to 40,005 people"

    ops = diff_words(old, new)

    assert [text for op, text in ops if op == -1] == ["40,000"]
    assert [text for op, text in ops if op == 1] == ["40,005"]
    assert ops == [(0, "The death toll rose to "), (-1, "40,000"), (1, "40,005"), (0, " people")]


def test_diff_words_ops_rebuild_both_texts():
    old = "Rescuers said at least 12 people died. Schools were closed."
    new = "Rescuers said on Tuesday that at least 19 people died.\nSchools and roads were closed."

    ops = diff_words(old, new)

    assert rebuild(ops, -1) == old
    assert rebuild(ops, 1) == new
    assert {op for op, _ in ops} <= {-1, 0, 1}


def test_diff_words_of_identical_texts_is_all_equal():
    ops = diff_words(FLOOD_OLD, FLOOD_OLD)

    assert ops
    assert all(op == 0 for op, _ in ops)
    assert rebuild(ops, 1) == FLOOD_OLD


def test_diff_words_changes_whole_words_not_characters():
    ops = diff_words("The council approved the plan.", "The council rejected the plan.")

    assert (-1, "approved") in ops
    assert (1, "rejected") in ops


def test_diff_words_handles_empty_sides():
    assert rebuild(diff_words("", "New text."), 1) == "New text."
    assert rebuild(diff_words("Old text.", ""), -1) == "Old text."
    assert all(op == -1 for op, _ in diff_words("Old text.", ""))


# --------------------------------------------------------------------------- properties

WORDS = st.sampled_from([
    "the", "toll", "rose", "people", "said", "It", "A", "Dr.", "U.S.", "Gen.", "J.", "river",
    "40,000", "1.5", "12", "19", "3.5", "2024", "$4.5", "45%",
    ",", ".", "!", "?", ";", "\"", "'", "(", ")", "-", "\n", "\n\n", "  ", "\u00e9t\u00e9", "\u2019",
])
TEXTS = st.lists(WORDS, max_size=40).map(" ".join)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@PROPERTY_SETTINGS
@given(TEXTS, TEXTS)
def test_property_ops_rebuild_both_texts(old, new):
    ops = diff_words(old, new)

    assert rebuild(ops, -1) == old
    assert rebuild(ops, 1) == new


def token_boundaries(text: str) -> set[int]:
    ends, position = {0}, 0
    for token in tokenize(text):
        position += len(token)
        ends.add(position)
    return ends


@PROPERTY_SETTINGS
@given(TEXTS, TEXTS)
def test_property_ops_never_split_a_token(old, new):
    ops = diff_words(old, new)

    old_ends, new_ends = token_boundaries(old), token_boundaries(new)
    old_at = new_at = 0
    for op, text in ops:
        assert text
        if op <= 0:
            old_at += len(text)
            assert old_at in old_ends
        if op >= 0:
            new_at += len(text)
            assert new_at in new_ends


@PROPERTY_SETTINGS
@given(TEXTS)
def test_property_diff_of_a_text_with_itself_is_all_equal(text):
    ops = diff_words(text, text)

    assert all(op == 0 for op, _ in ops)
    assert rebuild(ops, 0) == text


@PROPERTY_SETTINGS
@given(TEXTS)
def test_property_tokenize_round_trips(text):
    assert "".join(tokenize(text)) == text



def test_tokenize_gives_each_chinese_or_japanese_character_its_own_token():
    assert tokenize("東京都 40,000人") == ["東", "京", "都", " ", "40,000", "人"]


def test_diff_words_of_japanese_text_changes_only_the_changed_characters():
    ops = diff_words("死者は12人に上った。", "死者は19人に上った。")

    assert [t for op, t in ops if op == -1] == ["12"] and [t for op, t in ops if op == 1] == ["19"]



def test_an_edit_beside_a_whitespace_run_never_splits_it():
    # Sliding the edit character by character once cut " \n " in two (a property run found it about once in six).
    ops = diff_words("toll the \n toll", "toll toll")

    assert rebuild(ops, -1) == "toll the \n toll" and rebuild(ops, 1) == "toll toll"
    assert ops == [(0, "toll "), (-1, "the \n "), (0, "toll")]


@settings(max_examples=2000, deadline=None)
@given(TEXTS, TEXTS)
def test_property_ops_never_split_a_token_over_many_examples(old, new):
    test_property_ops_never_split_a_token.hypothesis.inner_test(old, new)


def whole_diff(old: str, new: str) -> list[tuple[int, str]]:
    """The diff of the whole texts, every line tokenized (diff_words keeps the lines both share whole)."""
    from pipeline.words import _texts, _token_ops

    return _texts(*_token_ops(old, new))


LINES = st.lists(TEXTS, min_size=1, max_size=8)


@pytest.mark.parametrize("margin", [None, 0])  # the margin diff_words keeps; none, to cut right at the edit
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(LINES, st.data())
def test_property_lines_kept_whole_give_the_ops_of_the_whole_texts(margin, monkeypatch, lines, data):
    import pipeline.words

    if margin is not None:
        monkeypatch.setattr(pipeline.words, "_margin", lambda edited: margin)
    edited = list(lines)
    where = data.draw(st.integers(0, len(lines)))
    how = data.draw(st.sampled_from(["insert", "replace", "delete", "append to"]))
    text = data.draw(TEXTS)
    if how == "insert" or where == len(lines):
        edited.insert(where, text)
    elif how == "replace":
        edited[where] = text
    elif how == "delete":
        del edited[where]
    else:
        edited[where] += text
    old, new = "\n".join(lines), "\n".join(edited)

    assert diff_words(old, new) == whole_diff(old, new)


def test_only_the_lines_around_an_edit_are_tokenized(monkeypatch):
    import pipeline.words

    old = "\n".join(f"Line {n} of the story, as it was first published." for n in range(200))
    new = old.replace("Line 120 of the story", "Line 120 of the corrected story")
    expected, read = whole_diff(old, new), []
    monkeypatch.setattr(pipeline.words, "tokenize", lambda text: read.append(text) or tokenize(text))
    ops = diff_words(old, new)

    assert ops == expected
    assert [op for op, _ in ops] == [0, 1, 0] and ops[1][1] == "corrected "
    assert sum(map(len, read)) < 2 * 1200  # the changed line and a margin of lines around it, not all 200 twice


# --------------------------------------------------------------------------- bounded work


def _story(words: list[str], sentences: int, seed: int) -> str:
    import random

    pick = random.Random(seed).choice
    return "\n".join(" ".join(pick(words) for _ in range(12)).capitalize() + f" {n}." for n in range(sentences))


COUNCIL = "council met Tuesday agreed plan mayor said residents people were injured fire crews".split()
STORM = "storm flood river bridge closed police road traffic warning rain north south east west".split()


@pytest.fixture
def budgets(monkeypatch):
    """Every bisection budget a diff hands out, to see which ran out."""
    import pipeline.words

    handed = []

    class Recorded(pipeline.words._Rounds):
        def __init__(self, rounds):
            super().__init__(rounds)
            handed.append(self)

    monkeypatch.setattr(pipeline.words, "_Rounds", Recorded)
    return handed


def test_a_story_rewritten_whole_gives_up_the_word_search_and_keeps_blocks(budgets):
    # Exact, this diff matches every space and number two unrelated 16 kB texts share (5.5 s; at 10,000
    # words, minutes) before the clean-up merges them back into blocks: bounded, the bisection gives up.
    old, new = _story(COUNCIL, 200, 1), _story(STORM, 200, 2)
    ops = diff_words(old, new)

    assert rebuild(ops, -1) == old and rebuild(ops, 1) == new
    assert len(ops) <= 4
    assert any(budget.left < 0 for budget in budgets)
    assert ops == diff_words(old, new)  # no clock decides: the same every time


def test_an_edit_of_normal_size_is_as_exact_as_unbounded_diff_match_patch(budgets, monkeypatch):
    import pipeline.words
    from diff_match_patch import diff_match_patch

    old = _story(COUNCIL, 150, 3)
    lines = old.split("\n")
    lines[40] = _story(STORM, 1, 4)  # a sentence rewritten
    lines[90:92] = [lines[90].replace("council", "county council")]
    new = "\n".join(lines[:120] + ["A new paragraph near the end, with 19 people."] + lines[120:])
    bounded = diff_words(old, new)
    assert budgets and all(budget.left >= 0 for budget in budgets)
    monkeypatch.setattr(pipeline.words, "_Engine", diff_match_patch)

    assert bounded == diff_words(old, new)


def test_a_bisection_runs_out_of_rounds_when_its_budget_is_spent():
    from pipeline.words import _Rounds

    rounds = _Rounds(2)
    assert [1e9 > rounds for _ in range(3)] == [False, False, True]
