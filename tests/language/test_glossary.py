"""The shared glossary: the shipped one validates; a broken one is refused by term
and field; digest and diff; and the spans of its terms in English and Chinese text."""

from __future__ import annotations

import copy
import itertools
import json
from importlib import resources
from typing import Any

import pytest

from hotline.language import glossary as gl
from hotline.language.errors import InvalidDocument, Reason
from hotline.language.glossary import diff, find_terms, parse_glossary

SHIPPED = gl.shipped_glossary()


def document() -> dict[str, Any]:
    path = resources.files("hotline.language").joinpath("data", "glossary.json")
    loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return loaded


def term_in(doc: dict[str, Any], term_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in doc["terms"] if t["id"] == term_id)
    return found


def refused(doc: dict[str, Any]) -> list[tuple[str, str, Reason]]:
    with pytest.raises(InvalidDocument) as error:
        parse_glossary(doc)
    return [(p.where, p.field, p.reason) for p in error.value.problems]


def spans(text: str, languages: list[str] | None = None) -> list[tuple[str, str]]:
    return [(s.matched, s.term) for s in find_terms(SHIPPED, text, languages)]


def test_the_shipped_glossary_validates_with_at_least_25_terms_both_sides_each() -> None:
    assert len(SHIPPED.terms) >= 25
    assert set(SHIPPED.sides) == {"us", "cn"}
    for term in SHIPPED.terms.values():
        assert set(term.sides) == {"us", "cn"}
        assert (term.difference is not None) == term.differs
    assert any(t.differs for t in SHIPPED.terms.values())
    assert any(not t.differs for t in SHIPPED.terms.values())
    assert "starting point" in SHIPPED.note["en"]


def test_english_terms_match_whole_words_ignoring_case_longest_first() -> None:
    text = (
        "Close-in reconnaissance inside the Exclusive Economic Zone is no provocation; "
        "the EEZ regime and crisis communication in a crisis."
    )
    assert spans(text, ["en"]) == [
        ("Close-in reconnaissance", "reconnaissance"),
        ("Exclusive Economic Zone", "exclusive-economic-zone"),
        ("provocation", "provocation"),
        ("EEZ", "exclusive-economic-zone"),
        ("crisis communication", "crisis-communication"),
        ("crisis", "crisis"),
    ]
    # Inside a longer word there is no term.
    assert spans("crisisless unprovocative deterrents", ["en"]) == []


def test_a_term_split_over_a_line_break_still_matches() -> None:
    assert spans("freedom of\nnavigation", ["en"]) == [
        ("freedom of\nnavigation", "freedom-of-navigation")
    ]


def test_chinese_terms_match_as_substrings_longest_first() -> None:
    text = "贵方在我专属经济区的抵近侦察是挑衅行为，我方主张危机管控，避免危机。"
    assert spans(text, ["zh-Hans"]) == [
        ("专属经济区", "exclusive-economic-zone"),
        ("抵近侦察", "reconnaissance"),
        ("挑衅", "provocation"),
        ("危机管控", "crisis-communication"),
        ("危机", "crisis"),
    ]


def test_spans_say_which_sides_use_the_form_and_never_overlap() -> None:
    found = find_terms(SHIPPED, "Close-in reconnaissance and surveillance and reconnaissance.")
    assert [(s.matched, s.sides) for s in found] == [
        ("Close-in reconnaissance", ("cn",)),
        ("surveillance and reconnaissance", ("us",)),
    ]
    for first, second in itertools.pairwise(found):
        assert first.end <= second.start


def test_the_longest_candidate_wins_even_when_a_shorter_one_starts_earlier() -> None:
    doc = document()
    doc["terms"] = [
        copy.deepcopy(term_in(doc, "territorial-sea")),
        copy.deepcopy(term_in(doc, "crisis")),
    ]
    # "sea crisis management" is longer than "territorial sea", which starts earlier
    # and overlaps it, and than "crisis" inside it.
    doc["terms"][1]["sides"]["us"]["aliases"]["en"] = ["sea crisis management"]
    glossary = parse_glossary(doc)
    found = [(s.matched, s.term) for s in glossary.find_terms("territorial sea crisis management")]
    assert found == [("sea crisis management", "crisis")]


def test_a_missing_language_in_a_definition_is_refused_naming_term_and_field() -> None:
    doc = document()
    del term_in(doc, "provocation")["sides"]["cn"]["definition"]["zh-Hans"]
    assert refused(doc) == [("provocation", "sides.cn.definition.zh-Hans", Reason.MISSING_LANGUAGE)]


def test_a_missing_side_a_duplicate_id_and_a_form_of_two_terms_are_refused() -> None:
    doc = document()
    del term_in(doc, "deterrence")["sides"]["us"]
    assert refused(doc) == [("deterrence", "sides.us", Reason.MISSING_LANGUAGE)]
    doc = document()
    doc["terms"].append(copy.deepcopy(term_in(doc, "warship")))
    assert refused(doc) == [("warship", "id", Reason.DUPLICATE_ID)]
    doc = document()
    term_in(doc, "warship")["sides"]["us"]["aliases"]["en"].append("coast guard")
    assert refused(doc) == [("coast-guard", "forms.en", Reason.DUPLICATE_ID)]


def test_a_term_that_differs_must_say_how() -> None:
    doc = document()
    del term_in(doc, "crisis")["difference"]
    assert refused(doc) == [("crisis", "difference", Reason.MALFORMED)]


def test_the_digest_follows_definitions_not_layout() -> None:
    doc = document()
    doc["terms"].reverse()
    relaid = json.loads(json.dumps(doc, indent=1, sort_keys=True))
    assert parse_glossary(relaid).digest() == SHIPPED.digest()
    term_in(doc, "sovereignty")["sides"]["cn"]["definition"]["en"] += " "
    assert parse_glossary(doc).digest() != SHIPPED.digest()


def test_diff_lists_terms_and_fields_that_changed() -> None:
    doc = document()
    doc["version"] = 2
    term_in(doc, "warship")["differs"] = True
    term_in(doc, "warship")["difference"] = {"en": "Now they differ.", "zh-Hans": "现在有分歧。"}
    term_in(doc, "crisis")["sides"]["us"]["notes"] = {"en": "A note.", "zh-Hans": "一条说明。"}
    doc["terms"] = [t for t in doc["terms"] if t["id"] != "status-quo"]
    new_term = copy.deepcopy(term_in(doc, "sovereignty"))
    new_term["id"] = "sovereign-rights"
    for side in new_term["sides"].values():
        side["term"] = {"en": "sovereign rights", "zh-Hans": "主权权利"}
    doc["terms"].append(new_term)
    change = diff(SHIPPED, parse_glossary(doc))
    assert change.added == ("sovereign-rights",)
    assert change.removed == ("status-quo",)
    assert {c.id: c.fields for c in change.changed} == {
        "warship": ("difference", "differs"),
        "crisis": ("sides.us.notes",),
    }
    assert diff(SHIPPED, SHIPPED).empty
