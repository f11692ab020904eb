"""The LibreTranslate provider against a real HTTP server on 127.0.0.1, working and failing."""

from __future__ import annotations

import asyncio

from hotline.language.translation import (
    LibreTranslateProvider,
    NotTranslated,
    ProviderKind,
    Reason,
    Translated,
)
from hotline.language.translation.outcome import Outcome
from tests.language.libretranslate_server import (
    OLDER_LANGUAGES,
    LibreTranslateServer,
    refused_url,
    running,
    silent_listener,
)


def translate(
    url: str, texts: list[str], source: str, target: str, **options: object
) -> list[Outcome]:
    async def go() -> list[Outcome]:
        provider = LibreTranslateProvider(url, **options)  # type: ignore[arg-type]
        try:
            return await provider.translate(texts, source, target)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def failure(outcomes: list[Outcome]) -> NotTranslated:
    assert outcomes
    first = outcomes[0]
    assert isinstance(first, NotTranslated), first
    assert all(o == first for o in outcomes)
    return first


def test_a_batch_is_translated_in_one_request_with_provenance() -> None:
    with running(LibreTranslateServer(api_key="k-123")) as server:
        outcomes = translate(
            server.url,
            ["Please confirm receipt.", "The ship is leaving."],
            "en",
            "zh-Hans",
            api_key="k-123",
            name="local-lt",
            model="argos en-zh",
        )
    assert [o.text for o in outcomes if isinstance(o, Translated)] == [
        "[zh-Hans] Please confirm receipt.",
        "[zh-Hans] The ship is leaving.",
    ]
    assert server.requests == [
        {
            "q": ["Please confirm receipt.", "The ship is leaving."],
            "source": "en",
            "target": "zh-Hans",
            "format": "text",
            "api_key": "k-123",
        }
    ]
    first = outcomes[0]
    assert isinstance(first, Translated)
    assert (first.source, first.target) == ("en", "zh-Hans")
    assert first.provenance.provider == "local-lt"
    assert first.provenance.kind is ProviderKind.LIBRETRANSLATE
    assert first.provenance.engine == f"libretranslate at {server.url}"
    assert first.provenance.model == "argos en-zh"


def test_an_older_server_gets_its_own_chinese_codes() -> None:
    with running(LibreTranslateServer(languages=OLDER_LANGUAGES)) as server:
        simplified = translate(server.url, ["收到"], "zh-Hans", "en")
        traditional = translate(server.url, ["收到"], "zh-Hant", "en")
        to_chinese = translate(server.url, ["Received"], "en", "zh-Hans")
    assert all(isinstance(o, Translated) for o in simplified + traditional + to_chinese)
    assert [(r["source"], r["target"]) for r in server.requests] == [
        ("zh", "en"),
        ("zt", "en"),
        ("en", "zh"),
    ]


def test_a_pair_the_server_does_not_offer_is_unsupported_without_a_translate_call() -> None:
    with running() as server:
        no_russian = failure(translate(server.url, ["Приём"], "ru", "en"))
        no_french_target = failure(translate(server.url, ["收到"], "zh-Hans", "fr"))
    assert no_russian.reason is Reason.UNSUPPORTED_PAIR
    assert "ru -> en" in no_russian.detail
    assert no_french_target.reason is Reason.UNSUPPORTED_PAIR
    assert server.requests == []


def test_a_server_error_is_a_failure_with_the_status_and_message() -> None:
    with running(LibreTranslateServer(mode="error")) as server:
        result = failure(translate(server.url, ["a", "b"], "en", "zh-Hans", name="lt"))
    assert result.reason is Reason.FAILED
    assert "500" in result.detail and "model crashed" in result.detail
    assert result.provider == "lt"


def test_a_refused_api_key_is_a_failure_that_says_so() -> None:
    with running(LibreTranslateServer(api_key="right")) as server:
        result = failure(translate(server.url, ["a"], "en", "zh-Hans", api_key="wrong"))
    assert result.reason is Reason.FAILED
    assert "403" in result.detail and "Invalid API key" in result.detail


def test_garbage_instead_of_json_is_a_failure() -> None:
    with running(LibreTranslateServer(mode="garbage")) as server:
        result = failure(translate(server.url, ["a"], "en", "zh-Hans"))
    assert result.reason is Reason.FAILED
    assert "not JSON" in result.detail


def test_an_answer_of_the_wrong_shape_is_a_failure_not_a_misaligned_translation() -> None:
    with running(LibreTranslateServer(mode="wrong-shape")) as server:
        result = failure(translate(server.url, ["a", "b"], "en", "zh-Hans"))
    assert result.reason is Reason.FAILED
    assert "unexpected answer" in result.detail


def test_rate_limiting_is_overload() -> None:
    with running(LibreTranslateServer(mode="rate-limited")) as server:
        result = failure(translate(server.url, ["a"], "en", "zh-Hans"))
    assert result.reason is Reason.OVERLOADED


def test_a_refused_connection_is_unavailable() -> None:
    url = refused_url()
    result = failure(translate(url, ["a"], "en", "zh-Hans"))
    assert result.reason is Reason.UNAVAILABLE
    assert url in result.detail


def test_a_server_that_accepts_and_never_answers_times_out() -> None:
    with silent_listener() as url:
        result = failure(translate(url, ["a"], "en", "zh-Hans", timeout_s=0.3))
    assert result.reason is Reason.TIMEOUT


def test_a_server_that_hangs_inside_translate_times_out() -> None:
    with running(LibreTranslateServer(mode="hang")) as server:
        result = failure(translate(server.url, ["a"], "en", "zh-Hans", timeout_s=0.3))
    assert result.reason is Reason.TIMEOUT
    assert len(server.requests) == 1  # the request arrived; the answer never did


def test_a_server_that_trickles_its_answer_times_out_on_the_total_timeout() -> None:
    with running(LibreTranslateServer(mode="trickle")) as server:
        result = failure(translate(server.url, ["a"], "en", "zh-Hans", timeout_s=0.5))
    assert result.reason is Reason.TIMEOUT


def test_no_texts_make_no_request() -> None:
    with running() as server:
        assert translate(server.url, [], "en", "zh-Hans") == []
    assert server.requests == []
