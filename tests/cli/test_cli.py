"""The ``hotline`` command as users run it: the installed entry point, each command
in a process of its own, against real nodes (``hotline serve`` processes, SQLite and
PostgreSQL) and data directories made by ``hotline init``."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.demo import free_port
from hotline.node.heartbeat_timings import DEFAULT_TIMINGS
from hotline.node.home import NodeHome
from hotline.protocol.invitation import dearmour
from tests.conftest import BACKENDS
from tests.harness import (
    LINK,
    Cluster,
    NodeHandle,
    Ran,
    hotline,
    hotline_ok,
    inbound_texts,
    module_database,
    send,
    started_cluster,
    wait_until,
)

# Messages another party could send (each short enough for the inbox's table to show
# whole): rich markup and an emoji code, colours, a new window title, cursor up and
# erase line (to rewrite what was shown), C1 CSI, and a right-to-left override that
# makes the last one read "Routine check proceed to attack immediately".
HOSTILE = (
    "[bold red]ALERT[/] [link=https://example.org]details[/link]",
    ":skull: \x1b[31mred\x1b[0m \x1b]0;owned\x07\x1b[1A\x1b[2K \x9b2J",
    "Routine check \u202eyletaidemmi kcatta ot deeccorp",
)


@pytest.fixture(scope="module", params=BACKENDS)
def databases(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from module_database(request.param)


@pytest.fixture(scope="module")
def pair(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """washington and beijing, linked ('defence') and serving, for this module's tests."""
    yield from started_cluster(tmp_path_factory.mktemp("pair"), databases.url_for)


def home_of(cluster: Cluster, party: str) -> tuple[str, str]:
    return "--home", str(getattr(cluster, party).home.path)


def init(home: Path, party: str, *extra: str) -> Ran:
    return hotline(
        "init",
        party,
        "--home",
        home,
        *("--peer-port", str(free_port()), "--local-port", str(free_port())),
        *extra,
    )


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two data directories made by 'hotline init' (not serving, not linked)."""
    base = tmp_path_factory.mktemp("homes")
    for party in ("washington", "beijing"):
        ran = init(base / party, party)
        assert ran.code == 0, str(ran)
        assert "Fingerprint" in ran.output and "'hotline fingerprint' shows it again" in ran.output
    return base / "washington", base / "beijing"


def fingerprint(home: Path) -> str:
    return NodeHome(home).load_identity().public.fingerprint


def all_delivered(handle: NodeHandle) -> bool:
    """Whether the node holds a delivery receipt for each message it sent (read in
    this process: polling through the command would start one process per look)."""
    node = handle.node()
    try:
        sent = node.messages(LINK, direction="out", limit=10_000)
        return all(m.delivered_ms is not None for m in sent)
    finally:
        node.close()


# Sending and reading ---------------------------------------------------------------


def test_a_message_sent_from_the_command_line_is_delivered(pair: Cluster) -> None:
    """A fresh process sends (it used to fail before anything was committed), and the
    other side's inbox shows the message with its ladder."""
    w, b = home_of(pair, "washington"), home_of(pair, "beijing")
    ran = hotline_ok("send", LINK, "Request for information: the object over Montana", *w)
    assert ran.output.startswith("queued ") and f"on {LINK}" in ran.output
    message_id = ran.output.split()[1]
    hotline_ok("send", LINK, "-", *w, input="Read from standard input\nsecond line\n")
    wait_until(
        lambda: "Read from standard input\nsecond line\n" in inbound_texts(pair.beijing),
        what="both messages at beijing",
    )
    received = {m["id"]: m for m in hotline_ok("inbox", LINK, "--json", *b).json()}
    assert received[message_id]["body"]["text"].startswith("Request for information")
    assert received[message_id]["direction"] == "in"
    assert received[message_id]["status"] == "received"
    table = hotline_ok("inbox", LINK, *b, columns=200)
    assert "Request for information: the object over Montana" in table.output
    assert "received" in table.output
    wait_until(lambda: all_delivered(pair.washington), what="the receipts at washington")
    status = hotline_ok("status", "--json", *w).json()
    assert status["party"] == "washington"
    [link] = status["links"]
    assert (link["name"], link["peer"], link["outbox_depth"]) == (LINK, "beijing", 0)
    assert hotline_ok("status", *w, columns=200).output.count(LINK) == 1

    for args, message in (
        (("send", "nolink", "x"), "no link named 'nolink'"),
        (("send", LINK, "   "), "non-empty"),
    ):
        ran = hotline(*args, *w)
        assert ran.code == 1 and message in ran.output, str(ran)
        assert "Traceback" not in ran.output


