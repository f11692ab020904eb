"""The phrasebook: the shipped one validates and renders; a broken one is refused by
entry and field; its digest follows meaning, not layout; diff, search, and the
validation of a message body."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.language import phrasebook as pb
from hotline.language.errors import InvalidDocument, Reason, Refused
from hotline.language.phrasebook import Phrasebook, diff, load_phrasebook, parse_phrasebook
from tests.language.strategies import parameters

SHIPPED = pb.shipped_phrasebook()
ENTRY_IDS = sorted(SHIPPED.entries)


def shipped_files() -> tuple[dict[str, Any], dict[str, Any]]:
    """The shipped data files, parsed afresh (so a test may change them)."""
    folder = resources.files("hotline.language").joinpath("data", "phrasebook")
    index = json.loads(folder.joinpath("index.json").read_text("utf-8"))
    return index, {
        c["id"]: json.loads(folder.joinpath(f"{c['id']}.json").read_text("utf-8"))
        for c in index["categories"]
    }


def document() -> dict[str, Any]:
    """The shipped phrasebook as one document."""
    index, files = shipped_files()
    entries = [{**e, "category": c} for c, listed in files.items() for e in listed]
    return {**index, "entries": entries}


def small(**entry: Any) -> dict[str, Any]:
    """A one-entry phrasebook document, the entry given."""
    return {
        "format": 1,
        "id": "test-book",
        "version": 1,
        "languages": ["en", "zh-Hans"],
        "categories": [{"id": "tests", "names": {"en": "Tests", "zh-Hans": "测试"}}],
        "entries": [{"id": "sample", "category": "tests", **entry}],
    }


def refused(doc: dict[str, Any]) -> list[tuple[str, str, Reason]]:
    with pytest.raises(InvalidDocument) as error:
        parse_phrasebook(doc)
    return [(p.where, p.field, p.reason) for p in error.value.problems]


# The shipped phrasebook --------------------------------------------------------------


def test_the_shipped_phrasebook_validates_with_at_least_80_entries_in_every_category() -> None:
    assert SHIPPED.languages == ("en", "zh-Hans")
    assert len(SHIPPED.entries) >= 80
    used = {entry.category for entry in SHIPPED.entries.values()}
    assert used == set(SHIPPED.categories)
    assert len(SHIPPED.digest()) == 64


def test_the_holding_reply_and_decline_reasons_are_entries() -> None:
    from hotline.node.language.agreed_messages import HOLDING_REPLY, decline_reasons

    assert tuple(SHIPPED.entry(HOLDING_REPLY).parameters) == ("respond_by",)
    assert set(decline_reasons(SHIPPED)) == {
        "decline-call-back",
        "decline-in-writing",
        "decline-not-authorised",
        "decline-technical",
    }
    assert SHIPPED.render("decline-technical", "zh-Hans") == "我方出现技术故障。"
    assert (
        SHIPPED.render("holding-reply-v1", "en", {"respond_by": "2026-12-03T14:05+08:00"})
        == "Received. Your message is under review."
        " We will respond by 3 December 2026 14:05 UTC+08:00."
    )


@pytest.mark.parametrize("entry_id", ENTRY_IDS)
@settings(max_examples=5)
@given(data=st.data())
def test_every_shipped_entry_renders_in_both_languages(entry_id: str, data: st.DataObject) -> None:
    entry = SHIPPED.entries[entry_id]
    values = data.draw(parameters(dict(entry.parameters)))
    for language in SHIPPED.languages:
        text = SHIPPED.render(entry_id, language, values)
        assert text.strip()
        assert "{" not in text and "}" not in text


def test_an_entry_renders_exactly_with_its_parameters_in_place() -> None:
    values = {
        "vessel": "ddg-89",
        "position": {"lat": "24.5", "lon": "122.25"},
        "course": 45,
        "speed": {"value": "12", "unit": "kn"},
    }
    assert SHIPPED.render("sea-position-course-speed", "en", values) == (
        "Our vessel DDG-89 is at 24°30′N 122°15′E, course 045°, speed 12 knots."
    )
    assert SHIPPED.render("sea-position-course-speed", "zh-Hans", values) == (
        "我方舰艇DDG-89位于北纬24°30′ 东经122°15′，航向045°，航速12节。"
    )


def test_rendering_refuses_bad_parameters_and_unknown_languages() -> None:
    with pytest.raises(Refused) as error:
        SHIPPED.render("sea-reducing-speed", "en", {"vessel": "DDG-89", "speed": 12})
    assert error.value.parameter == "speed"
    with pytest.raises(Refused) as error:
        SHIPPED.render("decline-technical", "fr")
    assert error.value.reason == Reason.UNKNOWN_LANGUAGE


# Refusals, by entry and field --------------------------------------------------------


def test_a_missing_language_is_refused_naming_entry_and_field() -> None:
    doc = small(text={"en": "Link test."})
    assert ("sample", "text.zh-Hans", Reason.MISSING_LANGUAGE) in refused(doc)


def test_placeholders_that_differ_from_the_parameters_are_refused() -> None:
    doc = small(
        parameters={"at": {"type": "datetime"}},
        text={"en": "We confirm the call at {at}.", "zh-Hans": "我方确认通话。"},
    )
    assert refused(doc) == [("sample", "text.zh-Hans", Reason.PARAMETER_MISMATCH)]
    undeclared = small(text={"en": "Call at {at}.", "zh-Hans": "于{at}通话。"})
    assert ("sample", "text.en", Reason.PARAMETER_MISMATCH) in refused(undeclared)


def test_an_unknown_parameter_type_is_refused() -> None:
    doc = small(parameters={"at": {"type": "moment"}}, text={"en": "{at}", "zh-Hans": "{at}"})
    assert refused(doc) == [("sample", "parameters.at.type", Reason.UNKNOWN_TYPE)]


def test_a_duplicate_id_is_refused() -> None:
    doc = document()
    doc["entries"].append(copy.deepcopy(doc["entries"][3]))
    assert refused(doc) == [(doc["entries"][3]["id"], "id", Reason.DUPLICATE_ID)]


def test_an_enumeration_option_without_wording_in_a_language_is_refused() -> None:
    options = {"port": {"en": "port", "zh-Hans": "左"}, "starboard": {"en": "starboard"}}
    doc = small(
        parameters={"side": {"type": "enum", "options": options}},
        text={"en": "To {side}.", "zh-Hans": "向{side}。"},
    )
    assert refused(doc) == [
        ("sample", "parameters.side.options.starboard.zh-Hans", Reason.BAD_ENUM)
    ]


def test_a_shared_enumeration_with_a_gap_is_refused_in_every_entry_using_it() -> None:
    doc = document()
    del doc["enumerations"]["turn-at-sea"]["starboard"]["zh-Hans"]
    problems = refused(doc)
    assert (
        "sea-intend-alter-course",
        "parameters.direction.options.starboard.zh-Hans",
        Reason.BAD_ENUM,
    ) in problems


@pytest.mark.parametrize(
    "template",
    ["Call at {at.", "Call at at}.", "Call {}", "Call {at!r}", "Call {at:>9}", "Call {at[0]}"],
)
def test_a_malformed_template_is_refused(template: str) -> None:
    doc = small(parameters={"at": {"type": "datetime"}}, text={"en": template, "zh-Hans": "{at}"})
    assert ("sample", "text.en", Reason.BAD_TEMPLATE) in refused(doc)


def test_literal_braces_are_written_doubled() -> None:
    doc = small(text={"en": "Code {{A}}.", "zh-Hans": "代码{{A}}。"})
    assert parse_phrasebook(doc).render("sample", "en") == "Code {A}."


@pytest.mark.parametrize(
    ("declaration", "field"),
    [
        ({"type": "distance", "units": ["mi"]}, "parameters.p.units"),
        ({"type": "integer", "minimum": 5, "maximum": 1}, "parameters.p.minimum"),
        ({"type": "identifier", "scheme": "vin"}, "parameters.p.scheme"),
        ({"type": "bearing", "units": ["deg"]}, "parameters.p.units"),
        ({"type": "number", "maximum": 1.5}, "parameters.p.maximum"),
    ],
)
def test_a_bad_constraint_is_refused(declaration: dict[str, Any], field: str) -> None:
    doc = small(parameters={"p": declaration}, text={"en": "{p}", "zh-Hans": "{p}"})
    assert refused(doc) == [("sample", field, Reason.BAD_CONSTRAINT)]


def test_every_problem_is_listed_at_once_and_nothing_is_loaded() -> None:
    doc = document()
    doc["entries"][0]["text"].pop("zh-Hans")
    doc["entries"][5]["category"] = "gossip"
    problems = refused(doc)
    assert (doc["entries"][0]["id"], "text.zh-Hans", Reason.MISSING_LANGUAGE) in problems
    assert (doc["entries"][5]["id"], "category", Reason.UNKNOWN_CATEGORY) in problems


def test_a_key_given_twice_in_a_data_file_is_refused() -> None:
    from hotline.language.versioned import read_json

    with pytest.raises(InvalidDocument) as error:
        read_json('{"en": "Yes.", "en": "No."}', "courtesies.json")
    assert error.value.problems[0].reason == Reason.DUPLICATE_ID


# The digest ---------------------------------------------------------------------------


def reloaded(index: dict[str, Any], files: dict[str, Any]) -> Phrasebook:
    return load_phrasebook(index, files)


def test_the_digest_does_not_change_with_layout_order_or_where_an_enumeration_is_declared() -> None:
    index, files = shipped_files()

    # Re-indented, keys reversed, categories and entries in reverse order.
    def reverse_keys(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse_keys(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse_keys(v) for v in value]
        return value

    shuffled_index = json.loads(json.dumps(reverse_keys(index), indent=7))
    shuffled_index["categories"].reverse()
    shuffled_files = {c: list(reversed(reverse_keys(e))) for c, e in reversed(files.items())}
    # One entry's shared enumeration written inline instead.
    for entry in shuffled_files["encounters-at-sea"]:
        if entry["id"] == "sea-intend-alter-course":
            entry["parameters"]["direction"]["options"] = index["enumerations"]["turn-at-sea"]
    assert reloaded(shuffled_index, shuffled_files).digest() == SHIPPED.digest()
    assert reloaded(shuffled_index, shuffled_files).encode() == SHIPPED.encode()


@settings(max_examples=25)
@given(data=st.data())
def test_the_digest_changes_when_any_wording_changes(data: st.DataObject) -> None:
    index, files = shipped_files()
    category = data.draw(st.sampled_from(sorted(files)))
    entry = data.draw(st.sampled_from(files[category]))
    language = data.draw(st.sampled_from(["en", "zh-Hans"]))
    text = entry["text"][language]
    # Anywhere outside a placeholder.
    outside = [i for i in range(len(text) + 1) if text[:i].count("{") == text[:i].count("}")]
    at = data.draw(st.sampled_from(outside))
    entry["text"][language] = (
        text[:at] + data.draw(st.sampled_from(["x", "。", " ", "不"])) + text[at:]
    )
    assert reloaded(index, files).digest() != SHIPPED.digest()


def test_the_digest_changes_with_a_constraint_an_option_or_the_version() -> None:
    index, files = shipped_files()
    files["encounters-at-sea"][0]["parameters"]["speed"]["units"] = ["kn", "km/h"]
    assert reloaded(index, files).digest() != SHIPPED.digest()
    index, files = shipped_files()
    index["enumerations"]["side-of-vessel"]["port"]["zh-Hans"] = "左侧"
    assert reloaded(index, files).digest() != SHIPPED.digest()
    index, files = shipped_files()
    index["version"] = 2
    assert reloaded(index, files).digest() != SHIPPED.digest()


# Diff ---------------------------------------------------------------------------------


def test_diff_lists_added_removed_and_changed_entries_with_the_languages_reworded() -> None:
    index, files = shipped_files()
    index["version"] = 2
    files["courtesies"].append(
        {"id": "courtesy-good-morning", "text": {"en": "Good morning.", "zh-Hans": "早上好。"}}
    )
    files["link-tests"] = [e for e in files["link-tests"] if e["id"] != "link-restored"]
    for entry in files["call-declines"]:
        if entry["id"] == "decline-technical":
            entry["text"]["zh-Hans"] = "我方线路出现技术故障。"
    for entry in files["encounters-at-sea"]:
        if entry["id"] == "sea-reducing-speed":
            entry["parameters"]["speed"]["units"] = ["kn", "km/h"]
    change = diff(SHIPPED, reloaded(index, files))
    assert (change.old_version, change.new_version) == (1, 2)
    assert change.added == ("courtesy-good-morning",)
    assert change.removed == ("link-restored",)
    by_id = {c.id: c for c in change.changed}
    assert set(by_id) == {"decline-technical", "sea-reducing-speed"}
    assert by_id["decline-technical"].wording == ("zh-Hans",)
    assert by_id["sea-reducing-speed"].fields == ("parameters.speed.units",)
    assert by_id["sea-reducing-speed"].wording == ()
    assert change.document == ()
    assert diff(SHIPPED, SHIPPED).empty


# Search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("keep clear", "sea-request-keep-clear"),
        ("Closest point of approach", "sea-cpa-unsafe"),
        ("re-enter", "space-reentry-predicted"),
        ("satell manoeuv", "space-planned-manoeuvre"),  # prefixes, as typed
        ("最近会遇距离", "sea-cpa-unsafe"),
        ("会遇", "sea-cpa-unsafe"),  # Chinese matches inside words
        ("核爆炸", "nuclear-weapon-secured"),
        ("zuijin huiyu", "sea-cpa-unsafe"),  # pinyin, as words
        ("huiyujuli", "sea-cpa-unsafe"),  # pinyin, run together
        ("haixiao", "disaster-tsunami-warning"),
        ("TSUNAMI", "disaster-tsunami-warning"),
    ],
)
def test_search_finds_entries_by_english_chinese_and_pinyin(query: str, expected: str) -> None:
    hits = [hit.entry.id for hit in SHIPPED.search(query, limit=3)]
    assert expected in hits, hits


def test_search_ranks_entries_matching_every_word_first() -> None:
    hits = SHIPPED.search("request keep clear vessel")
    assert hits[0].entry.id == "sea-request-keep-clear"
    assert SHIPPED.search("   ") == []
    assert SHIPPED.search("xyzzyqwerty") == []


def test_pinyin_matches_whole_syllables_only() -> None:
    # "uiyu" lies inside "huiyu" but starts mid-syllable.
    assert all(h.score < 2 for h in SHIPPED.search("uiyu"))


# Message bodies -----------------------------------------------------------------------


def test_a_message_body_round_trips_through_validation() -> None:
    message = SHIPPED.message("holding-reply-v1", {"respond_by": "2026-12-03T06:05Z"})
    body = message.body()
    assert body == {
        "entry": "holding-reply-v1",
        "version": 1,
        "parameters": {"respond_by": "2026-12-03T06:05:00+00:00"},
    }
    assert SHIPPED.validate_message(json.loads(json.dumps(body))) == message


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ([], Reason.NOT_A_MESSAGE, None),
        ({"entry": "decline-technical", "version": 1}, Reason.NOT_A_MESSAGE, "parameters"),
        (
            {"entry": "decline-technical", "version": 2, "parameters": {}},
            Reason.WRONG_VERSION,
            "version",
        ),
        (
            {"entry": "decline-technical", "version": True, "parameters": {}},
            Reason.NOT_A_MESSAGE,
            "version",
        ),
        ({"entry": "no-such-entry", "version": 1, "parameters": {}}, Reason.UNKNOWN_ENTRY, "entry"),
        (
            {"entry": "decline-technical", "version": 1, "parameters": {}, "text": "hi"},
            Reason.UNKNOWN_FIELD,
            "text",
        ),
        (
            {"entry": "decline-technical", "version": 1, "parameters": {"x": 1}},
            Reason.UNEXPECTED_PARAMETER,
            "x",
        ),
        (
            {"entry": "holding-reply-v1", "version": 1, "parameters": {}},
            Reason.MISSING_PARAMETER,
            "respond_by",
        ),
        (
            {"entry": "holding-reply-v1", "version": 1, "parameters": {"respond_by": "soon"}},
            Reason.BAD_FORMAT,
            "respond_by",
        ),
        # Valid, but not the canonical form: both sides must sign the same bytes.
        (
            {
                "entry": "holding-reply-v1",
                "version": 1,
                "parameters": {"respond_by": "2026-12-03T06:05Z"},
            },
            Reason.BAD_FORMAT,
            "respond_by",
        ),
    ],
)
def test_a_bad_message_body_is_refused_naming_the_field(
    body: object, reason: Reason, field: str | None
) -> None:
    with pytest.raises(Refused) as error:
        SHIPPED.validate_message(body)
    assert error.value.reason == reason
    assert error.value.parameter == field
