"""The command line, end to end on real data directories (no server needed)."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli import app
from hotline.demo import free_port
from hotline.node.heartbeat_timings import DEFAULT_TIMINGS
from hotline.node.home import NodeHome
from hotline.protocol.invitation import dearmour

runner = CliRunner()


def hl(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, " ".join(result.output.split())  # rich wraps long lines


@pytest.fixture
def two_homes(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "w", tmp_path / "b"
    for party, home in (("washington", a), ("beijing", b)):
        code, output = hl(
            "init",
            party,
            "--home",
            str(home),
            "--peer-port",
            str(free_port()),
            "--local-port",
            str(free_port()),
        )
        assert code == 0, output
        assert "Fingerprint" in output
    return a, b


def fingerprint(home: Path) -> str:
    return NodeHome(home).load_identity().public.fingerprint


def test_init_makes_secrets_private_and_refuses_a_second_init(two_homes: tuple[Path, Path]) -> None:
    a, _ = two_homes
    for secret in ("identity.key", "tls/key.pem", "api.token"):
        assert stat.S_IMODE(os.stat(a / secret).st_mode) == 0o600, secret
    code, output = hl("init", "washington", "--home", str(a))
    assert code == 1 and "already holds a node" in output
    code, output = hl("init", "Bad Name!", "--home", str(a.parent / "x"))
    assert code == 1 and "invalid" in output


def test_link_setup_send_inbox_status_export_verify(
    two_homes: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = two_homes
    invite, accept = tmp_path / "invite.txt", tmp_path / "accept.txt"
    code, output = hl(
        "link",
        "invite",
        "defence",
        "--purpose",
        "Defence link",
        "-o",
        str(invite),
        "--home",
        str(a),
    )
    assert code == 0, output
    # A fingerprint that does not match is refused; nothing is set up.
    code, output = hl(
        "link",
        "accept",
        str(invite),
        "-o",
        str(accept),
        "--fingerprint",
        "1" * 40,
        "--home",
        str(b),
    )
    assert code == 3 and "does not match" in output
    code, output = hl(
        "link", "accept", str(invite), "-o", str(accept), "--home", str(b), input="n\n"
    )
    assert code == 3
    code, output = hl(
        "link",
        "accept",
        str(invite),
        "-o",
        str(accept),
        "--fingerprint",
        fingerprint(a),
        "--home",
        str(b),
    )
    assert code == 0, output
    # Reusing the invitation is refused.
    code, output = hl(
        "link",
        "accept",
        str(invite),
        "-o",
        str(tmp_path / "again"),
        "--fingerprint",
        fingerprint(a),
        "--home",
        str(b),
    )
    assert code == 1 and "already" in output
    code, output = hl(
        "link", "complete", str(accept), "--fingerprint", fingerprint(b), "--home", str(a)
    )
    assert code == 0, output
    code, output = hl(
        "link", "complete", str(accept), "--fingerprint", fingerprint(b), "--home", str(a)
    )
    assert code == 1 and "already been used" in output
    code, output = hl("link", "list", "--json", "--home", str(a))
    assert json.loads(output)[0]["peer"] == "beijing"

    code, output = hl("send", "defence", "Request for information", "--home", str(a))
    assert code == 0 and "queued" in output
    code, output = hl("send", "nolink", "x", "--home", str(a))
    assert code == 1 and "no link named 'nolink'" in output
    code, output = hl("send", "defence", "   ", "--home", str(a))
    assert code == 1 and "non-empty" in output
    code, output = hl("inbox", "--json", "--home", str(a))
    [message] = json.loads(output)
    assert message["status"] == "queued" and message["ladder"]["delivered"] is None
    code, output = hl("status", "--json", "--home", str(a))
    # The message, and policy version 1 proposed when the link was completed.
    assert json.loads(output)["links"][0]["outbox_depth"] == 2

    bundle = tmp_path / "w.json"
    code, output = hl("export", "defence", "-o", str(bundle), "--home", str(a))
    assert code == 0, output
    code, output = hl("verify", str(bundle))
    assert code == 0 and "2 entries" in output
    code, output = hl("audit", "--action", "record.export", "--json", "--home", str(a))
    [exported] = json.loads(output)
    assert exported["target"] == "defence" and exported["username"].startswith("cli:")
    assert exported["detail"]["entries"] == 2 and exported["detail"]["file"] == str(bundle)
    # A tampered bundle: the first fault is reported precisely.
    document = json.loads(bundle.read_text())
    document["entries"][0]["payload"] = document["entries"][0]["payload"][:-8] + "AAAAAAA="
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    code, output = hl("verify", str(bad))
    assert code == 4
    assert "entry #1" in output and "washington seq 1" in output


def test_tampered_and_expired_invitations_are_refused(
    two_homes: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = two_homes
    invite = tmp_path / "invite.txt"
    assert (
        hl("link", "invite", "defence", "--purpose", "p", "-o", str(invite), "--home", str(a))[0]
        == 0
    )
    text = invite.read_text()
    lines = text.splitlines()
    body_line = next(i for i, line in enumerate(lines) if line == "") + 2
    lines[body_line] = (
        lines[body_line][:10]
        + ("A" if lines[body_line][10] != "A" else "B")
        + lines[body_line][11:]
    )
    tampered = tmp_path / "tampered.txt"
    tampered.write_text("\n".join(lines) + "\n")
    code, output = hl(
        "link", "accept", str(tampered), "-o", str(tmp_path / "x"), "--home", str(b), input="y\n"
    )
    assert code == 1 and "invitation refused" in output
    expired = tmp_path / "expired.txt"
    assert (
        hl(
            "link",
            "invite",
            "other",
            "--purpose",
            "p",
            "-o",
            str(expired),
            "--valid-hours",
            "0.000003",
            "--home",
            str(a),
        )[0]
        == 0
    )
    time.sleep(0.05)
    code, output = hl(
        "link", "accept", str(expired), "-o", str(tmp_path / "y"), "--home", str(b), input="y\n"
    )
    assert code == 1 and "expired" in output
    dearmour("INVITATION", text)  # the untampered one still reads


def test_every_command_has_help() -> None:
    for command in (
        [],
        ["init"],
        ["serve"],
        ["link"],
        ["link", "invite"],
        ["link", "accept"],
        ["link", "complete"],
        ["link", "list"],
        ["send"],
        ["inbox"],
        ["status"],
        ["export"],
        ["verify"],
        ["demo"],
    ):
        code, output = hl(*command, "--help")
        assert code == 0 and "Usage" in output, command


def test_the_cli_shows_changes_and_resets_the_timings_and_refuses_bad_ones(
    two_homes: tuple[Path, Path],
) -> None:
    home = str(two_homes[0])
    code, output = hl("heartbeats", "--json", "--home", home)
    assert code == 0 and json.loads(output) == DEFAULT_TIMINGS.model_dump()

    # A satellite path: round trips near 600 ms, a heartbeat every 5 s.
    code, output = hl(
        "heartbeats",
        *("--interval", "5", "--timeout", "3", "--connect", "2"),
        *("--slow-rtt", "1500", "--down-after", "12000", "--home", home),
    )
    assert code == 0, output
    assert "restart the node" in output
    saved = NodeHome(Path(home)).load_config().heartbeats
    assert (saved.interval_s, saved.timeout_s, saved.slow_rtt_ms) == (5, 3, 1_500)
    assert saved.failback_successes == DEFAULT_TIMINGS.failback_successes  # untouched

    # Contradictions are refused with the reason, and change nothing.
    code, output = hl("heartbeats", "--interval", "20", "--home", home)
    assert code == 1 and "between two heartbeats" in output and "nothing changed" in output
    code, output = hl("heartbeats", "--connect", "4", "--home", home)
    assert code == 1 and "connect_s" in output
    code, output = hl("heartbeats", "--down-after-failures", "0", "--home", home)
    assert code == 1 and "down_after_failures" in output
    assert NodeHome(Path(home)).load_config().heartbeats == saved

    code, output = hl("heartbeats", "--reset", "--json", "--home", home)
    assert code == 0 and NodeHome(Path(home)).load_config().heartbeats == DEFAULT_TIMINGS

    # A node.json written before the setting existed loads with the defaults.
    path = Path(home) / "node.json"
    config = json.loads(path.read_text())
    del config["heartbeats"]
    path.write_text(json.dumps(config))
    assert NodeHome(Path(home)).load_config().heartbeats == DEFAULT_TIMINGS
