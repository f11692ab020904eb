"""The README's "Running two parties for real", followed as written: its commands,
read from the README, in its order, by the installed ``hotline`` on two machines.

Two machines on one: each party has its own data directory (``HOTLINE_HOME``),
its own ports instead of 7443, 127.0.0.1 for the addresses the other party reaches
it at, and a local port of its own (``--local-port``: both would take 7080). Files
are handed over in one shared directory. A person answers "y" to the fingerprint
prompts; the test checks they were right to (the fingerprint shown is the one the
other side read out at step 2), and waits, as a person reading ``policy show`` would,
for the proposal to arrive before countersigning it.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hotline.demo import free_port
from hotline.node.desk.desk import Desk
from hotline.node.home import NodeHome
from hotline.node.service import Node
from tests.harness import Ran, hotline, hotline_command, wait_until

README = Path(__file__).resolve().parents[2] / "README.md"
PARTIES = ("washington", "beijing")


@dataclass(frozen=True)
class Step:
    parties: tuple[str, ...]
    command: str  # as written in the README


def readme_steps() -> list[Step]:
    """The set-up's commands, each with the machine(s) it runs on, from the comments
    above it ("# Washington's machine", "# 3. Beijing: ...", "# 2. Both: ..."): the
    section's code blocks that begin with such a comment."""
    text = README.read_text()
    section = text.split("## Running two parties for real", 1)[1]
    section = re.split(r"\n##+ ", section, maxsplit=1)[0]
    steps: list[Step] = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL):
        if not re.match(r"# (\d+\. )?(Washington|Beijing|Both)\b", block):
            continue  # not set-up: what a running node is used for
        parties: tuple[str, ...] = ()
        for line in block.splitlines():
            said = re.match(r"# (?:\d+\. )?(Washington|Beijing|Both)\b", line)
            if said:
                who = said.group(1).lower()
                parties = PARTIES if who == "both" else (who,)
            elif line.startswith(("hotline ", "export ")):
                assert parties, f"no machine named above {line!r}"
                steps.append(Step(parties, line.split("  #", 1)[0].strip()))
    return steps


@dataclass
class Machine:
    party: str
    home: Path
    peer_port: int = field(default_factory=free_port)
    local_port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None

    def words(self, command: str) -> list[str]:
        """The command for this machine: its port for 7443, loopback for the address
        the other party reaches it at, and a local port of its own at init."""
        words = shlex.split(command.replace("7443", str(self.peer_port)))
        words = [re.sub(r"https://[\d.]+:", "https://127.0.0.1:", w) for w in words]
        if words[:2] == ["hotline", "init"]:
            words += ["--local-port", str(self.local_port)]
        return words


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[dict[str, Machine]]:
    machines = {party: Machine(party, tmp_path / party / "srv-hotline") for party in PARTIES}
    try:
        yield machines
    finally:
        for machine in machines.values():
            if machine.server is not None:
                machine.server.terminate()
        for machine in machines.values():
            if machine.server is not None:
                try:
                    machine.server.wait(15)
                except subprocess.TimeoutExpired:
                    machine.server.kill()
                    machine.server.wait(5)


def serve(machine: Machine, words: list[str], log: Path) -> None:
    """``hotline serve`` keeps running: start it, wait until it answers."""
    machine.server = subprocess.Popen(
        [hotline_command(), *words[1:]],
        env={**_env(), "HOTLINE_HOME": str(machine.home)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )

    def up() -> bool:
        assert machine.server is not None and machine.server.poll() is None, log.read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{machine.local_port}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(up, what=f"{machine.party} serving")


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "HOTLINE_HOME"}


def proposals(home: Path) -> list[int]:
    node = Node(NodeHome(home))
    try:
        return [v.version for v in Desk(node).policy("defence").versions]
    finally:
        node.close()


def test_the_readme_set_up_works_in_the_order_written(
    machines: dict[str, Machine], tmp_path: Path
) -> None:
    steps = readme_steps()
    commands = [step.command for step in steps]
    assert commands[:3] == [
        "export HOTLINE_HOME=/srv/hotline",
        commands[1],
        "hotline serve",
    ], "the README starts each node before the link's set-up"
    assert [c for c in commands if c.startswith("hotline link")] == [
        'hotline link invite defence --purpose "Defence ministries\' link" -o defence.invite',
        "hotline link accept defence.invite -o defence.accept",
        "hotline link complete defence.accept",
    ]
    assert commands[-2:] == ["hotline policy show defence", "hotline policy accept defence 1"]

    courier = tmp_path / "courier"  # where files are handed over
    courier.mkdir()
    said: dict[tuple[str, str], Ran] = {}
    for step in steps:
        for party in step.parties:
            machine = machines[party]
            words = machine.words(step.command)
            if words[0] == "export":
                assert words[1] == "HOTLINE_HOME=/srv/hotline"
                continue  # each machine's HOTLINE_HOME is its own directory
            if words[1] == "serve":
                serve(machine, words, tmp_path / f"{party}.log")
                continue
            if words[1:3] == ["policy", "show"]:
                # A person reads 'policy show' until it lists the proposal.
                wait_until(lambda home=machine.home: proposals(home) == [1], what="the proposal")
            ran = hotline(
                *words[1:],
                env={"HOTLINE_HOME": str(machine.home)},
                cwd=courier,
                input="y\n",  # the fingerprint matches: checked below
                columns=200,
            )
            assert ran.code == 0, str(ran)
            said[(party, " ".join(words[1:3]))] = ran

    fingerprints = {
        party: said[(party, "fingerprint")].stdout.splitlines()[1].strip() for party in PARTIES
    }
    assert f"Fingerprint: {fingerprints['washington']}" in said[("beijing", "link accept")].output
    assert f"fingerprint {fingerprints['beijing']}" in said[("washington", "link complete")].output
    shown = said[("beijing", "policy show")].output
    assert "Version 1 proposed by washington" in shown
    assert "hotline policy accept defence 1" in shown
    assert "version 1 on defence is in force" in said[("beijing", "policy accept")].output

    # The countersignature travels back: both hold the policy, signed by both.
    for party in PARTIES:
        home = {"HOTLINE_HOME": str(machines[party].home)}
        wait_until(
            lambda home=home: (
                hotline("policy", "show", "defence", "--json", env=home).json()["signed_by"]
                == ["washington", "beijing"]
            ),
            what=f"the policy in force at {party}",
        )
    # And the link carries messages, as the README's next commands show.
    w = {"HOTLINE_HOME": str(machines["washington"].home)}
    b = {"HOTLINE_HOME": str(machines["beijing"].home)}
    assert hotline("send", "defence", "Request for information", env=w).code == 0
    wait_until(
        lambda: "Request for information" in hotline("inbox", "defence", env=b, columns=200).output,
        what="the message at beijing",
    )
