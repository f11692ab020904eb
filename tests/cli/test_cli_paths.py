"""Paths and relays from the command line (the installed hotline, a process per
command): list, add, accept a relay, relay for others; bad input is refused with a
clear message and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from hotline.demo import free_port
from hotline.node.home import NodeHome
from hotline.transport.tls import certificate_fingerprint
from tests.conftest import DatabaseFactory
from tests.harness import hotline
from tests.paths_harness import link_parties


def hl(*args: str) -> tuple[int, str]:
    """The exit code, and standard output (as written) or the error (one line)."""
    ran = hotline(*args, columns=200)
    return ran.code, ran.output if ran.code else ran.stdout


def init(
    home: Path, party: str, *endpoints: str, database: DatabaseFactory | None = None
) -> NodeHome:
    args = ["init", party, "--home", str(home), "--peer-port", str(free_port())]
    url = database.url_for(home) if database is not None else None
    if url is not None:
        args += ["--database-url", url]
    for endpoint in endpoints:
        args += ["--endpoint", endpoint]
    code, output = hl(*args)
    assert code == 0, output
    return NodeHome(home)


def test_paths_and_relays(tmp_path: Path, database: DatabaseFactory) -> None:
    w = init(tmp_path / "w", "washington", "https://10.0.1.1:7443", database=database)
    b = init(
        tmp_path / "b", "beijing", "https://10.0.1.2:7443", "https://10.0.2.2:7443",
        database=database,
    )  # fmt: skip
    g = init(tmp_path / "g", "geneva", "https://10.0.3.2:7443", database=database)
    link_id = link_parties(w, b)

    # Several --endpoint at init: one path each, in order, the first active.
    code, output = hl("link", "paths", "defence", "--home", str(w.path), "--json")
    assert code == 0, output
    rows = json.loads(output)
    assert [(r["position"], r["url"], r["state"], r["active"]) for r in rows] == [
        (0, "https://10.0.1.2:7443", "unknown", True),
        (1, "https://10.0.2.2:7443", "unknown", False),
    ]
    code, output = hl("link", "add-path", "defence", "https://10.0.9.2:7443", "--home", str(w.path))
    assert code == 0 and "Path 2" in output, output
    code, output = hl("link", "add-path", "defence", "ftp://x", "--home", str(w.path))
    assert code == 1 and "not an https URL" in output
    code, output = hl("link", "add-path", "nolink", "https://10.0.9.3:7443", "--home", str(w.path))
    assert code == 1 and "no link named" in output

    # The relay: each party accepts it, it accepts each party.
    relay_cert = g.cert_path
    relay_fp = certificate_fingerprint(g.certificate_der())
    code, output = hl("certificate", "--home", str(g.path))
    assert code == 0 and relay_fp in output
    code, output = hl(
        "link", "add-relay", "defence", "https://10.0.3.2:7443",
        "--certificate", str(relay_cert), "--fingerprint", "ab" * 32, "--home", str(w.path),
    )  # fmt: skip
    assert code == 1 and "does not match" in output
    code, output = hl(
        "link", "add-relay", "defence", "https://10.0.3.2:7443",
        "--certificate", str(relay_cert), "--fingerprint", relay_fp.upper(), "--home", str(w.path),
    )  # fmt: skip
    assert code == 0, output
    code, output = hl("link", "paths", "defence", "--home", str(w.path), "--json")
    assert [(r["position"], r["kind"]) for r in json.loads(output)] == [
        (0, "direct"),
        (1, "direct"),
        (2, "direct"),
        (3, "relay"),
    ]
    # A direct path added later still comes before the relay.
    hl("link", "add-path", "defence", "https://10.0.8.2:7443", "--home", str(w.path))
    code, output = hl("link", "paths", "defence", "--home", str(w.path), "--json")
    assert [r["kind"] for r in json.loads(output)] == ["direct"] * 4 + ["relay"]

    for party, home in (("washington", w), ("beijing", b)):
        code, output = hl(
            "relay", "add", link_id, party,
            "--certificate", str(home.cert_path),
            "--fingerprint", certificate_fingerprint(home.certificate_der()),
            "--endpoint", f"https://10.0.4.{len(party)}:7443", "--home", str(g.path),
        )  # fmt: skip
        assert code == 0, output
    code, output = hl(
        "relay", "add", link_id, "tokyo",
        "--certificate", str(w.cert_path),
        "--fingerprint", certificate_fingerprint(w.certificate_der()),
        "--endpoint", "https://10.0.4.9:7443", "--home", str(g.path),
    )  # fmt: skip
    assert code == 1 and "already has its two parties" in output
    code, output = hl("relay", "list", "--home", str(g.path))
    assert code == 0 and "washington" in output and "beijing" in output


def test_relay_keeps_one_copy_of_a_batch_and_gives_up_on_a_refused_one(tmp_path: Path) -> None:
    from hotline.node.service import Node

    home = init(tmp_path / "g", "geneva")
    node = Node(home)
    try:
        first = node.relay_store("L" * 26, "washington", "beijing", b"sealed", 1)
        assert node.relay_store("L" * 26, "washington", "beijing", b"sealed", 1) == first
        other = node.relay_store("L" * 26, "washington", "beijing", b"sealed 2", 1)
        assert other != first
        node.relay_done(first, "ConnectError")  # retried later
        node.relay_done(other, "refused: HTTP 400", final=True)  # not retried
        with node.reading() as session:
            from hotline.storage.models import RelayBatch

            rows = {b.id: b for b in session.query(RelayBatch)}
        assert rows[first].forwarded_ms is None and rows[first].attempts == 1
        assert rows[other].forwarded_ms is not None and rows[other].last_error
        types = [e.type for e in node.events_after(0, 100)]
        assert types.count("relay.stored") == 2 and "relay.refused" in types
        # a copy stored again once the first was forwarded is a new batch
        node.relay_done(first, None)
        assert node.relay_store("L" * 26, "washington", "beijing", b"sealed", 1) not in (
            first,
            other,
        )
    finally:
        node.close()


def test_migration_0004_gives_existing_links_their_paths(tmp_path: Path) -> None:
    """A node upgraded from 0003 gets one direct path per endpoint of each peer."""
    from alembic import command
    from alembic.config import Config

    from hotline.node.service import Node
    from hotline.storage.database import MIGRATIONS

    w = init(tmp_path / "w", "washington", "https://10.0.0.1:7443")
    b = init(tmp_path / "b", "beijing", "https://10.0.0.2:7443", "https://10.0.1.2:7443")
    link_parties(w, b)
    node = Node(w)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        for step, target in ((command.downgrade, "0003"), (command.upgrade, "head")):
            with node.engine.begin() as connection:
                config.attributes["connection"] = connection
                step(config, target)
        rows = node.link_paths("defence")
    finally:
        node.close()
    assert [(p.position, p.url, p.kind, p.active) for p in rows] == [
        (0, "https://10.0.0.2:7443", "direct", True),
        (1, "https://10.0.1.2:7443", "direct", False),
    ]
