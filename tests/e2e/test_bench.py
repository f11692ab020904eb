"""The delivery benchmark runs end to end on a small load and reports what its
README figures are read from (the timings themselves are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import machine

ROOT = Path(__file__).resolve().parents[2]


def test_delivery_benchmark_reports_latency_throughput_memory_and_the_machine() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.delivery",
            "--latency-messages",
            "5",
            "--throughput-messages",
            "40",
            "--concurrency",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["latency_ms"]["n"] == 5
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
    assert report["send_committed_ms"]["p50"] <= report["latency_ms"]["max"]
    assert report["throughput"]["messages"] == 40
    assert report["throughput"]["send_failures"] == 0
    assert report["throughput_msgs_per_s"] > 0
    assert set(report["throughput"]["cpu_ms_per_message"]) == {"washington", "beijing"}
    assert 20 < report["rss_mb"] < 1024
    for moment in ("before", "after"):
        assert report["machine"][moment]["cpu_calibration_ms"] > 0
        assert report["machine"][moment]["fsync_ms"] > 0


def test_machine_reading_reports_its_probes_and_leaves_no_file(tmp_path: Path) -> None:
    """What the readings say is the benchmark's business; that they are readings is ours."""
    assert machine.cpu_ms(rounds=3) > 0
    assert machine.fsync_ms(tmp_path, rounds=3) > 0
    assert list(tmp_path.iterdir()) == []  # the probe file is gone


def test_cli_benchmark_reports_help_and_status_start_up() -> None:
    """bench.cli prints p50 and p90 for --help and status (not judged here)."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.cli", "--runs", "2", "--no-serving"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for figure in ("help_ms", "status_ms", "help_cpu_ms", "status_cpu_ms"):
        assert set(report[figure]) == {"p50", "p90"}, figure
        assert 0 < report[figure]["p50"] <= report[figure]["p90"], figure
    assert report["runs"] == 2 and "status_serving_ms" not in report


def test_distance_benchmark_reports_each_round_trip_and_the_loopback_tick() -> None:
    """Both round trips and loopback, end to end with a message or two each (the
    timings themselves are not judged here)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.distance",
            *("--busy", "2", "--gap", "0.1", "--idle", "1", "--idle-seconds", "1"),
            *("--loopback", "2", "--warmup", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, lines  # one JSON object, nothing else
    report = json.loads(lines[0])
    assert set(report) == {"rtt_ms", "loopback_delivered_tick_ms"}
    assert set(report["rtt_ms"]) == {"150", "600"}
    figures = [report["loopback_delivered_tick_ms"]]
    for rtt in report["rtt_ms"].values():
        assert set(rtt) == {"busy_ms", "after_idle_ms"}
        figures += [rtt["busy_ms"], rtt["after_idle_ms"]]
    for figure in figures:
        assert set(figure) == {"p50", "p99"}
        assert 0 < figure["p50"] <= figure["p99"]
    # Through the forwarder a message takes at least its round trip: the delay is real.
    for rtt, figure in report["rtt_ms"].items():
        assert figure["busy_ms"]["p50"] >= int(rtt)
