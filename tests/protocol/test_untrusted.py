"""Text from the other party is shown inert: no control, bidirectional or invisible
character reaches the display as itself; ordinary text of any script is unchanged."""

from __future__ import annotations

import json
import unicodedata

import pytest
import regex
from hypothesis import example, given
from hypothesis import strategies as st

from hotline.untrusted import inert, inert_json, is_inert, notation

# The characters the display must never receive as themselves, by Unicode's own
# classes, read here from the standard library's database (the module reads the
# regex module's): controls, format characters (the bidirectional controls and
# zero-width characters among them), surrogates, line and paragraph separators.
CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
BIDI_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))] + [
    "\u200e",
    "\u200f",
    "\u061c",
]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e", "\u2062", "\u00ad"]
# Invisible although not format characters: fillers, joiners and selectors.
OTHER_INVISIBLE = ["\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", "\u17b4", "\U000e0041"]
HAZARDS = [
    *(chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))),
    *BIDI_CONTROLS,
    *ZERO_WIDTH,
    *OTHER_INVISIBLE,
    "\u2028",
    "\u2029",
    "\ud800",
    "\ufe0f",
]
DEFAULT_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
EMOJI = regex.compile(r"\p{Extended_Pictographic}")
PREPENDED_MARK = regex.compile(r"\p{Prepended_Concatenation_Mark}")


def hazardous(char: str) -> bool:
    if PREPENDED_MARK.match(char):
        return False  # the Arabic number signs: a visible glyph
    category = unicodedata.category(char)
    return category in CONTROL_CATEGORIES or DEFAULT_IGNORABLE.match(char) is not None


def allowed_in_emoji(shown: str, i: int) -> bool:
    """Whether the invisible character at ``shown[i]`` builds an emoji there."""
    char = shown[i]
    before = shown[i - 1] if i else ""
    if char == "\u200d":  # ZWJ between two emoji (the first maybe with VS16 or a skin tone)
        base = (
            shown[i - 2]
            if before in "\ufe0f\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff"
            else before
        )
        after = shown[i + 1] if i + 1 < len(shown) else ""
        return bool(base and after and EMOJI.match(base) and EMOJI.match(after))
    if "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef":
        return bool(before) and not hazardous(before)  # one selector after what it selects
    if "\U000e0020" <= char <= "\U000e007f":  # the tags of a subdivision flag
        start = shown.rfind("\U0001f3f4", 0, i)
        end = shown.find("\U000e007f", i)
        tags = shown[start + 1 : end + 1] if start >= 0 and end >= 0 else ""
        return 3 <= len(tags) <= 7 and all("\U000e0020" <= t <= "\U000e007f" for t in tags)
    return False


def left_hazards(shown: str, *, multiline: bool) -> list[str]:
    return [
        char
        for i, char in enumerate(shown)
        if hazardous(char) and not (multiline and char in "\n\t") and not allowed_in_emoji(shown, i)
    ]


any_text = st.text(
    alphabet=st.one_of(st.characters(codec=None), st.sampled_from(HAZARDS)), max_size=60
)


@given(any_text, st.booleans())
@example("Routine check \u202eyletaidemmi kcatta ot deeccorp", False)
@example("\x1b]0;owned\x07\x1b[1A\x1b[2K\x9b31m", True)
@example("\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\u202e", False)
@example("\u202e\ufe0f\u200d\U0001f600", False)
def test_nothing_hazardous_reaches_the_display(text: str, multiline: bool) -> None:
    shown = inert(text, multiline=multiline)
    assert left_hazards(shown, multiline=multiline) == []
    # Whatever stayed invisible is part of an emoji: no control or bidi character at all.
    assert not any(
        unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") for c in shown if c not in "\n\t"
    )
    assert not any(c in BIDI_CONTROLS for c in shown)
    if not multiline:
        assert "\n" not in shown and "\t" not in shown


ordinary_char = st.characters(codec=None).filter(lambda c: not hazardous(c))


