"""`hotline demo`, as `make demo` runs it: the script, then both consoles kept up."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hotline.demo import free_port


def test_demo_once_replays_the_incident_and_both_records_agree(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hotline", "demo", "--once", "--directory", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Policy version 1 of link defence signed by both sides" in output
    assert "both records hold exactly the same signed entries" in output
    assert output.count("ladder: transmitted") == 4
    assert "Consoles" not in output
    assert (tmp_path / "washington-record.json").exists()


def test_demo_serves_both_consoles_until_interrupted(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hotline", "demo", "--directory", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "press Ctrl-C to stop" in line or "hotline demo --once" in line:
                break
        text = "".join(lines)
        consoles = dict(re.findall(r"^(washington|beijing): console (\S+)/$", text, re.M))
        assert set(consoles) == {"washington", "beijing"}, text[-3000:]
        beijing = text.split("beijing: console", 1)[1]
        password = re.search(r"^\s+duty\s+(\S+)\s+duty officer \(zh-Hans\)$", beijing, re.M)
        assert password, beijing
        with httpx.Client(base_url=consoles["beijing"], follow_redirects=True) as browser:
            form = browser.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf
            board = browser.post(
                "/login",
                data={"username": "duty", "password": password.group(1), "csrf": csrf.group(1)},
            )
            assert board.status_code == 200 and "线路总览" in board.text
            assert "defence" in board.text
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_free_ports_come_from_the_range_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers of the test suite (and demos run side by side) each pick from their
    own share, so two never take the same port between the check and the bind."""
    monkeypatch.setenv("HOTLINE_PORT_RANGE", "24000-24019")
    picked = [free_port() for _ in range(10)]
    assert set(picked) <= set(range(24_000, 24_020))
    assert len(set(picked)) == 10  # never one handed out recently, not yet bound
    for wrong in ("24000", "30000-20000", "80-90", "a-b"):
        monkeypatch.setenv("HOTLINE_PORT_RANGE", wrong)
        with pytest.raises(ValueError, match="HOTLINE_PORT_RANGE"):
            free_port()