def test_a_hostile_message_cannot_drive_the_terminal(pair: Cluster) -> None:
    """The other party's text reaches the operator's terminal as inert text: no escape
    sequence, no markup or emoji code interpreted, a bidi override shown as such."""
    with pair.beijing.client() as client:
        for text in HOSTILE:
            send(client, text)
    wait_until(lambda: set(HOSTILE) <= set(inbound_texts(pair.washington)), what="the messages")
    w = home_of(pair, "washington")
    ran = hotline_ok("inbox", LINK, *w, columns=400)
    shown = ran.stdout + ran.stderr
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
        assert raw not in shown, repr(raw)
    assert "[bold red]ALERT[/]" in ran.output  # markup printed as written, not applied
    assert "[link=https://example.org]details[/link]" in ran.output
    assert ":skull:" in ran.output and "\U0001f480" not in shown
    assert "<U+001B>[31mred<U+001B>[0m" in ran.output
    assert "<U+001B>]0;owned<U+0007>" in ran.output
    assert "Routine check <U+202E>yletaidemmi" in ran.output

    # JSON output: the exact text to a JSON reader, inert on a terminal.
    ran = hotline_ok("inbox", LINK, "--json", *w)
    assert not any(raw in ran.stdout for raw in ("\x1b", "\x07", "\x9b", "\u202e"))
    assert set(HOSTILE) <= {m["body"]["text"] for m in ran.json()}


def test_a_hostile_purpose_cannot_pass_for_the_fingerprint(homes: tuple[Path, Path]) -> None:
    """An invitation's purpose is the inviter's text, shown before the fingerprint check:
    a line break in it cannot start a line that passes for the real fingerprint."""
    w, b = homes
    invite = w.parent / "hostile.invite"
    fake = "11111 11111 11111 11111 11111 11111 11111 11111"
    purpose = f"Routine\nFingerprint: {fake}\n\x1b[2J"
    hotline_ok("link", "invite", "hostile", "--purpose", purpose, "-o", invite, "--home", w)
    ran = hotline(
        "link", "accept", invite, "-o", w.parent / "x", "--home", b, input="n\n", columns=200
    )
    assert ran.code == 3, str(ran)
    lines = ran.stdout.splitlines()
    [purpose_line] = [line for line in lines if line.startswith("Purpose:")]
    assert purpose_line == f"Purpose: Routine<U+000A>Fingerprint: {fake}<U+000A><U+001B>[2J"
    assert [line for line in lines if line.startswith("Fingerprint:")] == [
        f"Fingerprint: {fingerprint(w)}"
    ]
    assert "\x1b" not in ran.stdout + ran.stderr


# The record: export and offline verification ---------------------------------------


