"""The language benchmark runs on small sizes and reports every key it promises (the
timings themselves are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hotline.language.glossary import shipped_glossary
from hotline.language.phrasebook import shipped_phrasebook

ROOT = Path(__file__).resolve().parents[2]


def test_language_benchmark_reports_counts_render_and_search_times() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.language",
            "--renders",
            "50",
            "--searches",
            "20",
            "--entries",
            "300",
            "--messages",
            "5",
            "--pairs",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["phrasebook_entries"] == len(shipped_phrasebook().entries)
    assert report["glossary_terms"] == len(shipped_glossary().terms)
    assert report["agreed_render_ms"]["n"] == 50
    assert report["phrasebook_search_ms"]["n"] == 20
    assert report["to_screen_translated_ms"]["n"] == 5
    assert report["delivery_p50_ratio_with_translation"] > 0
    assert report["phrasebook_search_ms"]["entries"] == 300
    for key in ("agreed_render_ms", "phrasebook_search_ms"):
        assert 0 < report[key]["p50"] <= report[key]["p99"] <= report[key]["max"]


def test_one_measurement_can_run_alone() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.language", "--only", "glossary_terms"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {"glossary_terms": len(shipped_glossary().terms)}
