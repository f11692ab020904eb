"""Every parameter type: valid inputs validate to one canonical form that renders in
both languages, survives JSON and deterministic CBOR, and validates to itself;
invalid inputs are refused, naming the parameter."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.language import parameters as p
from hotline.language.conventions import conventions, shipped_languages
from hotline.language.errors import Reason, Refused
from hotline.language.identifiers import Identifier
from hotline.protocol.encoding import decode, encode
from tests.language.strategies import values

LANGUAGES = ("en", "zh-Hans")
ENUM = p.Enumeration(
    {"port": {"en": "port", "zh-Hans": "左舷"}, "starboard": {"en": "starboard", "zh-Hans": "右舷"}}
)
TYPES: list[p.ParameterType] = [
    p.DateTime(),
    p.Duration(),
    p.Duration(minimum=60, maximum=7200),
    p.Position(),
    p.Bearing(),
    p.Altitude(),
    p.Altitude(units=["ft"], maximum=("60000", "ft")),
    p.Depth(),
    p.Speed(),
    p.Distance(),
    p.Distance(units=["nmi"], minimum=("0.5", "nmi"), maximum=("20", "km")),
    *(Identifier(scheme) for scheme in Identifier.schemes),
    p.Name(),
    p.Name(max_length=5),
    p.Integer(),
    p.Integer(minimum=1, maximum=88),
    p.Number(),
    p.Number(minimum="2", maximum="400", fraction_digits=1),
    ENUM,
]
IDS = [f"{t.kind}-{i}" for i, t in enumerate(TYPES)]


@pytest.mark.parametrize("kind", TYPES, ids=IDS)
@given(data=st.data())
def test_a_valid_value_has_one_canonical_form_that_renders_in_both_languages(
    kind: p.ParameterType, data: st.DataObject
) -> None:
    value = data.draw(values(kind))
    canonical = kind.validate(value, "x")
    assert kind.validate(canonical, "x") == canonical
    assert json.loads(json.dumps(canonical)) == canonical
    assert decode(encode(canonical), max_size=10_000) == canonical
    for language in LANGUAGES:
        text = kind.render(canonical, language)
        assert text.strip() and "{" not in text


NOT_VALUES: list[object] = [None, True, 1.5, [], b"bytes", {"unexpected": "shape"}]


@pytest.mark.parametrize("kind", TYPES, ids=IDS)
@settings(max_examples=30)
@given(value=st.sampled_from(NOT_VALUES) | st.floats())
def test_a_value_of_the_wrong_shape_is_refused_naming_the_parameter(
    kind: p.ParameterType, value: object
) -> None:
    with pytest.raises(Refused) as refused:
        kind.validate(value, "course")
    assert refused.value.parameter is not None
    assert refused.value.parameter.startswith("course")
    assert "course" in str(refused.value)


INVALID: list[tuple[p.ParameterType, object, Reason]] = [
    (p.DateTime(), "2026-12-03T14:05", Reason.BAD_FORMAT),  # no offset
    (p.DateTime(), "2026-12-03 14:05+08:00", Reason.BAD_FORMAT),
    (p.DateTime(), "2026-02-30T14:05+08:00", Reason.BAD_FORMAT),
    (p.DateTime(), "2026-12-03T14:05:00.5+08:00", Reason.BAD_FORMAT),
    (p.DateTime(), "2026-12-03T14:05+15:00", Reason.OUT_OF_RANGE),
    (p.DateTime(), datetime(2026, 12, 3, 14, 5), Reason.BAD_FORMAT),
    (p.Duration(), -1, Reason.OUT_OF_RANGE),
    (p.Duration(), "PT", Reason.BAD_FORMAT),
    (p.Duration(), "1 hour", Reason.BAD_FORMAT),
    (p.Duration(), timedelta(milliseconds=1500), Reason.BAD_FORMAT),
    (p.Position(), {"lat": "90.5", "lon": "0"}, Reason.OUT_OF_RANGE),
    (p.Position(), {"lat": "0", "lon": "-180.000001"}, Reason.OUT_OF_RANGE),
    (p.Position(), {"lat": "1e1", "lon": "0"}, Reason.BAD_FORMAT),
    (p.Position(), {"lat": "24.1234567", "lon": "0"}, Reason.BAD_FORMAT),
    (p.Position(), {"lat": 24.5, "lon": 122}, Reason.WRONG_TYPE),
    (p.Bearing(), 361, Reason.OUT_OF_RANGE),
    (p.Bearing(), -1, Reason.OUT_OF_RANGE),
    (p.Bearing(), "045", Reason.WRONG_TYPE),
    (p.Speed(), {"value": "12", "unit": "mph"}, Reason.UNKNOWN_UNIT),
    (p.Distance(), {"value": "-1", "unit": "nmi"}, Reason.OUT_OF_RANGE),
    (p.Distance(), {"value": "1.2345", "unit": "nmi"}, Reason.BAD_FORMAT),
    (p.Depth(), {"value": "12001", "unit": "m"}, Reason.OUT_OF_RANGE),
    (
        p.Distance(units=["nmi"], maximum=("20", "km")),
        {"value": "11", "unit": "nmi"},
        Reason.OUT_OF_RANGE,
    ),
    (Identifier("icao24"), "7C123G", Reason.BAD_FORMAT),
    (Identifier("imo"), "IMO 9074728", Reason.BAD_FORMAT),  # wrong check digit
    (Identifier("norad"), "0", Reason.BAD_FORMAT),
    (Identifier("hull"), "DDG_89", Reason.BAD_FORMAT),
    (Identifier("cospar"), "98-067A", Reason.BAD_FORMAT),
    (p.Name(), "Zhang {Wei}", Reason.BAD_FORMAT),
    (p.Name(), "<script>", Reason.BAD_FORMAT),
    (p.Name(), "   ", Reason.OUT_OF_RANGE),
    (p.Name(max_length=5), "Scarborough", Reason.OUT_OF_RANGE),
    (p.Integer(minimum=1, maximum=88), 89, Reason.OUT_OF_RANGE),
    (p.Integer(), 2**53, Reason.OUT_OF_RANGE),
    (p.Number(fraction_digits=1), "121.55", Reason.BAD_FORMAT),
    (p.Number(minimum="2", maximum="400"), "401", Reason.OUT_OF_RANGE),
    (p.Number(), "+5", Reason.BAD_FORMAT),
    (p.Number(), "1" * 16, Reason.BAD_FORMAT),  # more digits than any bound needs
    (ENUM, "ahead", Reason.UNKNOWN_OPTION),
    (ENUM, "Port", Reason.UNKNOWN_OPTION),
]


@pytest.mark.parametrize(("kind", "value", "reason"), INVALID)
def test_an_invalid_value_is_refused_with_its_reason_naming_the_parameter(
    kind: p.ParameterType, value: object, reason: Reason
) -> None:
    with pytest.raises(Refused) as refused:
        kind.validate(value, "course")
    assert refused.value.reason == reason
    assert refused.value.parameter is not None and refused.value.parameter.startswith("course")


RENDERED: list[tuple[p.ParameterType, object, str, str]] = [
    (p.Position(), {"lat": "24.5", "lon": "122.25"}, "24°30′N 122°15′E", "北纬24°30′ 东经122°15′"),
    (
        p.Position(),
        {"lat": "-33.8568", "lon": "-151.2153"},
        "33°51.408′S 151°12.918′W",
        "南纬33°51.408′ 西经151°12.918′",
    ),
    # 0.9999999… of a minute carries into the next degree instead of reading 60′.
    (p.Position(), {"lat": "10.999999", "lon": "0"}, "11°00′N 0°00′E", "北纬11°00′ 东经0°00′"),
    (p.Bearing(), 45, "045°", "045°"),
    (p.Bearing(), 360, "000°", "000°"),
    (
        p.DateTime(),
        "2026-12-03T14:05+08:00",
        "3 December 2026 14:05 UTC+08:00",
        "2026年12月3日 14:05（UTC+08:00）",
    ),
    (
        p.DateTime(),
        "2026-12-03T06:05:30Z",
        "3 December 2026 06:05:30 UTC",
        "2026年12月3日 06:05:30（UTC）",
    ),
    (p.Duration(), "PT1H30M", "1 hour, 30 minutes", "1小时30分钟"),
    (p.Duration(), 2 * 86_400 + 5, "2 days, 5 seconds", "2天5秒"),
    (p.Distance(), {"value": "2.50", "unit": "nmi"}, "2.5 nautical miles", "2.5海里"),
    (p.Distance(), {"value": 1, "unit": "nmi"}, "1 nautical mile", "1海里"),
    (p.Altitude(), {"value": 10000, "unit": "ft"}, "10,000 feet", "10,000英尺"),
    (p.Speed(), {"value": "12", "unit": "kn"}, "12 knots", "12节"),
    (Identifier("imo"), "imo 9074729", "IMO 9074729", "IMO 9074729"),
    (Identifier("hull"), "  ddg-89 ", "DDG-89", "DDG-89"),
    (p.Integer(), 1234567, "1,234,567", "1,234,567"),
    (ENUM, "port", "port", "左舷"),
]


@pytest.mark.parametrize(("kind", "value", "english", "chinese"), RENDERED)
def test_values_read_in_each_languages_conventions(
    kind: p.ParameterType, value: object, english: str, chinese: str
) -> None:
    canonical = kind.validate(value, "x")
    assert kind.render(canonical, "en") == english
    assert kind.render(canonical, "zh-Hans") == chinese


CANONICAL: list[tuple[p.ParameterType, object, Any]] = [
    (p.DateTime(), "2026-12-03T06:05Z", "2026-12-03T06:05:00+00:00"),
    (
        p.DateTime(),
        datetime(2026, 12, 3, 14, 5, tzinfo=timezone(timedelta(hours=8))),
        "2026-12-03T14:05:00+08:00",
    ),
    (p.Duration(), timedelta(hours=2), 7200),
    (p.Position(), {"lat": "-0.000", "lon": "-180"}, {"lat": "0", "lon": "180"}),
    (p.Bearing(), 360, 0),
    (p.Distance(), {"value": "0100.500", "unit": "m"}, {"value": "100.5", "unit": "m"}),
    (p.Number(), "-0.0", "0"),
    (p.Number(), "100.000", "100"),
    (p.Integer(), 100, 100),
    (Identifier("norad"), "00005", "5"),
    (p.Name(), "  Zhang\u3000  Wei ", "Zhang Wei"),
]


@pytest.mark.parametrize(("kind", "value", "canonical"), CANONICAL)
def test_equal_values_written_differently_have_one_canonical_form(
    kind: p.ParameterType, value: object, canonical: Any
) -> None:
    assert kind.validate(value, "x") == canonical


def test_a_language_without_conventions_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        p.Bearing().render(45, "fr")
    assert refused.value.reason == Reason.UNKNOWN_LANGUAGE


def test_language_words_come_from_data_files() -> None:
    assert set(shipped_languages()) == {"en", "zh-Hans"}
    assert conventions("zh-Hans").hemispheres["N"] == "北纬"
    assert conventions("en").units["nmi"]["other"] == "{0} nautical miles"
