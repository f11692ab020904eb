"""Language detection: English and Chinese told apart, the script of Chinese, no wild guesses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from hotline.language.translation import LanguageDetector


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


@pytest.fixture(scope="module")
def node_detector() -> LanguageDetector:
    """As a node detects by default: English or Chinese, Lingua's low-accuracy models."""
    return LanguageDetector(["en", "zh"], high_accuracy=False)


@pytest.mark.parametrize(
    "text",
    [
        "We have received your message and are studying it.",
        "The aircraft will hold its position until further notice.",
        "Please confirm receipt of this message.",
        "Acknowledged",
    ],
)
def test_english_sentences_are_english(
    detector: LanguageDetector, node_detector: LanguageDetector, text: str
) -> None:
    for judge in (detector, node_detector):
        detection = judge.detect(text)
        assert detection.tag == "en"
        assert detection.known and 0 < detection.confidence <= 1


@pytest.mark.parametrize(
    "text",
    ["我们已收到你方消息，正在研究。", "飞机将保持当前位置，直到另行通知。", "收到", "请确认"],
)
def test_simplified_chinese_is_zh_hans(
    detector: LanguageDetector, node_detector: LanguageDetector, text: str
) -> None:
    assert detector.detect(text).tag == node_detector.detect(text).tag == "zh-Hans"


def test_traditional_chinese_is_zh_hant(detector: LanguageDetector) -> None:
    assert detector.detect("我們已收到你方訊息，正在研究。").tag == "zh-Hant"


def test_a_language_beside_english_and_chinese_is_named(detector: LanguageDetector) -> None:
    assert detector.detect("Мы получили ваше сообщение и изучаем его.").tag == "ru"
    assert detector.detect("私たちはあなたのメッセージを受け取りました。").tag == "ja"


@pytest.mark.parametrize("text", ["ok", "Hi", "是", "", "   ", "12:30", "!!!", "OK."])
def test_too_little_text_is_unknown_rather_than_a_guess(
    detector: LanguageDetector, text: str
) -> None:
    detection = detector.detect(text)
    assert detection.tag == "unknown" and not detection.known
    assert detection.confidence == 0


@pytest.mark.parametrize("text", ["Roger", "Yes Sir", "Taxi"])
def test_words_shared_by_several_languages_are_unknown(
    detector: LanguageDetector, text: str
) -> None:
    assert detector.detect(text).tag == "unknown"


def test_candidates_are_checked_when_the_detector_is_made() -> None:
    with pytest.raises(ValueError, match="xx"):
        LanguageDetector(["en", "xx"])
    with pytest.raises(ValueError, match="two candidate"):
        LanguageDetector(["en"])


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_detection_works_with_no_network_at_all() -> None:
    # A new network namespace has no interfaces but a down loopback: any download would fail.
    probe = (
        "import json; from hotline.language.translation import LanguageDetector as D; d = D();"
        "d.warm_up(); print(json.dumps([d.detect(t).tag for t in"
        " ['We will reply before noon.', '我们将在中午前答复。']]))"
    )
    unshare = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if unshare.returncode != 0:
        pytest.skip(f"cannot make a network namespace: {unshare.stderr.decode().strip()}")
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == ["en", "zh-Hans"]