def test_export_writes_a_private_bundle_and_verify_checks_it(pair: Cluster, tmp_path: Path) -> None:
    w, b = home_of(pair, "washington"), home_of(pair, "beijing")
    before = tmp_path / "before.json"
    hotline_ok("export", LINK, "-o", before, *w)
    hotline_ok("send", LINK, "One more, so that the records differ", *w)
    wait_until(lambda: all_delivered(pair.washington), what="every message delivered")
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    theirs.write_text("an older file, readable by anyone")
    os.chmod(theirs, 0o644)
    ran = hotline_ok("export", LINK, "-o", ours, *w)
    assert "(mode 0600)" in ran.output
    hotline_ok("export", LINK, "-o", theirs, *b)
    # The bundle holds the decrypted messages: its owner's only, a new file or not.
    for bundle in (before, ours, theirs):
        assert stat.S_IMODE(bundle.stat().st_mode) == 0o600, bundle
    exported = hotline_ok("audit", "--action", "record.export", "--json", *w).json()[0]
    assert exported["target"] == LINK and exported["username"].startswith("cli:")
    assert exported["detail"]["file"] == str(ours)

    ran = hotline_ok("verify", ours, "--against", theirs)
    assert f"link {LINK}" in ran.output and "verifies and holds the same" in ran.output
    assert "washington:" in ran.output and "beijing:" in ran.output

    # 5: both verify, but one holds entries the other lacks.
    ran = hotline("verify", before, "--against", theirs)
    assert ran.code == 5 and "records disagree" in ran.output, str(ran)
    # 4: a bundle that does not verify (the first fault, precisely), or is no bundle.
    document = json.loads(ours.read_text())
    document["entries"][0]["payload"] = document["entries"][0]["payload"][:-8] + "AAAAAAA="
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    ran = hotline("verify", tampered)
    assert ran.code == 4 and "entry #1" in ran.output, str(ran)
    ran = hotline("verify", ours, "--against", tampered, columns=300)
    assert ran.code == 4 and "tampered.json: entry #1" in ran.output, str(ran)
    (tmp_path / "not.json").write_text("[1, 2]")
    assert hotline("verify", tmp_path / "not.json").code == 4
    # 1: no such file; a directory that does not exist; nothing half-written.
    ran = hotline("verify", tmp_path / "missing.json")
    assert ran.code == 1 and "cannot read" in ran.output
    ran = hotline("export", LINK, "-o", tmp_path / "no" / "such" / "dir.json", *w)
    assert ran.code == 1 and "cannot write" in ran.output, str(ran)
    assert "Traceback" not in ran.output


# The node's own configuration -------------------------------------------------------


def test_init_makes_secrets_private_and_refuses_a_second_init(homes: tuple[Path, Path]) -> None:
    w, _ = homes
    for secret in ("identity.key", "tls/key.pem", "api.token"):
        assert stat.S_IMODE(os.stat(w / secret).st_mode) == 0o600, secret
    ran = hotline("init", "washington", "--home", w)
    assert ran.code == 1 and "already holds a node" in ran.output
    ran = hotline("init", "Bad Name!", "--home", w.parent / "x")
    assert ran.code == 1 and "invalid" in ran.output
    assert not (w.parent / "x").exists()


def test_fingerprint_shows_the_node_s_own_fingerprint_at_any_time(
    homes: tuple[Path, Path],
) -> None:
    w, _ = homes
    ran = hotline_ok("fingerprint", "--home", w)
    assert ran.stdout.splitlines() == [
        "Fingerprint of washington, to read aloud:",
        f"  {fingerprint(w)}",
    ]
    assert hotline_ok("fingerprint", "--json", "--home", w).json() == {
        "party": "washington",
        "fingerprint": fingerprint(w),
    }
    # Not the TLS certificate's fingerprint, which 'certificate' shows (for relays).
    assert fingerprint(w) not in hotline_ok("certificate", "--home", w).output
    ran = hotline("fingerprint", "--home", w.parent / "nowhere")
    assert ran.code == 1 and "run 'hotline init' first" in ran.output


@pytest.mark.parametrize(
    ("peer", "local"),
    [
        (("127.0.0.1", "{port}"), ("127.0.0.1", "{port}")),
        (("0.0.0.0", "{port}"), ("127.0.0.1", "{port}")),
        (("127.0.0.1", "{port}"), ("::", "{port}")),
        (("localhost", "{port}"), ("127.0.0.1", "{port}")),
        (("[::1]", "{port}"), ("0:0:0:0:0:0:0:1", "{port}")),
    ],
)
def test_init_refuses_listeners_on_one_port_and_creates_nothing(
    tmp_path: Path, peer: tuple[str, str], local: tuple[str, str]
) -> None:
    port = str(free_port())
    home = tmp_path / "w"
    ran = hotline(
        "init",
        "washington",
        "--home",
        home,
        *("--peer-host", peer[0], "--peer-port", peer[1].format(port=port)),
        *("--local-host", local[0], "--local-port", local[1].format(port=port)),
    )
    assert ran.code == 1, str(ran)
    assert f"would both listen on port {port}" in ran.output
    assert not home.exists()


