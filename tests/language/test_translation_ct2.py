"""The CTranslate2 provider, loading, tokenizing and running a tiny model built for the session."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from hotline.demo.tiny_model import TARGET_LINES, TINY_MODEL_NAME, build_tiny_model
from hotline.language.translation import (
    CTranslate2Provider,
    NotTranslated,
    ProviderKind,
    Reason,
    Translated,
)
from hotline.language.translation.manifest import scan
from hotline.language.translation.outcome import Outcome

HAN = re.compile(r"[\u3400-\u9fff]")
TARGET_CHARACTERS = set("".join(TARGET_LINES)) | {" "}


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    build_tiny_model(directory / "zh-Hans-en")
    return directory


def translate(
    provider: CTranslate2Provider, texts: list[str], source: str, target: str
) -> list[Outcome]:
    async def go() -> list[Outcome]:
        try:
            return await provider.translate(texts, source, target)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def only(outcomes: list[Outcome]) -> Outcome:
    assert len(outcomes) == 1
    return outcomes[0]


def test_the_installed_model_translates_into_its_target_vocabulary_and_names_itself(
    models: Path,
) -> None:
    texts = ["请确认收到本消息。", "船只正在离开该海域。"]
    outcomes = translate(CTranslate2Provider(models, name="local"), texts, "zh-Hans", "en")
    assert len(outcomes) == 2
    for outcome in outcomes:
        assert isinstance(outcome, Translated), outcome
        # Gibberish, but English gibberish: the target model's pieces, never the source's.
        assert outcome.text.strip()
        assert not HAN.search(outcome.text)
        assert set(outcome.text) <= TARGET_CHARACTERS
        assert (outcome.source, outcome.target) == ("zh-Hans", "en")
        assert outcome.provenance.provider == "local"
        assert outcome.provenance.kind is ProviderKind.CTRANSLATE2
        assert outcome.provenance.model == TINY_MODEL_NAME
        assert outcome.provenance.engine.startswith("ctranslate2 4.")


def test_a_message_is_translated_sentence_by_sentence_in_its_own_layout(models: Path) -> None:
    outcome = only(
        translate(
            CTranslate2Provider(models),
            ["我们将在十八点前答复。请确认。\n\n这是一次定期线路测试。"],
            "zh-Hant",  # the model's manifest lists traditional Chinese as a source too
            "en",
        )
    )
    assert isinstance(outcome, Translated), outcome
    first, second = outcome.text.split("\n\n")
    assert first.strip() and second.strip() and not HAN.search(outcome.text)


def test_a_pair_without_an_installed_model_is_unsupported(models: Path) -> None:
    outcome = only(translate(CTranslate2Provider(models), ["Received."], "en", "zh-Hans"))
    assert isinstance(outcome, NotTranslated)
    assert outcome.reason is Reason.UNSUPPORTED_PAIR
    assert "en -> zh-Hans" in outcome.detail


def test_a_missing_models_directory_makes_the_provider_unavailable(tmp_path: Path) -> None:
    provider = CTranslate2Provider(tmp_path / "nowhere", name="local")
    outcome = only(translate(provider, ["收到"], "zh-Hans", "en"))
    assert isinstance(outcome, NotTranslated)
    assert (outcome.reason, outcome.provider) == (Reason.UNAVAILABLE, "local")
    assert "nowhere" in outcome.detail


def test_an_unreadable_manifest_is_named_when_no_model_serves_the_pair(
    models: Path, tmp_path: Path
) -> None:
    shutil.copytree(models, tmp_path / "models")
    broken = tmp_path / "models" / "en-zh-Hans"
    broken.mkdir()
    (broken / "hotline-model.json").write_text('{"name": "opus-mt-en-zh", "source_languages": ')
    outcome = only(translate(CTranslate2Provider(tmp_path / "models"), ["Hi"], "en", "zh-Hans"))
    assert isinstance(outcome, NotTranslated)
    assert outcome.reason is Reason.UNSUPPORTED_PAIR
    assert str(broken / "hotline-model.json") in outcome.detail


def test_a_model_with_corrupt_weights_is_unavailable_and_says_which(
    models: Path, tmp_path: Path
) -> None:
    shutil.copytree(models, tmp_path / "models")
    (tmp_path / "models" / "zh-Hans-en" / "model.bin").write_bytes(b"\x00not a model" * 10)
    outcome = only(translate(CTranslate2Provider(tmp_path / "models"), ["收到"], "zh-Hans", "en"))
    assert isinstance(outcome, NotTranslated)
    assert outcome.reason is Reason.UNAVAILABLE
    assert TINY_MODEL_NAME in outcome.detail


def test_a_model_installed_while_the_node_runs_is_used_without_a_restart(
    models: Path, tmp_path: Path
) -> None:
    (tmp_path / "models").mkdir()
    provider = CTranslate2Provider(tmp_path / "models")

    async def go() -> tuple[Outcome, Outcome]:
        before = only(await provider.translate(["收到"], "zh-Hans", "en"))
        shutil.copytree(models / "zh-Hans-en", tmp_path / "models" / "zh-Hans-en")
        after = only(await provider.translate(["收到"], "zh-Hans", "en"))
        await provider.aclose()
        return before, after

    before, after = asyncio.run(go())
    assert isinstance(before, NotTranslated) and before.reason is Reason.UNSUPPORTED_PAIR
    assert isinstance(after, Translated)


def test_language_tokens_frame_the_source_and_the_forced_target_prefix_is_removed(
    tmp_path: Path,
) -> None:
    # NLLB's conventions: "zho_Hans ... </s>" in, "eng_Latn ..." out.
    build_tiny_model(
        tmp_path / "models" / "nllb-like",
        language_tokens=("eng_Latn", "zho_Hans"),
        manifest={
            "language_tokens": {"en": "eng_Latn", "zh-Hans": "zho_Hans"},
            "source_prefix": ["{source}"],
            "target_prefix": ["{target}"],
        },
    )
    outcome = only(translate(CTranslate2Provider(tmp_path / "models"), ["收到"], "zh-Hans", "en"))
    assert isinstance(outcome, Translated), outcome
    assert "eng_Latn" not in outcome.text and "⁇" not in outcome.text
    assert outcome.text.strip() and set(outcome.text) <= TARGET_CHARACTERS


def test_requests_beyond_the_queue_are_told_at_once_that_it_is_full(models: Path) -> None:
    provider = CTranslate2Provider(models, queue_size=1)

    async def go() -> list[Outcome]:
        batches = await asyncio.gather(
            *(provider.translate(["收到"], "zh-Hans", "en") for _ in range(3))
        )
        await provider.aclose()
        return [only(batch) for batch in batches]

    first, second, third = asyncio.run(go())
    assert isinstance(first, Translated)
    for refused in (second, third):
        assert isinstance(refused, NotTranslated) and refused.reason is Reason.OVERLOADED


def test_a_stuck_engine_times_out_keeps_its_queue_place_and_never_blocks_the_event_loop(
    models: Path, tmp_path: Path
) -> None:
    # The model's tokenizer file is a named pipe: loading it blocks the worker until the test
    # opens the other end, as a model on a hung disk would.
    model = tmp_path / "models" / "zh-Hans-en"
    shutil.copytree(models / "zh-Hans-en", model)
    os.replace(model / "source.spm", tmp_path / "source.spm")
    os.mkfifo(tmp_path / "pipe")
    (model / "source.spm").symlink_to(tmp_path / "pipe")
    provider = CTranslate2Provider(tmp_path / "models", queue_size=1, timeout_s=0.3)

    async def go() -> tuple[Outcome, Outcome, int, Outcome]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        stuck = only(await provider.translate(["收到"], "zh-Hans", "en"))
        ticker.cancel()
        behind = only(await provider.translate(["收到"], "zh-Hans", "en"))
        # Install the real file, then let the stuck load go on (it reads an empty pipe and
        # fails, with nobody waiting for it) and free its place.
        os.replace(tmp_path / "source.spm", model / "source.spm")
        threading.Thread(target=lambda: open(tmp_path / "pipe", "wb").close()).start()
        for _ in range(500):
            later = only(await provider.translate(["收到"], "zh-Hans", "en"))
            if not (isinstance(later, NotTranslated) and later.reason is Reason.OVERLOADED):
                break
            await asyncio.sleep(0.02)
        await provider.aclose()
        return stuck, behind, ticks, later

    stuck, behind, ticks, later = asyncio.run(go())
    assert isinstance(stuck, NotTranslated) and stuck.reason is Reason.TIMEOUT
    assert isinstance(behind, NotTranslated) and behind.reason is Reason.OVERLOADED
    assert ticks > 1  # the loop ran other work while the engine was stuck
    assert isinstance(later, Translated), later


def test_manifests_are_checked_and_problems_reported(tmp_path: Path) -> None:
    for name, manifest in {
        "bad-tag": '{"name": "m", "source_languages": ["zh_CN"], "target_languages": ["en"]}',
        "escape": (
            '{"name": "m", "source_languages": ["en"], "target_languages": ["de"],'
            ' "source_spm": "../../etc/passwd"}'
        ),
        "good": '{"name": "m", "source_languages": ["en"], "target_languages": ["fr"]}',
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "hotline-model.json").write_text(manifest)
    (tmp_path / "no-manifest").mkdir()
    catalogue = scan(tmp_path)
    assert [m.directory.name for m in catalogue.models] == ["good"]
    assert len(catalogue.problems) == 2
    assert "zh_CN" in catalogue.problems[0]
    assert "file name inside the model's directory" in catalogue.problems[1]
