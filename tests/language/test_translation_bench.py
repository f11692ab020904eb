"""The translation benchmark runs on a small load and reports what it measured, and on what."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hotline.demo.tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.language_mt", "--sentences", "3", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "HOTLINE_MODELS"} | (env or {}),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_without_installed_models_it_measures_the_tiny_model() -> None:
    report = bench()
    assert report["model"] == "tiny-test-model"
    assert report["mt_sentence_ms"]["n"] == 3
    assert 0 < report["mt_sentence_ms"]["p50"] <= report["mt_sentence_ms"]["p99"]


def test_it_measures_the_model_installed_where_hotline_models_points(tmp_path: Path) -> None:
    build_tiny_model(tmp_path / "zh-Hans-en", manifest={"name": "installed-sample"})
    report = bench(env={"HOTLINE_MODELS": str(tmp_path)})
    assert report["model"] == "installed-sample"
    assert report["pair"] == "zh-Hans->en"
