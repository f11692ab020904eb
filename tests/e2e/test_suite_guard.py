"""Under CI=true the whole suite runs: a skipped or deselected test fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests/protocol/test_protocol_keys.py"


def _pytest(*args: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "true" if ci else "false"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TARGET, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_deselecting_a_test_fails_the_run_under_ci(workers: list[str]) -> None:
    args = [*workers, "-k", "not fingerprint"]
    left_out = _pytest(*args, ci=True)
    assert left_out.returncode == 1, left_out.stdout[-2000:]
    assert "deselected" in left_out.stdout and "under CI the whole suite runs" in left_out.stdout


def test_deselecting_a_test_passes_without_ci() -> None:
    """What fails the run above is CI, not the deselection (one process: the workers
    change nothing here, and cost two more interpreters)."""
    assert _pytest("-k", "not fingerprint", ci=False).returncode == 0


def test_the_whole_file_passes_under_ci() -> None:
    result = _pytest(ci=True)
    assert result.returncode == 0, result.stdout[-2000:]
