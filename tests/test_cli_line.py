"""The link's rules from the command line: policy show / propose / accept, escalation
set / show, link tests, statistics, overdue items and alerts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hotline.node.home import NodeHome
from hotline.node.line import watch
from hotline.node.service import Node
from tests.test_cli import fingerprint, hl
from tests.test_line import pump


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "w", tmp_path / "b"
    for party, home in (("washington", a), ("beijing", b)):
        code, output = hl("init", party, "--home", str(home), "--peer-port", "0")
        assert code == 0, output
    return a, b


def linked(a: Path, b: Path, tmp_path: Path) -> None:
    invite, accept = tmp_path / "invite.txt", tmp_path / "accept.txt"
    hl(
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
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"link_test": {"interval_s": 5, "confirm_s": 60}}))
    code, output = hl(
        "link",
        "complete",
        str(accept),
        "--fingerprint",
        fingerprint(b),
        "--policy",
        str(policy),
        "--home",
        str(a),
    )
    assert code == 1 and "the link is not completed" in output and "malformed" in output
    policy.write_text(json.dumps({"link_test": {"interval_s": 600, "confirm_s": 60}}))
    code, output = hl(
        "link",
        "complete",
        str(accept),
        "--fingerprint",
        fingerprint(b),
        "--policy",
        str(policy),
        "--home",
        str(a),
    )
    assert code == 0, output
    assert "Proposed policy version 1" in output and "hotline policy accept defence 1" in output


def nodes(a: Path, b: Path) -> tuple[Node, Node]:
    return Node(NodeHome(a)), Node(NodeHome(b))


def test_policy_escalation_tests_and_stats_commands(
    homes: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = homes
    linked(a, b, tmp_path)
    w, bj = nodes(a, b)
    try:
        code, output = hl("policy", "show", "defence", "--home", str(a))
        assert code == 0 and "no policy in force" in output and "Version 1 proposed" in output
        pump(w, bj, "defence")
        code, output = hl("policy", "accept", "defence", "2", "--home", str(b))
        assert code == 1 and "no_proposal" in output
        code, output = hl("policy", "accept", "defence", "1", "--home", str(b))
        assert code == 0 and "version 1 on defence is in force" in output, output
        pump(w, bj, "defence")
        code, output = hl("policy", "show", "defence", "--json", "--home", str(a))
        state = json.loads(output)
        assert state["version"] == 1 and state["signed_by"] == ["washington", "beijing"]
        assert state["in_force"]["link_test"] == {"interval_s": 600, "confirm_s": 60}
        code, output = hl("policy", "show", "defence", "--home", str(b))
        assert "signed by washington and beijing" in output and "airspace-object" in output
        # Amendments: by options, by file; bad ones are refused with their code.
        code, output = hl(
            "policy",
            "propose",
            "defence",
            "--no-two-person-rule",
            "--link-test-interval",
            "0",
            "--home",
            str(b),
        )
        assert code == 0 and "Proposed policy version 2" in output, output
        pump(w, bj, "defence")
        code, output = hl("policy", "show", "defence", "--home", str(a))
        assert "Version 2 proposed by beijing" in output
        assert "+ two-person rule for emergency activations: False" in output
        assert "criterion airspace-object" in output
        assert "+ criterion airspace-object" not in output  # unchanged: no "+"
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"colour": "red"}))
        code, output = hl("policy", "propose", "defence", "--file", str(bad), "--home", str(a))
        assert code == 1 and "unknown_field" in output
        pump(w, bj, "defence")
        code, output = hl("policy", "accept", "defence", "2", "--home", str(a))
        assert code == 0, output
        pump(w, bj, "defence")
        assert (
            json.loads(hl("policy", "show", "defence", "--json", "--home", str(b))[1])["in_force"][
                "two_person_rule"
            ]
            is False
        )
        # Escalation: refused when it names an unknown role; then set and shown.
        esc = tmp_path / "esc.json"
        esc.write_text(
            json.dumps(
                {"acknowledged": {"deadline_s": 1, "actions": [{"do": "alert", "role": "boss"}]}}
            )
        )
        code, output = hl("escalation", "set", "defence", "--file", str(esc), "--home", str(a))
        assert code == 1 and "unknown_role" in output
        code, output = hl("escalation", "show", "defence", "--home", str(a))
        assert json.loads(output)["policy"] is None
        esc.write_text(
            json.dumps(
                {
                    "acknowledged": {
                        "deadline_s": 1,
                        "actions": [{"do": "alert", "role": "supervisor"}],
                    }
                }
            )
        )
        code, output = hl("escalation", "set", "defence", "--file", str(esc), "--home", str(a))
        assert code == 0 and "acknowledged" in output
        code, output = hl("escalation", "set", "leaders", "--file", str(esc), "--home", str(a))
        assert code == 1 and "unknown_link" in output
        code, output = hl("send", "defence", "Request for information", "--home", str(a))
        assert code == 0
        sent = w.messages("defence")[-1]
        time.sleep(1.1)  # the deadline to acknowledge is 1 s
        [step] = watch(w).steps
        assert step.action == "alert"
        code, output = hl("overdue", "--json", "--home", str(a))
        [item] = json.loads(output)
        assert item["id"] == sent.id and item["awaiting"] == "acknowledged"
        assert item["waiting_ms"] >= 1_000 and item["steps"] == 1
        code, output = hl("alerts", "--home", str(a))
        assert "supervisor" in output and sent.id in output
        pump(w, bj, "defence")
        code, output = hl("stats", "defence", "--json", "--home", str(b))
        assert json.loads(output)["totals"]["routine"] == {"out": 0, "in": 1}
        code, output = hl("stats", "defence", "--bucket", "hour", "--home", str(a))
        assert code == 0 and "total" in output
        code, output = hl("stats", "defence", "--bucket", "week", "--home", str(a))
        assert code == 1 and "unknown_bucket" in output
        code, output = hl("link", "confirm-test", "01HF7YAT001WF2TF2BB9MQH1WP", "--home", str(b))
        assert code == 1 and "unknown_test" in output
        bundle = tmp_path / "b.json"
        code, output = hl("export", "defence", "-o", str(bundle), "--home", str(b))
        assert code == 0, output
        code, output = hl("verify", str(bundle))
        assert code == 0, output
        assert "policy version 1 signed by washington and beijing" in output
        assert "policy version 2 signed by beijing and washington" in output
    finally:
        w.close()
        bj.close()
