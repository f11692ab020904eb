"""Sentences for a sentence-level engine, and the message's layout around them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hotline.language.translation.segments import split


@given(st.text(alphabet="ab AB.!?。！？”\n\t1收", max_size=60))
def test_joining_the_unchanged_sentences_gives_back_the_text(text: str) -> None:
    segments = split(text)
    assert segments.join(segments.sentences) == text
    assert all(s == s.strip() and s for s in segments.sentences)


def test_english_sentences_split_at_full_stops_but_not_after_abbreviations() -> None:
    text = "We received it. The U.S. Navy will reply by 18:00. Gen. Li agrees! e.g. not here"
    assert split(text).sentences == (
        "We received it.",
        "The U.S. Navy will reply by 18:00.",
        "Gen. Li agrees! e.g. not here",
    )


def test_chinese_sentences_split_after_their_marks_and_closing_quotes() -> None:
    assert split("他说：“停下。”我们收到了。请答复！").sentences == (
        "他说：“停下。”",
        "我们收到了。",
        "请答复！",
    )


def test_line_breaks_and_blank_lines_come_back_where_they_were() -> None:
    segments = split("第一段。\n\n  第二段第一句。第二句。\n")
    translated = segments.join(
        ["First paragraph.", "Second paragraph.", "Second sentence."], spaced=True
    )
    assert translated == "First paragraph.\n\n  Second paragraph. Second sentence.\n"


def test_a_chinese_translation_of_english_sentences_has_no_spaces_between_them() -> None:
    segments = split("Received. Under review.")
    assert segments.join(["收到。", "正在审查。"], spaced=False) == "收到。正在审查。"


def test_whitespace_only_text_has_no_sentences() -> None:
    segments = split(" \n\t")
    assert segments.sentences == ()
    assert segments.join([]) == " \n\t"
