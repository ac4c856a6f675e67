"""Tests for pipeline.diff: sentence splitting and alignment, change classification."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demo.newsroom import load_stories
from pipeline.diff import (align_sentences, compare_pages, compare_versions, find_quotes, find_stealth_edit,
                           says_what_changed, split_sentences)
from pipeline.extract import find_notices, normalize_text
from pipeline.models import Extracted

FLOOD_OLD = ("Rescuers said that at least 12 people were killed when the river burst its banks. "
             "The county said 300 homes had been destroyed.\n"
             "Schools across the district were closed on Tuesday.")
FLOOD_NEW = FLOOD_OLD.replace("at least 12", "at least 19")


def rebuild(ops, side: int) -> str:
    """The old text (side -1) or the new text (side 1) that a list of ops stands for."""
    return "".join(text for op, text in ops if op in (0, side))


def ops_of(alignment, name: str):
    return [s for s in alignment if s.op == name]


# --------------------------------------------------------------------------- split_sentences


@pytest.mark.parametrize("sentence", [
    "Dr. Smith said the clinic was full.",
    "The U.S. economy grew last year.",
    "Gen. Lee agreed with the plan.",
    "Output grew 3.5 percent in March.",
    "John F. Kennedy visited the town.",
    "He met J. R. R. Tolkien at Oxford.",
    "Mr. and Mrs. Smith arrived with Sen. Jones.",
])
def test_split_sentences_does_not_split_inside_abbreviations_decimals_or_initials(sentence):
    text = f"{sentence} Then it rained."

    assert split_sentences(text) == [sentence, "Then it rained."]


def test_split_sentences_splits_at_sentence_ends():
    text = 'It rose to 3. Then it fell! Why? She said "Stop." Then she left.'

    assert split_sentences(text) == ["It rose to 3.", "Then it fell!", "Why?", 'She said "Stop."', "Then she left."]


def test_split_sentences_always_splits_at_paragraph_breaks():
    text = "A heading without a full stop\nDr. Smith said so\nThe U.S.\nLast one."

    assert split_sentences(text) == ["A heading without a full stop", "Dr. Smith said so", "The U.S.", "Last one."]


def test_a_paragraph_two_versions_share_is_split_once():
    from pipeline.diff import _paragraph_sentences

    old = "The river rose. Crews worked all night.\nSchools stayed closed."
    _paragraph_sentences.cache_clear()
    assert split_sentences(old) == ["The river rose.", "Crews worked all night.", "Schools stayed closed."]
    assert split_sentences(old.replace("closed", "shut"))[:2] == ["The river rose.", "Crews worked all night."]
    assert (_paragraph_sentences.cache_info().hits, _paragraph_sentences.cache_info().misses) == (1, 3)


def test_split_sentences_of_empty_text_is_empty():
    assert split_sentences("") == []
    assert split_sentences("\n\n") == []


# --------------------------------------------------------------------------- align_sentences


def assert_covers_every_sentence_once(alignment, old, new):
    """Each old sentence appears exactly once as old, each new sentence once as new, with the right text."""
    assert sorted(i for s in alignment for i in s.old_indices) == list(range(len(old)))
    assert sorted(j for s in alignment for j in s.new_indices) == list(range(len(new)))
    for s in alignment:
        assert s.old == (" ".join(old[i] for i in s.old_indices) if s.old_indices else None)
        assert s.new == (" ".join(new[j] for j in s.new_indices) if s.new_indices else None)
        if len(s.old_indices) > 1 or len(s.new_indices) > 1:
            assert s.op == "edited"  # only an edited sentence splits or merges


def test_align_sentences_unchanged_texts():
    sentences = ["One.", "Two.", "Three."]

    alignment = align_sentences(sentences, list(sentences))

    assert [s.op for s in alignment] == ["unchanged"] * 3
    assert_covers_every_sentence_once(alignment, sentences, sentences)


def test_align_sentences_reordered_paragraphs_are_moved_not_added_and_deleted():
    old = split_sentences("The river burst its banks overnight. Crews worked until dawn.\n"
                          "Schools were closed on Tuesday. Route 9 stayed under water.")
    new = split_sentences("Schools were closed on Tuesday. Route 9 stayed under water.\n"
                          "The river burst its banks overnight. Crews worked until dawn.")

    alignment = align_sentences(old, new)

    assert_covers_every_sentence_once(alignment, old, new)
    assert len(ops_of(alignment, "moved")) == 2
    assert not ops_of(alignment, "added")
    assert not ops_of(alignment, "deleted")
    assert not ops_of(alignment, "edited")


def test_align_sentences_edited_added_and_deleted():
    old = ["At least 12 people were killed in the flood.", "The mayor spoke on Tuesday.",
           "Roads were closed across the district."]
    new = ["At least 19 people were killed in the flood.", "Roads were closed across the district.",
           "The Red Cross opened a shelter at the school."]

    alignment = align_sentences(old, new)

    assert_covers_every_sentence_once(alignment, old, new)
    edited, = ops_of(alignment, "edited")
    assert (edited.old, edited.new) == (old[0], new[0])
    deleted, = ops_of(alignment, "deleted")
    assert (deleted.old, deleted.new, deleted.new_index) == (old[1], None, None)
    added, = ops_of(alignment, "added")
    assert (added.old, added.new, added.old_index) == (None, new[2], None)
    unchanged, = ops_of(alignment, "unchanged")
    assert unchanged.new == "Roads were closed across the district."


def test_align_sentences_keeps_deleted_sentences_where_they_stood():
    old = ["First.", "Removed sentence here.", "Third."]
    new = ["First.", "Third."]

    alignment = align_sentences(old, new)

    assert [(s.op, s.old or s.new) for s in alignment] == [
        ("unchanged", "First."), ("deleted", "Removed sentence here."), ("unchanged", "Third.")]


def test_align_sentences_unrelated_sentence_is_not_an_edit():
    alignment = align_sentences(["The council met on Monday."], ["Forecasters expect more rain."])

    assert sorted(s.op for s in alignment) == ["added", "deleted"]


def test_align_sentences_of_empty_lists():
    assert align_sentences([], []) == []
    assert [s.op for s in align_sentences([], ["New."])] == ["added"]
    assert [s.op for s in align_sentences(["Old."], [])] == ["deleted"]


def _every_sentence_edited(count: int) -> tuple[list[str], list[str]]:
    # Most words of a sentence of real prose are rarer in the page than "the" and "said".
    old = [" ".join(["The", *(f"w{n}x{k}" for k in range(6)), "said", "the", *(f"v{n}y{k}" for k in range(6))]) + "."
           for n in range(count)]
    return old, [sentence.replace(" said ", " said on Monday ") for sentence in old]


def test_an_edited_sentence_is_scored_only_against_sentences_it_could_be_similar_to(monkeypatch):
    # Every pair sharing a word ("the") was scored: 40,000 pairs here, 11 s for 3,000 sentences of a live page.
    import pipeline.diff

    scored = []
    dice = pipeline.diff._dice
    monkeypatch.setattr(pipeline.diff, "_dice", lambda a, b: scored.append(1) or dice(a, b))
    old, new = _every_sentence_edited(200)
    alignment = align_sentences(old, new)

    assert [(s.op, s.old_indices, s.new_indices) for s in alignment] == [("edited", (n,), (n,)) for n in range(200)]
    assert len(scored) <= 2 * 200


SENTENCE = st.lists(st.sampled_from(["the", "council", "said", "toll", "rose", "to", "19", "40", "in", "Paris",
                                     "rain", "river", "a", "flood"]), min_size=1, max_size=9).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(SENTENCE, max_size=12), st.lists(SENTENCE, max_size=12))
def test_property_pairs_left_unscored_could_never_have_been_similar(old, new):
    # The same alignment as scoring every pair that shares any word.
    import pipeline.diff

    filtered = align_sentences(old, new)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline.diff, "_rarest", lambda bags: lambda bag: [(word, 0) for word in bag])
        every = align_sentences(old, new)

    assert filtered == every


# --------------------------------------------------------------------------- compare_versions


def test_compare_versions_reports_a_changed_headline():
    diff = compare_versions(FLOOD_OLD, FLOOD_OLD, "Flood kills 12", "Flood kills 19")

    headline, = [c for c in diff.changes if c.kind == "headline"]
    assert (headline.before, headline.after) == ("Flood kills 12", "Flood kills 19")


def test_compare_versions_same_headline_is_no_change():
    diff = compare_versions(FLOOD_OLD, FLOOD_OLD, "Flood kills 12", "Flood kills 12", "A. Writer", "A. Writer")

    assert diff.changes == ()
    assert all(op == 0 for op, _ in diff.ops)


def test_compare_versions_reports_a_changed_byline():
    diff = compare_versions(FLOOD_OLD, FLOOD_OLD, old_byline="Maya Lindqvist",
                            new_byline="Maya Lindqvist and Owen Pryce")

    byline, = diff.changes
    assert (byline.kind, byline.before, byline.after) == ("byline", "Maya Lindqvist", "Maya Lindqvist and Owen Pryce")


def test_compare_versions_reports_a_changed_figure_with_its_context_and_subject():
    diff = compare_versions(FLOOD_OLD, FLOOD_NEW)

    figure, = diff.changes
    assert figure.kind == "figure"
    assert (figure.before, figure.after) == ("at least 12", "at least 19")
    assert figure.context == "Rescuers said that at least 19 people were killed when the river burst its banks."
    assert figure.subject == "people killed"
    assert figure.significance == pytest.approx(7 / 12)
    assert diff.stats["figures_changed"] == 1
    assert diff.stats["sentences_edited"] == 1
    assert (diff.stats["words_added"], diff.stats["words_removed"]) == (1, 1)


def test_compare_versions_reports_an_added_correction():
    new = FLOOD_OLD + "\nCorrection: An earlier version of this story misstated the number of homes destroyed."

    diff = compare_versions(FLOOD_OLD, new)

    correction, = diff.changes
    assert correction.kind == "correction"
    assert correction.before is None
    assert correction.after.startswith("Correction: An earlier version of this story")
    assert diff.stats["sentences_added"] == 1


def test_compare_versions_reports_added_and_removed_sentences():
    old = FLOOD_OLD + " The mayor thanked the volunteers."
    new = FLOOD_OLD + "\nThe Red Cross opened a shelter at Harlow Bay High School."

    diff = compare_versions(old, new)

    kinds = sorted((c.kind, c.before, c.after) for c in diff.changes)
    assert kinds == [
        ("sentence_added", None, "The Red Cross opened a shelter at Harlow Bay High School."),
        ("sentence_removed", "The mayor thanked the volunteers.", None),
    ]
    assert diff.stats["sentences_added"] == 1
    assert diff.stats["sentences_deleted"] == 1
    assert diff.stats["words_added"] > 0
    assert diff.stats["words_removed"] > 0


def test_compare_versions_stats_count_words_added_and_removed():
    diff = compare_versions("Schools were closed today.", "Schools closed today after the storm.")

    assert diff.stats["words_added"] == 3
    assert diff.stats["words_removed"] == 1
    assert diff.stats["sentences_edited"] == 1


def test_compare_versions_words_added_does_not_count_punctuation():
    # Regression: at 22a891d the stats counted punctuation tokens as words (this gave 3).
    diff = compare_versions("Schools closed today.", "Schools closed today, officials said.")

    assert diff.stats["words_added"] == 2


def test_compare_versions_stats_count_moved_sentences():
    old = "First paragraph is here.\nSecond paragraph is there."
    new = "Second paragraph is there.\nFirst paragraph is here."

    diff = compare_versions(old, new)

    assert diff.stats["sentences_moved"] == 1
    assert diff.changes == ()
    assert rebuild(diff.ops, -1) == old
    assert rebuild(diff.ops, 1) == new


def test_compare_versions_on_every_demo_revision():
    """Every revision the demo newsroom publishes diffs into ops that rebuild both texts."""
    for story in load_stories():
        for old, new in zip(story.versions, story.versions[1:]):
            old_text = normalize_text("\n".join(old.paragraphs))
            new_text = normalize_text("\n".join(new.paragraphs))
            diff = compare_versions(old_text, new_text, old.title, new.title, old.byline, new.byline)
            assert rebuild(diff.ops, -1) == old_text
            assert rebuild(diff.ops, 1) == new_text
            assert diff.stats["figures_changed"] == sum(c.kind == "figure" for c in diff.changes)


def test_compare_versions_finds_the_demo_flood_toll_change():
    old, new = load_stories()[0].versions[:2]

    diff = compare_versions(normalize_text("\n".join(old.paragraphs)), normalize_text("\n".join(new.paragraphs)),
                            old.title, new.title, old.byline, new.byline)

    assert Counter(c.kind for c in diff.changes) == Counter({"headline": 1, "figure": 1})
    figure = next(c for c in diff.changes if c.kind == "figure")
    assert (figure.before, figure.after, figure.subject) == ("at least 12", "at least 19", "people killed")


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
def test_property_alignment_covers_every_sentence_once(old_text, new_text):
    old, new = split_sentences(old_text), split_sentences(new_text)

    alignment = align_sentences(old, new)

    assert_covers_every_sentence_once(alignment, old, new)
    assert sum(len(s.old_indices) + len(s.new_indices) for s in alignment) == len(old) + len(new)


@PROPERTY_SETTINGS
@given(TEXTS, TEXTS)
def test_property_compare_versions_stats_match_the_alignment(old_text, new_text):
    diff = compare_versions(old_text, new_text)

    assert rebuild(diff.ops, -1) == old_text
    assert rebuild(diff.ops, 1) == new_text
    assert diff.stats["figures_changed"] == sum(c.kind == "figure" for c in diff.changes)
    assert diff.stats["sentences_deleted"] == sum(c.kind == "sentence_removed" for c in diff.changes)
    # Sentences of a new notice are told by one correction change, so added sentences may outnumber changes.
    assert diff.stats["sentences_added"] >= sum(c.kind == "sentence_added" for c in diff.changes)


# --------------------------------------------------------------------------- news prose: more sentence splitting


@pytest.mark.parametrize(("text", "sentences"), [
    # Datelines stay with their sentence.
    ("WASHINGTON (AP) - The Senate voted 51-49 on Tuesday. The bill now goes to the House.",
     ["WASHINGTON (AP) - The Senate voted 51-49 on Tuesday.", "The bill now goes to the House."]),
    ("HARLOW BAY, Calif. - Rescuers worked through the night. Nine people were found.",
     ["HARLOW BAY, Calif. - Rescuers worked through the night.", "Nine people were found."]),
    # Months and "No." before a number are abbreviations; "no." before a capital ends a sentence.
    ("The vote is on Jan. 6 in Room No. 5 of the hall. It is open.",
     ["The vote is on Jan. 6 in Room No. 5 of the hall.", "It is open."]),
    ("The answer was no. Then the talks ended.", ["The answer was no.", "Then the talks ended."]),
    # Times: "p.m." ends a sentence before a capitalised word, but not before a time zone.
    ("The polls closed at 8 p.m. Officials began counting.", ["The polls closed at 8 p.m.", "Officials began counting."]),
    ("The polls closed at 8 p.m. ET on Tuesday. Counting began.",
     ["The polls closed at 8 p.m. ET on Tuesday.", "Counting began."]),
    # Titles, ranks and country abbreviations before a name do not end a sentence.
    ("The U.S. Army and Lt. Gen. Ruiz agreed. Prof. Ito did not.",
     ["The U.S. Army and Lt. Gen. Ruiz agreed.", "Prof. Ito did not."]),
    ("She fell ill. Doctors were called.", ["She fell ill.", "Doctors were called."]),
    # Quotes: a sentence may end inside them, and a quotation may run over two sentences.
    ('"We will rebuild. We always do," she said. The crowd cheered.',
     ['"We will rebuild.', 'We always do," she said.', "The crowd cheered."]),
    ('"Is it over?" she asked. Nobody answered.', ['"Is it over?" she asked.', "Nobody answered."]),
    # Numbers with full stops, ellipses, and a sentence that starts with a number.
    ("Output grew 3.5 percent. 12 firms closed.", ["Output grew 3.5 percent.", "12 firms closed."]),
    ("He paused... Then he went on.", ["He paused...", "Then he went on."]),
    # Chinese and Japanese sentences end at their own full stops, with no space after.
    ("地震が発生した。津波注意報が出された。", ["地震が発生した。", "津波注意報が出された。"]),
])
def test_split_sentences_in_news_prose(text, sentences):
    assert split_sentences(text) == sentences


# --------------------------------------------------------------------------- alignment: each sentence operation


def the_op(alignment, name):
    found, = ops_of(alignment, name)
    return found


def test_alignment_of_a_sentence_split_in_two():
    old = ["The council approved the budget on Tuesday, and the mayor said taxes would not rise.",
           "Schools reopen next week."]
    new = ["The council approved the budget on Tuesday.", "The mayor said taxes would not rise.",
           "Schools reopen next week."]

    alignment = align_sentences(old, new)

    assert_covers_every_sentence_once(alignment, old, new)
    split = the_op(alignment, "edited")
    assert (split.old_indices, split.new_indices, split.shape) == ((0,), (0, 1), "split")
    assert rebuild(split.ops, -1) == old[0] and rebuild(split.ops, 1) == " ".join(new[:2])
    assert not ops_of(alignment, "added") and not ops_of(alignment, "deleted")


def test_alignment_of_two_sentences_merged_into_one():
    old = ["Rescuers found nine people.", "All of them were taken to hospital in Harlow Bay.", "Roads stay closed."]
    new = ["Rescuers found nine people, all of whom were taken to hospital in Harlow Bay.", "Roads stay closed."]

    alignment = align_sentences(old, new)

    assert_covers_every_sentence_once(alignment, old, new)
    merged = the_op(alignment, "edited")
    assert (merged.old_indices, merged.new_indices, merged.shape) == ((0, 1), (0,), "merged")
    assert not ops_of(alignment, "added") and not ops_of(alignment, "deleted")


def test_alignment_does_not_take_an_unrelated_new_neighbour_for_half_a_split():
    old = ["The council approved the budget on Tuesday after a long debate."]
    new = ["The council approved the budget on Tuesday after a short debate.", "Forecasters expect snow."]

    alignment = align_sentences(old, new)

    assert the_op(alignment, "edited").shape == "one"
    assert the_op(alignment, "added").new == "Forecasters expect snow."


def test_alignment_of_a_moved_and_an_unchanged_sentence():
    old = ["First point.", "Second point here.", "Third point there."]
    new = ["Third point there.", "First point.", "Second point here."]

    alignment = align_sentences(old, new)

    assert [s.op for s in alignment] == ["moved", "unchanged", "unchanged"]


def test_alignment_carries_the_word_diff_of_an_edited_sentence():
    alignment = align_sentences(["At least 12 people were killed in the flood."],
                                ["At least 19 people were killed in the flood."])

    edited = the_op(alignment, "edited")
    assert (-1, "12") in edited.ops and (1, "19") in edited.ops
    assert all(not s.ops for s in alignment if s.op != "edited")


def test_alignment_pairs_repeated_similar_sentences_in_order():
    old = ["Crews closed Route 9 at noon.", "Crews closed Route 12 at noon."]
    new = ["Crews closed Route 9 at 1 pm.", "Crews closed Route 12 at 1 pm."]

    alignment = align_sentences(old, new)

    assert [(s.old_index, s.new_index) for s in alignment] == [(0, 0), (1, 1)]


# --------------------------------------------------------------------------- each change kind


def page(text=FLOOD_OLD, **metadata):
    return Extracted(text=text, **metadata)


def kinds(diff):
    return [c.kind for c in diff.changes]


def test_compare_pages_reports_published_and_modified_dates():
    diff = compare_pages(page(published="2025-03-11T05:42:00+00:00", modified="2025-03-11T05:42:00+00:00"),
                         page(published="2025-03-10T05:42:00+00:00", modified="2025-03-11T09:15:00+00:00"))

    assert [(c.kind, c.before, c.after) for c in diff.changes] == [
        ("published", "2025-03-11T05:42:00+00:00", "2025-03-10T05:42:00+00:00"),
        ("modified", "2025-03-11T05:42:00+00:00", "2025-03-11T09:15:00+00:00"),
    ]


def test_compare_pages_ignores_a_date_the_page_stopped_or_started_giving():
    diff = compare_pages(page(modified="2025-03-11T05:42:00+00:00"), page(modified=None))

    assert diff.changes == ()


def test_compare_pages_reports_an_edited_correction_notice():
    old = FLOOD_OLD + "\nCorrection: An earlier version of this story gave the wrong day."
    new = FLOOD_OLD + "\nCorrection: An earlier version of this story gave the wrong day and the wrong toll."

    correction, = compare_pages(page(old), page(new)).changes

    assert correction.kind == "correction"
    assert (correction.before, correction.after) == (old.split("\n")[-1], new.split("\n")[-1])


def test_a_notice_of_two_sentences_is_one_correction_change():
    notice = "Correction: An earlier version of this story gave the wrong toll. It is 19, not 12."

    diff = compare_pages(page(), page(FLOOD_OLD + "\n" + notice))

    assert [(c.kind, c.before, c.after) for c in diff.changes] == [("correction", None, notice)]
    assert diff.stats["sentences_added"] == 2


def test_a_notice_inside_a_paragraph_is_only_its_own_sentence():
    paragraph = "The mayor spoke to reporters on Tuesday. This story has been updated to add her remarks."

    diff = compare_pages(page(), page(FLOOD_OLD + "\n" + paragraph))

    assert [(c.kind, c.after) for c in diff.changes] == [
        ("correction", "This story has been updated to add her remarks."),
        ("sentence_added", "The mayor spoke to reporters on Tuesday.")]


def test_a_removed_notice_is_a_removed_sentence():
    notice = "\nCorrection: An earlier version of this story gave the wrong day."

    diff = compare_pages(page(FLOOD_OLD + notice), page())

    assert [(c.kind, c.before) for c in diff.changes] == [("sentence_removed", notice.strip())]


def test_compare_pages_reports_a_changed_quote():
    old = '"We have never seen the river move this fast," said Deputy Fire Chief Anita Osei.'
    new = '"We have never seen the river rise this fast," said Deputy Fire Chief Anita Osei.'

    quote, = compare_pages(page(old), page(new)).changes

    assert (quote.kind, quote.before, quote.after) == (
        "quote", "We have never seen the river move this fast,", "We have never seen the river rise this fast,")
    assert quote.context == new


def test_compare_pages_reports_a_quote_added_to_a_sentence():
    old = "The mayor thanked the volunteers on Tuesday."
    new = 'The mayor thanked the volunteers on Tuesday, calling them "the best of Harlow Bay".'

    assert [(c.kind, c.before, c.after) for c in compare_pages(page(old), page(new)).changes] == [
        ("quote", None, "the best of Harlow Bay")]


def test_compare_pages_does_not_report_a_quote_whose_words_stayed_the_same():
    old = 'She said "we will rebuild." The crowd cheered loudly on Tuesday.'
    new = 'She said "we will rebuild," and the crowd cheered loudly on Tuesday.'

    assert "quote" not in kinds(compare_pages(page(old), page(new)))


def test_compare_pages_reports_a_british_single_quoted_quote():
    old = "'We have done all we can,' the minister told reporters on Tuesday."
    new = "'We have done everything we could,' the minister told reporters on Tuesday."

    quote, = compare_pages(page(old), page(new)).changes

    assert (quote.before, quote.after) == ("We have done all we can,", "We have done everything we could,")


def test_find_quotes_keeps_apostrophes_out_of_quotes():
    assert find_quotes("It's the council's plan, isn't it?") == []


def test_compare_pages_reports_figures_in_a_sentence_that_split():
    old = "At least 12 people were killed, and 300 homes were destroyed in the flood."
    new = "At least 19 people were killed. In all, 300 homes were destroyed in the flood."

    diff = compare_pages(page(old), page(new))

    assert [(c.kind, c.before, c.after) for c in diff.changes] == [("figure", "At least 12", "At least 19")]
    assert diff.stats["sentences_split"] == 1


# --------------------------------------------------------------------------- disclosed or stealth


def test_an_edit_without_notice_banner_or_newer_date_is_stealth():
    diff = compare_pages(page(modified="2025-03-11T05:42:00+00:00"),
                         page(FLOOD_NEW, modified="2025-03-11T05:42:00+00:00"))

    assert (diff.disclosed, diff.bumped, diff.disclosure, diff.disclosures) == (False, False, "stealth", ())


def test_a_new_notice_discloses_the_edit():
    diff = compare_pages(page(), page(FLOOD_NEW + "\nThis story has been updated with the latest toll."))

    assert diff.disclosed
    assert diff.disclosures == ("notice: This story has been updated with the latest toll.",)


def test_a_notice_already_there_does_not_disclose_a_later_edit():
    notice = "\nCorrection: An earlier version of this story gave the wrong day."

    assert not compare_pages(page(FLOOD_OLD + notice), page(FLOOD_NEW + notice)).disclosed


def test_a_later_date_modified_only_bumps_the_timestamp():
    # A timestamp says that something changed, not what: its own state between disclosed and stealth.
    diff = compare_pages(page(modified="2025-03-11T05:42:00+00:00"),
                         page(FLOOD_NEW, modified="2025-03-11T09:15:00+00:00"))

    assert diff.disclosures == ("dateModified: 2025-03-11T05:42:00+00:00 -> 2025-03-11T09:15:00+00:00",)
    assert (diff.disclosed, diff.bumped, diff.disclosure) == (False, True, "timestamp")


def test_a_date_modified_newer_than_the_publication_bumps_when_there_was_none_before():
    diff = compare_pages(page(published="2025-03-11T05:42:00+00:00"),
                         page(FLOOD_NEW, published="2025-03-11T05:42:00+00:00", modified="2025-03-11T09:15:00Z"))

    assert diff.disclosure == "timestamp"


def test_a_new_update_banner_bumps_the_timestamp_but_a_relative_one_ticking_on_does_not():
    bumped = compare_pages(page(banner="Updated 11 March 2025, 05:42 UTC"),
                           page(FLOOD_NEW, banner="Updated 11 March 2025, 09:15 UTC"))
    assert bumped.disclosures == ("update banner: Updated 11 March 2025, 09:15 UTC",)
    assert bumped.disclosure == "timestamp"
    assert compare_pages(page(), page(FLOOD_NEW, banner="Updated 5 minutes ago")).disclosure == "timestamp"
    assert compare_pages(page(banner="Updated 2 hours ago"),
                         page(FLOOD_NEW, banner="Updated 3 hours ago")).disclosure == "stealth"


def test_a_banner_that_says_what_changed_discloses_the_edit():
    diff = compare_pages(page(), page(FLOOD_NEW, banner="Updated to include the latest toll from the fire service"))
    assert diff.disclosure == "disclosed"


@pytest.mark.parametrize("line, says", [
    ("Correction: An earlier version of this story gave the wrong day.", True),
    ("Clarification: The council, not the mayor, approved the plan.", True),
    ("Editor's note: This story has been updated to reflect the new toll.", True),
    ("This story has been updated to include comment from the mayor.", True),
    ("This story has been updated with the latest figures from the county.", True),
    ("Update: Rescuers found two more survivors on Tuesday evening.", True),
    ("An earlier version of this article misstated the toll.", True),
    ("This story has been updated.", False),
    ("This article was updated.", False),
    ("Updated 11 March 2025, 09:15 UTC", False),
    ("Update: March 11, 2025 at 9:15 am", False),
    ("UPDATED: Tue, 11 Mar 2025 09:15 GMT", False),
])
def test_says_what_changed(line, says):
    assert says_what_changed(line) is says


def test_a_bare_update_notice_only_bumps_the_timestamp():
    diff = compare_pages(page(), page(FLOOD_NEW + "\nThis story has been updated."))
    assert (diff.disclosure, diff.disclosures) == ("timestamp", ("notice: This story has been updated.",))


# --------------------------------------------------------------------------- statistics


def test_stats_count_words_edited_and_moved_and_sentences_split_and_merged():
    old = ("The storm reached the coast overnight.\nPower failed across the valley.\n"
           "The council approved the budget on Tuesday, and the mayor said taxes would not rise.\n"
           "Rescuers found nine people.\nAll of them were taken to hospital in Harlow Bay.\n"
           "Schools reopen next week.")
    new = ("Schools reopen next week.\n"
           "The storm reached the coast overnight.\nPower failed across the valley.\n"
           "The council approved the budget on Tuesday. The mayor said taxes would not rise.\n"
           "Rescuers found nine people, all of whom were taken to hospital in Harlow Bay.")

    stats = compare_pages(page(old), page(new)).stats

    assert (stats["sentences_split"], stats["sentences_merged"], stats["sentences_moved"]) == (1, 1, 1)
    assert stats["words_moved"] == 4
    assert stats["sentences_edited"] == 2 and stats["sentences_unchanged"] == 2


def test_stats_words_edited_counts_replaced_words_only():
    stats = compare_versions("The council approved the plan.", "The council rejected the plan today.").stats

    assert (stats["words_edited"], stats["words_removed"], stats["words_added"]) == (1, 1, 2)


# --------------------------------------------------------------------------- more properties

SENTENCES = st.lists(st.sampled_from(["the", "toll", "rose", "to", "40,000", "people", "river", "said", "U.S.",
                                      "Dr.", "1.5", "\"quoted\"", "it's", "flood", "mayor", "on", "Tuesday"]),
                     min_size=1, max_size=8).map(lambda words: "Report " + " ".join(words) + ".")
PARAGRAPHS = st.lists(st.lists(SENTENCES, min_size=1, max_size=3).map(" ".join), min_size=2, max_size=7, unique=True)


@PROPERTY_SETTINGS
@given(TEXTS)
def test_property_comparing_a_page_with_itself_finds_nothing(text):
    diff = compare_pages(page(text), page(text))

    assert diff.changes == ()
    assert all(op == 0 for op, _ in diff.ops)
    assert all(s.op == "unchanged" for s in diff.sentences)
    assert not diff.disclosed
    assert all(diff.stats[k] == 0 for k in diff.stats if k != "sentences_unchanged")


@PROPERTY_SETTINGS
@given(PARAGRAPHS.flatmap(lambda paragraphs: st.tuples(st.just(paragraphs), st.permutations(paragraphs))))
def test_property_reordered_paragraphs_are_moved_never_added_or_deleted(paragraphs):
    old_paragraphs, new_paragraphs = paragraphs
    old, new = "\n".join(old_paragraphs), "\n".join(new_paragraphs)

    diff = compare_pages(page(old), page(new))

    assert {s.op for s in diff.sentences} <= {"unchanged", "moved"}
    assert diff.changes == ()
    assert_covers_every_sentence_once(list(diff.sentences), split_sentences(old), split_sentences(new))
    if old != new:
        assert diff.stats["sentences_moved"] > 0


@PROPERTY_SETTINGS
@given(TEXTS, TEXTS)
def test_property_each_edited_sentence_carries_a_word_diff_that_rebuilds_it(old_text, new_text):
    for sentence in align_sentences(split_sentences(old_text), split_sentences(new_text)):
        if sentence.op == "edited":
            assert rebuild(sentence.ops, -1) == sentence.old
            assert rebuild(sentence.ops, 1) == sentence.new
        else:
            assert sentence.ops == ()
        if sentence.op in ("unchanged", "moved"):
            assert sentence.old == sentence.new


@PROPERTY_SETTINGS
@given(st.lists(SENTENCES, min_size=1, max_size=12), st.data())
def test_property_editing_some_sentences_keeps_the_rest_unchanged_or_moved(sentences, data):
    old = "\n".join(sentences)
    edited = data.draw(st.sets(st.integers(0, len(sentences) - 1)))
    new = "\n".join(s.replace("Report", "Reported") if k in edited else s for k, s in enumerate(sentences))

    diff = compare_pages(page(old), page(new))

    assert_covers_every_sentence_once(list(diff.sentences), split_sentences(old), split_sentences(new))
    assert not {s.op for s in diff.sentences} & {"added", "deleted"}


def test_find_stealth_edit_sums_up_an_undisclosed_edit():
    stealth = find_stealth_edit(compare_pages(page(title="Flood kills 12"),
                                              page(FLOOD_NEW + "\nRoads reopened on Friday.", title="Flood kills 19")))

    assert (stealth.kind, stealth.before) == ("stealth_edit", None)
    assert stealth.after == "changed without notice: headline, 1 sentence(s) edited, 1 sentence(s) added"
    assert stealth.context == FLOOD_NEW.split("\n")[0].split(". ")[0] + "."


def test_find_stealth_edit_is_none_for_a_disclosed_or_bumped_edit_or_a_move():
    disclosed = compare_pages(page(), page(FLOOD_NEW + "\nThis story has been updated with the latest toll."))
    bumped = compare_pages(page(), page(FLOOD_NEW + "\nThis story has been updated."))
    moved = compare_pages(page("One is here.\nTwo is there."), page("Two is there.\nOne is here."))

    assert find_stealth_edit(disclosed) is None and find_stealth_edit(bumped) is None
    assert find_stealth_edit(moved) is None


# --------------------------------------------------------------------------- other languages (issue 12)


@pytest.mark.parametrize("language, text, expected", [
    ("de", "Am 3. März wurden 40 Verletzte gezählt. Die Polizei ermittelt.", 2),
    ("de", "Der Schaden liegt bei ca. 2 Mio. Euro. Das sagte Dr. Weber bzw. sein Sprecher.", 2),
    ("de", "Es starben 12. Die Polizei ermittelt.", 2),
    ("fr", "M. Dupont a parlé. Mme Martin aussi.", 2),
    ("es", "Lo dijo la Sra. García. ¿Qué pasará ahora? ¡Nadie lo sabe!", 3),
    ("es", "Viajó a EE.UU. con el Dr. Pérez.", 1),
])
def test_split_sentences_knows_each_languages_abbreviations_and_ordinals(language, text, expected):
    assert len(split_sentences(text, language)) == expected


def test_compare_pages_reads_a_page_in_its_own_language():
    old = Extracted("Die Quote lag bei 5,8 Prozent. Am 3. März wurde gewählt.", language="de")
    new = Extracted("Die Quote lag bei 6,1 Prozent. Am 3. März wurde gewählt.", language="de")

    figures = [(c.before, c.after) for c in compare_pages(old, new).changes if c.kind == "figure"]

    assert figures == [("5,8 Prozent", "6,1 Prozent")]
    # Read as English, "5,8" is no number at all.
    english = replace(new, language=None)
    assert [(c.before, c.after) for c in compare_pages(old, english).changes if c.kind == "figure"] != figures


def test_compare_versions_guesses_the_language_of_plain_texts():
    old = "Die Polizei teilte mit, dass 2,5 Millionen Euro für die Opfer gesammelt wurden. Das ist nicht wenig."
    new = old.replace("2,5", "3,5")

    change, = [c for c in compare_versions(old, new).changes if c.kind == "figure"]

    assert (change.before, change.after, change.delta) == ("2,5 Millionen Euro", "3,5 Millionen Euro", 1e6)


@pytest.mark.parametrize("line, says", [
    ("Korrektur: In einer früheren Version hieß es, es habe 12 Tote gegeben.", True),
    ("Dieser Artikel wurde um eine Stellungnahme des Bürgermeisters ergänzt.", True),
    ("Aktualisiert: 3. März 2025, 14:30 Uhr", False),
    ("Rectificatif : le bilan est de 12 morts, et non 21.", True),
    ("Mise à jour : 3 mars 2025 à 14h30", False),
    ("Fe de errores: la cifra correcta es 1.200 euros.", True),
    ("Actualización: el Ayuntamiento ha elevado la cifra de heridos.", True),
    ("Una versión anterior de esta noticia decía que había 12 heridos.", True),
])
def test_notices_in_other_languages_say_what_changed_or_only_that_it_did(line, says):
    assert find_notices(line) == (line,)
    assert says_what_changed(line) is says
