"""The chain: providers in order, one deadline, glossary terms, detection; never an exception."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from hotline.demo.tiny_model import TINY_MODEL_NAME, build_tiny_model
from hotline.language.translation import (
    CTranslate2Provider,
    LanguageDetector,
    LibreTranslateProvider,
    NotTranslated,
    ProtectedTerm,
    ProviderKind,
    Reason,
    Translated,
    TranslationChain,
    TranslationSettings,
    build_chain,
)
from hotline.language.translation.outcome import Outcome
from hotline.language.translation.provider import Provider
from tests.language.libretranslate_server import (
    LibreTranslateServer,
    refused_url,
    running,
    silent_listener,
)

EEZ = ProtectedTerm("专属经济区", "exclusive economic zone")
SENTENCE = "我方舰艇在专属经济区内航行。"


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    build_tiny_model(directory / "zh-Hans-en")
    return directory


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def run(
    providers: Sequence[Provider],
    texts: list[str],
    target: str,
    *,
    deadline_s: float = 10.0,
    detector: LanguageDetector | None = None,
    **options: object,
) -> list[Outcome]:
    async def go() -> list[Outcome]:
        chain = TranslationChain(providers, deadline_s=deadline_s, detector=detector)
        try:
            return await chain.translate(texts, target, **options)  # type: ignore[arg-type]
        finally:
            await chain.aclose()

    return asyncio.run(go())


def libre(url: str, name: str, timeout_s: float = 5.0) -> LibreTranslateProvider:
    return LibreTranslateProvider(url, name=name, timeout_s=timeout_s)


class Exploding:
    """A provider with a bug: it raises instead of answering."""

    name, kind = "exploding", ProviderKind.LIBRETRANSLATE

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[Outcome]:
        raise KeyError("a bug in the provider")

    async def aclose(self) -> None:
        pass


class Stubborn:
    """A provider that hangs and ignores cancellation until released."""

    name, kind = "stubborn", ProviderKind.LIBRETRANSLATE

    def __init__(self) -> None:
        self.released = False

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[Outcome]:
        while not self.released:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue
        return []

    async def aclose(self) -> None:
        self.released = True


def test_providers_are_tried_in_order_until_one_translates() -> None:
    with silent_listener() as hanging, running() as server:
        providers = [
            libre(hanging, "hanging", timeout_s=0.3),
            libre(refused_url(), "refused"),
            libre(server.url, "working"),
        ]
        [outcome] = run(providers, ["Received."], "zh-Hans", source="en")
    assert isinstance(outcome, Translated), outcome
    assert outcome.text == "[zh-Hans] Received."
    assert outcome.provenance.provider == "working"


def test_when_every_provider_fails_the_result_names_each_of_them(tmp_path: Path) -> None:
    with running(LibreTranslateServer(mode="error")) as server:
        providers = [
            CTranslate2Provider(tmp_path / "absent", name="local"),
            libre(server.url, "remote"),
        ]
        [outcome] = run(providers, ["收到"], "en", source="zh-Hans")
    assert isinstance(outcome, NotTranslated)
    assert outcome.reason is Reason.UNAVAILABLE
    assert [(a.provider, a.reason) for a in outcome.attempts] == [
        ("local", Reason.UNAVAILABLE),
        ("remote", Reason.FAILED),
    ]
    assert "local: " in outcome.detail and "remote: " in outcome.detail


def test_an_unsupported_pair_gives_way_to_the_reason_that_tells_more(models: Path) -> None:
    providers = [CTranslate2Provider(models, name="local"), libre(refused_url(), "remote")]
    [outcome] = run(providers, ["Received."], "zh-Hans", source="en")
    assert isinstance(outcome, NotTranslated)
    assert (outcome.reason, outcome.provider) == (Reason.UNAVAILABLE, "remote")


def test_a_node_without_providers_says_so() -> None:
    [outcome] = run([], ["Received."], "zh-Hans", source="en")
    assert isinstance(outcome, NotTranslated) and outcome.reason is Reason.NO_PROVIDER


def test_a_provider_that_raises_is_a_failure_and_the_next_one_is_asked() -> None:
    with running() as server:
        alone = run([Exploding()], ["Received."], "zh-Hans", source="en")
        with_fallback = run(
            [Exploding(), libre(server.url, "lt")], ["Received."], "zh-Hans", source="en"
        )
    [failed] = alone
    assert isinstance(failed, NotTranslated) and failed.reason is Reason.FAILED
    assert "KeyError" in failed.detail
    assert isinstance(with_fallback[0], Translated)


def test_a_provider_that_ignores_cancellation_cannot_hold_the_caller_past_the_deadline() -> None:
    stubborn = Stubborn()
    with running() as server:
        [outcome] = run(
            [stubborn, libre(server.url, "lt")],
            ["Received."],
            "zh-Hans",
            source="en",
            deadline_s=0.3,
        )
    stubborn.released = True
    assert isinstance(outcome, NotTranslated) and outcome.reason is Reason.TIMEOUT
    # The deadline was spent on the first provider; the second was never asked.
    assert [(a.provider, a.reason) for a in outcome.attempts] == [
        ("stubborn", Reason.TIMEOUT),
        ("lt", Reason.TIMEOUT),
    ]
    assert server.requests == []


def test_glossary_terms_cross_the_engine_as_placeholders_and_come_back_agreed() -> None:
    with running() as server:
        [outcome] = run([libre(server.url, "lt")], [SENTENCE], "en", source="zh-Hans", terms=[EEZ])
    assert server.requests[0]["q"] == ["我方舰艇在HLT1内航行。"]
    assert isinstance(outcome, Translated)
    assert outcome.text == "[en] 我方舰艇在exclusive economic zone内航行。"
    assert outcome.complete


def test_terms_can_come_from_the_glossary_for_the_pair_being_translated() -> None:
    asked: list[tuple[str, str]] = []

    def terms_for(source: str, target: str) -> list[ProtectedTerm]:
        asked.append((source, target))
        return [EEZ]

    with running() as server:
        [outcome] = run(
            [libre(server.url, "lt")], [SENTENCE], "en", source="zh-Hans", terms=terms_for
        )
    assert asked == [("zh-Hans", "en")]
    assert isinstance(outcome, Translated) and "exclusive economic zone" in outcome.text


def test_a_term_the_engine_loses_is_reported_not_silently_dropped(models: Path) -> None:
    # The tiny model's output is gibberish: the placeholder cannot survive it.
    [outcome] = run([CTranslate2Provider(models)], [SENTENCE], "en", source="zh-Hans", terms=[EEZ])
    assert isinstance(outcome, Translated)
    assert outcome.missing_terms == (EEZ,)
    assert not outcome.complete
    assert outcome.provenance.model == TINY_MODEL_NAME


def test_a_complete_translation_from_a_later_provider_wins_over_one_that_lost_a_term(
    models: Path,
) -> None:
    with running(LibreTranslateServer(mode="drop-placeholders")) as dropping, running() as good:
        providers = [CTranslate2Provider(models), libre(dropping.url, "dropping")]
        kept_first = run(providers, [SENTENCE], "en", source="zh-Hans", terms=[EEZ])
        providers = [
            CTranslate2Provider(models),
            libre(dropping.url, "dropping"),
            libre(good.url, "good"),
        ]
        complete = run(providers, [SENTENCE], "en", source="zh-Hans", terms=[EEZ])
    [first] = kept_first
    assert isinstance(first, Translated) and first.missing_terms == (EEZ,)
    assert first.provenance.model == TINY_MODEL_NAME  # the first incomplete one is kept
    [best] = complete
    assert isinstance(best, Translated) and best.complete
    assert best.provenance.provider == "good"


def test_detection_routes_text_in_an_unexpected_language_to_its_own_pair(
    detector: LanguageDetector,
) -> None:
    texts = [
        "Nous avons bien reçu votre message et nous l'étudions.",
        "我们已收到你方消息，正在研究。",
    ]
    with running() as server:
        french, chinese = run(
            [libre(server.url, "lt")], texts, "en", detector=detector, expected_source="zh-Hans"
        )
    assert isinstance(french, Translated) and french.source == "fr"
    assert isinstance(chinese, Translated) and chinese.source == "zh-Hans"
    assert sorted((r["source"], r["q"][0]) for r in server.requests) == [
        ("fr", texts[0]),
        ("zh-Hans", texts[1]),
    ]


def test_text_too_short_to_tell_falls_back_on_the_expected_language(
    detector: LanguageDetector,
) -> None:
    with running() as server:
        expected = run(
            [libre(server.url, "lt")], ["ok"], "zh-Hans", detector=detector, expected_source="en"
        )
        unexpected = run([libre(server.url, "lt")], ["ok"], "zh-Hans", detector=detector)
    assert isinstance(expected[0], Translated) and expected[0].source == "en"
    [unknown] = unexpected
    assert isinstance(unknown, NotTranslated) and unknown.reason is Reason.UNKNOWN_LANGUAGE


def test_text_already_in_the_readers_language_goes_to_no_engine(
    detector: LanguageDetector,
) -> None:
    with running() as server:
        [outcome] = run(
            [libre(server.url, "lt")],
            ["我们已收到你方消息。"],
            "zh-Hans",
            detector=detector,
            expected_source="en",
        )
    assert isinstance(outcome, NotTranslated) and outcome.reason is Reason.SAME_LANGUAGE
    assert server.requests == []


def test_a_malformed_language_tag_is_refused_clearly() -> None:
    [outcome] = run([], ["Received."], "zh_CN", source="en")
    assert isinstance(outcome, NotTranslated) and outcome.reason is Reason.BAD_LANGUAGE_TAG
    assert "zh_CN" in outcome.detail


def test_settings_describe_the_providers_in_the_order_they_are_tried(models: Path) -> None:
    with running() as server:
        settings = TranslationSettings.model_validate(
            {
                "deadline_s": 5,
                "providers": [
                    {"kind": "ctranslate2", "models": str(models), "name": "local"},
                    {"kind": "libretranslate", "url": server.url, "api_key": "k"},
                ],
            }
        )

        async def go() -> list[Outcome]:
            chain = build_chain(settings)
            try:
                return [
                    await chain.translate_one("收到", "en", source="zh-Hans"),
                    await chain.translate_one("Received.", "zh-Hans", source="en"),
                ]
            finally:
                await chain.aclose()

        local, remote = asyncio.run(go())
    assert isinstance(local, Translated) and local.provenance.provider == "local"
    assert isinstance(remote, Translated) and remote.provenance.provider == "libretranslate"
    assert server.requests[0]["api_key"] == "k"


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"providers": [{"kind": "deepl", "url": "http://x"}]}, "deepl"),
        ({"providers": [{"kind": "libretranslate", "url": "not a url"}]}, "url"),
        ({"providers": [{"kind": "ctranslate2", "models": "/m", "threads": 2}]}, "threads"),
        (
            {
                "providers": [
                    {"kind": "libretranslate", "url": "http://a"},
                    {"kind": "libretranslate", "url": "http://b"},
                ]
            },
            "repeated: libretranslate",
        ),
    ],
)
def test_a_bad_configuration_is_refused_with_the_reason(
    config: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        TranslationSettings.model_validate(config)
