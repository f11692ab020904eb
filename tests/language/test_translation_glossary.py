"""Glossary protection: terms become placeholders and come back as their agreed renderings."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.language.translation.glossary import ProtectedTerm, protect, restore

# A small alphabet, so that generated terms occur in generated texts, with the letters of the
# placeholders' markers in it, so that texts collide with them.
ALPHABET = "aEZHLTQX 1.收到区经济专"
texts = st.text(alphabet=ALPHABET, max_size=40)
terms = st.lists(
    st.text(alphabet=ALPHABET, min_size=1, max_size=5).filter(str.strip), max_size=4
).map(lambda sources: [ProtectedTerm(s, s) for s in sources])


@given(texts, terms)
def test_terms_rendered_as_themselves_restore_to_the_original_text(
    text: str, protected_terms: list[ProtectedTerm]
) -> None:
    protected = protect(text, protected_terms)
    restored, missing = restore(protected.text, protected)
    assert restored == text
    assert missing == ()


@given(texts, terms)
def test_the_protected_text_keeps_no_occurrence_the_engine_could_translate(
    text: str, protected_terms: list[ProtectedTerm]
) -> None:
    protected = protect(text, protected_terms)
    # Each occurrence is one placeholder, and the marker occurs nowhere in the original.
    assert protected.marker.casefold() not in text.casefold()
    assert protected.text.count(protected.marker) == len(protected.occurrences)


@given(texts, terms, st.data())
def test_a_placeholder_the_engine_drops_is_reported_missing(
    text: str, protected_terms: list[ProtectedTerm], data: st.DataObject
) -> None:
    protected = protect(text, protected_terms)
    if not protected.occurrences:
        return
    lost = data.draw(st.integers(0, len(protected.occurrences) - 1))
    engine_output = protected.text.replace(protected.placeholder(lost), "", 1)
    restored, missing = restore(engine_output, protected)
    assert missing == (protected.occurrences[lost],)
    # Every other occurrence is back.
    assert restored.count(protected.marker) == 0


def test_terms_become_their_agreed_rendering_in_the_translation() -> None:
    protected = protect(
        "我方舰艇在专属经济区内航行。专属经济区的界限有争议。",
        [ProtectedTerm("专属经济区", "exclusive economic zone"), ProtectedTerm("舰艇", "vessels")],
    )
    assert protected.text == "我方HLT1在HLT2内航行。HLT3的界限有争议。"
    # What an engine makes of it: placeholders copied, one in another case and spaced.
    engine = "Our HLT1 sail in the HLT2. The limits of the hlt 3 are disputed."
    assert restore(engine, protected) == (
        "Our vessels sail in the exclusive economic zone. "
        "The limits of the exclusive economic zone are disputed.",
        (),
    )


def test_the_longest_term_wins_and_latin_terms_match_whole_words_only() -> None:
    protected = protect(
        "The EEZ and the EEZ line, not EEZA.",
        [ProtectedTerm("EEZ", "专属经济区"), ProtectedTerm("EEZ line", "专属经济区界线")],
    )
    assert protected.text == "The HLT1 and the HLT2, not EEZA."
    assert [t.target for t in protected.occurrences] == ["专属经济区", "专属经济区界线"]


def test_a_text_that_contains_the_usual_marker_gets_another() -> None:
    protected = protect("Unit HLT1 reports the EEZ.", [ProtectedTerm("EEZ", "专属经济区")])
    assert protected.marker != "HLT"
    assert "HLT1" in protected.text
    restored, _ = restore(protected.text, protected)
    assert restored == "Unit HLT1 reports the 专属经济区."


def test_placeholders_have_one_width_so_a_following_digit_stays_outside() -> None:
    source = " ".join(["EEZ"] * 11) + " EEZ7"
    protected = protect(source.replace("EEZ7", "EEZ 7"), [ProtectedTerm("EEZ", "Z")])
    assert re.findall(r"HLT\d+", protected.text)[0] == "HLT01"
    restored, missing = restore(protected.text.replace(" 7", "7"), protected)
    assert restored.endswith("Z7") and missing == ()


def test_a_number_never_handed_out_is_left_as_the_engine_wrote_it() -> None:
    protected = protect("EEZ", [ProtectedTerm("EEZ", "专属经济区")])
    assert restore("HLT1 and HLT9", protected) == ("专属经济区 and HLT9", ())


def test_a_blank_term_is_refused() -> None:
    with pytest.raises(ValueError, match="non-blank"):
        ProtectedTerm("  ", "x")