@given(st.text(alphabet=ordinary_char), st.booleans())
def test_ordinary_text_of_any_script_is_unchanged(text: str, multiline: bool) -> None:
    assert inert(text, multiline=multiline) == text
    assert is_inert(text, multiline=multiline)


@pytest.mark.parametrize(
    "text",
    [
        "空域内发现不明物体，请立即说明情况。",
        "مَرْحَبًا بِكُمْ، نَحْنُ نَتَلَقَّى الرِّسَالَة",  # Arabic with its vowel marks
        "שלום, קיבלנו את ההודעה",
        "नमस्ते, संदेश प्राप्त हुआ",
        "👨‍👩‍👧 🏳️‍🌈 👩🏽‍💻 ❤️‍🔥 🧑‍⚕️ 1️⃣ 🇨🇳 🇺🇸 🏴󠁧󠁢󠁥󠁮󠁧󠁿 👍🏿",
        "葛\U000e0100 Ünïcödé ﷺ ٠١٢ \u0600١٢ ﻿",  # a CJK variant, an Arabic number sign
        "Received; under review; we will respond by 14:00 UTC.\u3000（全角空格）",
    ],
)
def test_ordinary_text_stays_as_written(text: str) -> None:
    text = text.replace("\ufeff", "")  # (the BOM typed above is not ordinary)
    assert inert(text) == text
    assert inert(text, multiline=True) == text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "Routine check \u202eyletaidemmi kcatta ot deeccorp",
            "Routine check <U+202E>yletaidemmi kcatta ot deeccorp",
        ),
        ("\x1b[1;31mALERT\x1b[0m", "<U+001B>[1;31mALERT<U+001B>[0m"),
        ("\x1b]0;window title\x07", "<U+001B>]0;window title<U+0007>"),
        ("sent\x1b[1A\x1b[2Kreceived", "sent<U+001B>[1A<U+001B>[2Kreceived"),
        ("\x9b2J\x7f", "<U+009B>2J<U+007F>"),
        ("abort\u200b\u200c\u2060\ufeffnow", "abort<U+200B><U+200C><U+2060><U+FEFF>now"),
        ("\u2066x\u2069\u200e\u200f\u061c", "<U+2066>x<U+2069><U+200E><U+200F><U+061C>"),
        ("a\u200db", "a<U+200D>b"),  # a joiner between letters joins no emoji
        ("\U0001f3f4\U000e0041\U000e0042", "\U0001f3f4<U+E0041><U+E0042>"),  # smuggled tags
        ("x\ufe0f\ufe0f", "x\ufe0f<U+FE0F>"),  # a second selector selects nothing
        ("\ud800", "<U+D800>"),
        ("one\ntwo\tthree\r\n", "one<U+000A>two<U+0009>three<U+000D><U+000A>"),
    ],
)
def test_hazards_are_shown_as_code_points(text: str, shown: str) -> None:
    assert inert(text) == shown
    assert not is_inert(text)


def test_a_message_keeps_its_lines_but_not_a_lone_carriage_return() -> None:
    assert inert("one\r\ntwo\n\tthree", multiline=True) == "one\ntwo\n\tthree"
    # A carriage return alone would go back over the line already written.
    assert inert("all clear\rattack", multiline=True) == "all clear<U+000D>attack"
    assert inert("\u2028", multiline=True) == "<U+2028>"


def test_the_notation_names_the_code_point() -> None:
    assert notation("\u202e") == "<U+202E>"
    assert notation("\x1b") == "<U+001B>"
    assert notation("\U000e007f") == "<U+E007F>"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_json_output_is_the_same_value_and_inert(value: object) -> None:
    document = inert_json(value)
    assert json.loads(document) == value
    assert all(not hazardous(c) or c == "\n" for c in document)


def test_json_output_keeps_chinese_readable() -> None:
    document = inert_json({"text": "收到\u202e", "sender": "beijing"}, indent=None)
    assert document == '{"text": "收到\\u202e", "sender": "beijing"}'
