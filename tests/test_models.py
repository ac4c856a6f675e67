"""The records' decorator: a frozen dataclass whose equality, hash and repr behave as dataclass's own."""

import copy
import inspect
import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from pipeline.extract import count_words
from pipeline.models import Change, Extracted, Version, record


@record
class Pair:
    name: str
    value: int = 0
    notes: dict = field(default_factory=dict, hash=False, compare=False)
    secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class PlainPair:
    name: str
    value: int = 0
    notes: dict = field(default_factory=dict, hash=False, compare=False)
    secret: str = field(default="", repr=False)


def test_a_record_is_a_frozen_dataclass():
    pair = Pair("a", 1)
    assert dataclasses.is_dataclass(pair)
    for frozen in (pair, PlainPair("a", 1)):  # as dataclass's own: no field set or deleted, no attribute added
        with pytest.raises(dataclasses.FrozenInstanceError):
            frozen.value = 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            frozen.added = 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            del frozen.value
    assert (pair.name, pair.value) == ("a", 1)
    assert dataclasses.replace(pair, value=2) == Pair("a", 2)
    assert pickle.loads(pickle.dumps(pair)) == copy.copy(pair) == pair


@pytest.mark.parametrize("one, other", [
    (("a", 1), ("a", 1)),
    (("a", 1), ("a", 2)),
    (("a", 1, {"x": 1}), ("a", 1, {"y": 2})),  # a field left out of comparison
    (("a", 1, {}, "s"), ("a", 1, {}, "t")),  # a field left out of repr still counts
])
def test_equality_hash_and_repr_are_dataclass_s(one, other):
    ours, theirs = (Pair(*one), Pair(*other)), (PlainPair(*one), PlainPair(*other))
    assert (ours[0] == ours[1]) is (theirs[0] == theirs[1])
    assert (ours[0] != ours[1]) is (theirs[0] != theirs[1])
    if ours[0] == ours[1]:
        assert hash(ours[0]) == hash(ours[1])
    assert repr(ours[0]) == repr(theirs[0]).replace("PlainPair", "Pair")


def test_records_of_two_classes_are_never_equal():
    assert Pair("a", 1) != PlainPair("a", 1)
    assert Pair("a", 1).__eq__(PlainPair("a", 1)) is NotImplemented


def test_equal_records_hash_alike_and_serve_as_keys():
    change = Change("figure_changed", "5", "7", subject="dead")
    assert {change: 1}[Change("figure_changed", "5", "7", subject="dead")] == 1
    assert len({change, Change("figure_changed", "5", "8", subject="dead")}) == 2


def test_a_project_record_reads_as_its_fields():
    text = repr(Change("sentence_added", None, "A new line."))
    assert text.startswith("Change(kind='sentence_added', before=None, after='A new line.', context=None")
    assert [f.name for f in dataclasses.fields(Version)][:2] == ["article_id", "number"]


def test_records_of_one_field_or_none_compared_still_compare_and_hash():
    @record
    class One:
        value: int

    @record
    class Uncompared:
        note: str = field(default="", compare=False)

    assert One(1) == One(1) != One(2) and hash(One(1)) == hash(One(1))
    assert Uncompared("a") == Uncompared("b") and hash(Uncompared("a")) == hash(Uncompared("b"))
    assert repr(One(1)) == "test_records_of_one_field_or_none_compared_still_compare_and_hash.<locals>.One(value=1)"


def test_a_page_counts_its_words_once_as_extraction_counts_them():
    page = Extracted("At least 40,000 people fled; 12 were hurt.\nO'Brien said so.")
    assert page.words == count_words(page.text) == 11
    assert "words" in vars(page) and page == Extracted(page.text)  # kept, and not a field compared or shown
    assert "words" not in repr(page)


def test_a_record_s_init_is_compiled_when_it_is_first_made_and_then_is_dataclass_s():
    @record
    class Late:
        name: str
        notes: dict = field(default_factory=dict)
        value: int = 3

    deferred = Late.__init__
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'name'"):
        Late()  # the first call compiles it, and fails as dataclass's would
    compiled = Late.__init__
    assert compiled is not deferred
    assert Late.__init__.__qualname__ == f"{Late.__qualname__}.__init__"
    one, other = Late("a"), Late(name="b", value=4)
    assert (one.notes, one.value, other.value) == ({}, 3, 4) and one.notes is not other.notes
    assert list(inspect.signature(Late).parameters) == ["name", "notes", "value"]
    assert Late.__init__ is compiled  # once


def test_the_records_loaded_at_every_start_have_evaluated_annotations():
    # dataclass parses a string annotation to see whether it names ClassVar: 11 million instructions a start for
    # the fields of these three modules. A forward reference stays a string.
    import importlib

    strings = [f"{cls.__name__}.{f.name}" for module in ("pipeline.models", "pipeline.config", "pipeline.figures")
               for cls in vars(importlib.import_module(module)).values()
               if inspect.isclass(cls) and dataclasses.is_dataclass(cls) for f in dataclasses.fields(cls)
               if isinstance(f.type, str)]
    assert strings == ["Verdict.previous"]


def test_every_dataclass_of_the_project_has_a_docstring_of_its_own():
    # Without one, dataclass writes one from inspect.signature as the module is imported (3 ms the first time
    # in a process, for the tokenizer's regex).
    import importlib
    import pkgutil

    written = []
    for package in ("pipeline", "storage"):
        for module_info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            module = importlib.import_module(module_info.name)
            written += [f"{module.__name__}.{name}" for name, cls in vars(module).items()
                        if inspect.isclass(cls) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
                        and (cls.__doc__ or "").startswith(f"{cls.__name__}(")]
    assert written == []
