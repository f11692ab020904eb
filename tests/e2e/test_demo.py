"""`hotline demo`, as `make demo` runs it: the script, then both consoles kept up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.demo import free_port
from hotline.demo.language import TOY_MODEL_NAME
from tests.harness import hotline_ok

REQUEST = "Request for information: state who operates the balloon"


def test_demo_once_replays_the_incident_and_both_records_agree(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hotline", "demo", "--once", "--directory", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "300"},  # no line wrapped within a phrase looked for
    )
    output = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Policy version 1 of link defence signed by both sides" in output
    assert "both records hold exactly the same signed entries" in output
    assert output.count("ladder: transmitted") == 4
    assert "Consoles" not in output
    assert (tmp_path / "washington-record.json").exists()
    # No real model given: the toy stand-in, said so, with the way to a real one.
    assert "TOY STAND-IN" in output and "docs/language.md" in output
    assert "玩具替代模型" in output
    assert output.count("[agreed text / 约定文本]") == 2
    assert "glossary term / 术语表术语" in output and "territorial airspace / 领空" in output
    assert "washington sees how it was understood" in output
    _the_demo_used_the_language_layer(tmp_path)


def _inbox(home: Path) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = hotline_ok("inbox", "--json", "--home", home).json()
    return listed


def _the_demo_used_the_language_layer(base: Path) -> None:
    """Read back from each node's own data, as its operator would, after the demo."""
    for party in ("washington", "beijing"):
        for document in ("phrasebook", "glossary"):
            state = hotline_ok(
                document, "show", "--link", "defence", "--json", "--home", base / party
            ).json()
            assert state["version"] == 1 and state["signed_by"] == ["washington", "beijing"]
    beijing, washington = _inbox(base / "beijing"), _inbox(base / "washington")
    # Washington's emergency notification and Beijing's holding reply are agreed texts,
    # rendered in both languages on both sides.
    for inbox in (beijing, washington):
        agreed = {m["body"]["entry"]: m["agreed"] for m in inbox if m["kind"] == "message.agreed"}
        assert set(agreed) == {"object-observed", "holding-reply-v1"}
        for found in agreed.values():
            assert found["version"] == 1
            assert found["rendered"]["en"] and found["rendered"]["zh-Hans"]
        assert "北纬45°46.8′" in agreed["object-observed"]["rendered"]["zh-Hans"]
        assert "60,000 feet" in agreed["object-observed"]["rendered"]["en"]
    # The free-text question: machine-translated on Beijing (by the toy model), then
    # verified by Beijing's translator; the verified rendering reached Washington.
    [asked] = [m for m in beijing if m["body"].get("text", "").startswith(REQUEST)]
    [ours] = asked["translations"]
    assert ours["side"] == "ours" and ours["state"] == "verified"
    assert ours["target"] == "zh-Hans" and "领空" in ours["text"]
    assert ours["verified_by"] == "Beijing translator (translator)"
    assert ours["provenance"]["machine"]["model"] == TOY_MODEL_NAME
    assert ours["provenance"]["verified"]["edited"] is True
    [sent] = [m for m in washington if m["id"] == asked["id"]]
    [theirs] = sent["translations"]
    assert theirs["side"] == "theirs" and theirs["state"] == "verified"
    assert theirs["text"] == ours["text"] and theirs["entry"] == ours["entry"]


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