def test_a_node_json_with_colliding_or_broken_settings_is_refused_clearly(
    tmp_path: Path,
) -> None:
    home = tmp_path / "w"
    hotline_ok("init", "washington", "--home", home, "--peer-port", "7443", "--local-port", "7080")
    # The same address and port for both listeners: no command loads it.
    config = json.loads((home / "node.json").read_text())
    (home / "node.json").write_text(json.dumps({**config, "local_port": 7443}))
    for command in (("status",), ("serve",), ("fingerprint",)):
        ran = hotline(*command, "--home", home)
        assert ran.code == 1, str(ran)
        assert "would both listen on port 7443" in ran.output
        assert "change peer_port or local_port there" in ran.output
    # serve's own port options are checked the same way.
    (home / "node.json").write_text(json.dumps(config))
    ran = hotline("serve", "--home", home, "--local-port", "7443")
    assert ran.code == 1 and "would both listen on port 7443" in ran.output, str(ran)
    # A port out of range, a file that is not JSON: a clear message, no traceback.
    (home / "node.json").write_text(json.dumps({**config, "peer_port": 70000}))
    ran = hotline("status", "--home", home)
    assert ran.code == 1 and "is not a valid configuration: peer_port" in ran.output, str(ran)
    (home / "node.json").write_text("{")
    ran = hotline("status", "--home", home)
    assert ran.code == 1 and "is not a valid configuration" in ran.output, str(ran)
    assert "Traceback" not in ran.output
    ran = hotline("init", "x", "--home", tmp_path / "x", "--peer-port", "70000")
    assert ran.code == 2 and not (tmp_path / "x").exists()


def test_the_timings_are_shown_changed_reset_and_bad_ones_refused(
    homes: tuple[Path, Path],
) -> None:
    _, b = homes
    home = ("--home", str(b))
    assert hotline_ok("heartbeats", "--json", *home).json() == DEFAULT_TIMINGS.model_dump()
    # A satellite path: round trips near 600 ms, a heartbeat every 5 s.
    ran = hotline_ok(
        "heartbeats",
        *("--interval", "5", "--timeout", "3", "--connect", "2"),
        *("--slow-rtt", "1500", "--down-after", "12000", *home),
    )
    assert "restart the node" in ran.output
    saved = NodeHome(b).load_config().heartbeats
    assert (saved.interval_s, saved.timeout_s, saved.slow_rtt_ms) == (5, 3, 1_500)
    assert saved.failback_successes == DEFAULT_TIMINGS.failback_successes  # untouched
    assert "slow_rtt_ms" in hotline_ok("heartbeats", *home).output

    # Contradictions are refused with the reason, and change nothing.
    ran = hotline("heartbeats", "--interval", "20", *home)
    assert ran.code == 1 and "between two heartbeats" in ran.output
    assert "nothing changed" in ran.output
    ran = hotline("heartbeats", "--connect", "4", *home)
    assert ran.code == 1 and "connect_s" in ran.output
    ran = hotline("heartbeats", "--down-after-failures", "0", *home)
    assert ran.code == 1 and "down_after_failures" in ran.output
    assert NodeHome(b).load_config().heartbeats == saved

    hotline_ok("heartbeats", "--reset", "--json", *home)
    assert NodeHome(b).load_config().heartbeats == DEFAULT_TIMINGS

    # A node.json written before the setting existed loads with the defaults.
    path = b / "node.json"
    config = json.loads(path.read_text())
    del config["heartbeats"]
    path.write_text(json.dumps(config))
    assert hotline_ok("heartbeats", "--json", *home).json() == DEFAULT_TIMINGS.model_dump()


def test_parties_are_named_per_language_and_hostile_names_refused(
    homes: tuple[Path, Path],
) -> None:
    _, b = homes
    home = ("--home", str(b))
    assert hotline_ok("names", "show", "--json", *home).json() == {}
    ran = hotline_ok("names", "set", "washington", "zh-Hans", "华盛顿", *home)
    assert "restart the node" in ran.output
    hotline_ok("names", "set", "beijing", "zh-Hans", " 北京 ", *home)
    assert hotline_ok("names", "show", "--json", *home).json() == {
        "beijing": {"zh-Hans": "北京"},
        "washington": {"zh-Hans": "华盛顿"},
    }
    config = NodeHome(b).load_config()
    assert config.party_name("washington", "zh-Hans") == "华盛顿"
    assert config.party_name("washington", "en") == "Washington"  # none set: capitalised
    assert "华盛顿" in hotline_ok("names", "show", *home).output

    # A spoofing name (right-to-left override), a bad tag, a bad party: refused, unchanged.
    for words, said in (
        (("washington", "en", "Wash\u202eton"), "invisible formatting"),
        (("washington", "english", "Washington"), "not a language tag"),
        (("Washington!", "en", "Washington"), "not a party name"),
        (("washington", "en", "x" * 65), "at most 64"),
    ):
        ran = hotline("names", "set", *words, *home)
        assert ran.code == 1 and said in ran.output, ran.output
    ran = hotline("names", "set", "washington", "en", *home)
    assert ran.code == 2 and "--remove" in ran.output
    hotline_ok("names", "set", "washington", "zh-Hans", "--remove", *home)
    assert hotline_ok("names", "show", "--json", *home).json() == {"beijing": {"zh-Hans": "北京"}}


