"""The coverage-guided fuzzers (fuzz/, atheris): a bounded run of each, and their checks.

Each target runs as ``python -m fuzz TARGET`` in a subprocess, seeded from the
published vectors, for a fixed number of inputs with a fixed libFuzzer seed (a few
seconds each); ``make fuzz`` runs them for longer. The targets' own checks are also
run here on inputs the specification refuses, and against a protocol with one check
removed, which they must catch: a fuzzer whose checks pass whatever happens would
find nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("atheris")

from fuzz import targets
from hotline.protocol import bundle as bundle_module
from hotline.protocol import envelope as envelope_module
from hotline.protocol import invitation as invitation_module
from hotline.protocol.encoding import decode, encode

ROOT = Path(__file__).resolve().parents[2]
RUNS = 20_000


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_a_bounded_fuzzing_run_finds_nothing(target: str, tmp_path: Path) -> None:
    corpus, artifacts = tmp_path / "corpus", tmp_path / "artifacts"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fuzz",
            target,
            f"--runs={RUNS}",
            "--seconds=120",  # a bound for a slow machine; the runs end it first
            "--seed=1",
            f"--corpus={corpus}",
            f"--artifacts={artifacts}",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert not list(artifacts.glob("crash-*"))
    done = re.search(r"Done (\d+) runs", run.stderr)
    assert done is not None, run.stderr[-2000:]
    executed = int(done.group(1))
    # libFuzzer counts the corpus's own inputs too: a run or two beyond --runs.
    assert executed >= RUNS or "max_total_time" in run.stderr
    seeds = {bytes(seed) for seed in targets.TARGETS[target][1]()}
    assert len(list(corpus.iterdir())) > len(seeds), "the fuzzer kept no input of its own"
    # Coverage grew beyond the seeds: the run explored, not only replayed.
    initial = re.search(r"INITED cov: (\d+)", run.stderr)
    final = re.search(r"DONE\s+cov: (\d+)", run.stderr)
    assert initial and final and int(final.group(1)) > int(initial.group(1)), run.stderr[-2000:]


def flipped_version(wire: bytes) -> bytes:
    assert wire[:2] == b"\x83\x01"
    return b"\x83\xf5" + wire[2:]


@pytest.mark.parametrize(
    ("check", "data"),
    [
        (targets.envelope, b""),
        (targets.envelope, sorted(targets.GENUINE_ENVELOPES)[0]),
        (targets.envelope, flipped_version(sorted(targets.GENUINE_ENVELOPES)[0])),
        (targets.bundle, targets.BUNDLE_JSON.encode()),
        (targets.bundle, targets.BUNDLE_JSON.replace('"version": 1', '"version": true').encode()),
        (targets.invitation, targets.INVITATION_TEXT.encode()),
        (targets.invitation, targets.ACCEPTANCE_SIGNED),
        (targets.invitation, b"\xff\xfe"),
    ],
)
def test_the_targets_pass_on_genuine_and_refused_inputs(
    check: Callable[[bytes], None], data: bytes
) -> None:
    check(data)


def _no_signature_check(*_: object) -> None:
    pass


def test_the_envelope_target_catches_an_envelope_verified_without_its_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wire = sorted(targets.GENUINE_ENVELOPES)[0]
    changed = wire[:-1] + bytes([wire[-1] ^ 1])
    targets.envelope(changed)
    monkeypatch.setattr(envelope_module, "verify_signature", _no_signature_check)
    with pytest.raises(AssertionError, match="never signed"):
        targets.envelope(changed)


def test_the_envelope_target_catches_a_second_wire_form(monkeypatch: pytest.MonkeyPatch) -> None:
    wire = flipped_version(sorted(targets.GENUINE_ENVELOPES)[0])
    monkeypatch.setattr(envelope_module, "is_version", lambda value, expected: value == expected)
    with pytest.raises(AssertionError, match="second wire form"):
        targets.envelope(wire)


def test_the_bundle_target_catches_a_lenient_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    text = targets.BUNDLE_JSON.replace('"version": 1', '"version": true').encode()
    monkeypatch.setattr(bundle_module, "is_version", lambda value, expected: value == expected)
    with pytest.raises(AssertionError, match="changed bundle verified"):
        targets.bundle(text)


def test_the_invitation_target_catches_a_reader_without_signatures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed, signature = invitation_module.dearmour("INVITATION", targets.INVITATION_TEXT)
    body = decode(signed, max_size=len(signed))
    body["purpose"] = body["purpose"] + "!"
    text = invitation_module.armour("INVITATION", encode(body), signature, [])
    targets.invitation(text.encode())
    monkeypatch.setattr(invitation_module, "verify_signature", _no_signature_check)
    with pytest.raises(AssertionError, match="nobody signed"):
        targets.invitation(text.encode())