# Link set-up refusals ----------------------------------------------------------------


def test_link_set_up_checks_fingerprints_and_uses_each_file_once(
    homes: tuple[Path, Path],
) -> None:
    w, b = homes
    invite, accept = w.parent / "trade.invite", w.parent / "trade.accept"
    ran = hotline_ok("link", "invite", "trade", "--purpose", "Trade", "-o", invite, "--home", w)
    assert fingerprint(w) in ran.output
    accepting = ("link", "accept", invite, "-o", accept, "--home", b)
    # 3: a fingerprint that does not match, or not confirmed; nothing is set up.
    ran = hotline(*accepting, "--fingerprint", "1" * 40)
    assert ran.code == 3 and "does not match" in ran.output
    ran = hotline(*accepting, input="n\n")
    assert ran.code == 3 and "Does this match" in ran.output
    # 2: --yes alone would skip the check.
    ran = hotline(*accepting, "--yes")
    assert ran.code == 2 and "--yes needs --fingerprint" in ran.output
    assert not accept.exists()
    ran = hotline_ok(*accepting, input="y\n")  # confirmed at the prompt
    assert f"Our fingerprint, to read aloud: {fingerprint(b)}" in ran.output
    ran = hotline(*accepting[:4], w.parent / "again", "--home", b, "--fingerprint", fingerprint(w))
    assert ran.code == 1 and "already" in ran.output

    completing = ("link", "complete", accept, "--home", w)
    ran = hotline(*completing, "--fingerprint", fingerprint(w))  # its own, not beijing's
    assert ran.code == 3 and "does not match" in ran.output
    ran = hotline_ok(*completing, "--fingerprint", fingerprint(b), "--no-policy")
    assert "Link trade with beijing is complete." in ran.output
    ran = hotline(*completing, "--fingerprint", fingerprint(b))
    assert ran.code == 1 and "already been used" in ran.output
    [listed] = [x for x in hotline_ok("link", "list", "--json", "--home", w).json()]
    assert (listed["name"], listed["peer"], listed["purpose"]) == ("trade", "beijing", "Trade")
    assert "trade" in hotline_ok("link", "list", "--home", b, columns=200).output


def test_tampered_and_expired_invitations_are_refused(homes: tuple[Path, Path]) -> None:
    w, b = homes
    invite = w.parent / "space.invite"
    hotline_ok("link", "invite", "space", "--purpose", "p", "-o", invite, "--home", w)
    text = invite.read_text()
    lines = text.splitlines()
    body_line = next(i for i, line in enumerate(lines) if line == "") + 2
    flipped = "A" if lines[body_line][10] != "A" else "B"
    lines[body_line] = lines[body_line][:10] + flipped + lines[body_line][11:]
    tampered = w.parent / "tampered.invite"
    tampered.write_text("\n".join(lines) + "\n")
    ran = hotline("link", "accept", tampered, "-o", w.parent / "t", "--home", b, input="y\n")
    assert ran.code == 1 and "invitation refused" in ran.output
    expired = w.parent / "expired.invite"
    hotline_ok(
        "link", "invite", "other", "--purpose", "p", "-o", expired,
        "--valid-hours", "0.000003", "--home", w,
    )  # fmt: skip
    time.sleep(0.05)
    ran = hotline("link", "accept", expired, "-o", w.parent / "e", "--home", b, input="y\n")
    assert ran.code == 1 and "expired" in ran.output
    dearmour("INVITATION", text)  # the untampered one still reads
