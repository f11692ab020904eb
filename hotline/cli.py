"""The ``hotline`` command line."""

from __future__ import annotations

import dataclasses
import gc
import getpass
import json
import logging
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from .accounts import AccountError, AccountService, Role, UserInfo
from .accounts.audit import PAGE_LIMIT as AUDIT_LIMIT
from .accounts.audit import AuditFilterError, audit_filter
from .accounts.passwords import check_policy
from .accounts.profile import check_username
from .accounts.results import AuditEntry
from .node.clock import now_ms as clock_ms
from .node.home import NodeError, NodeHome, check_new_node, init_node
from .node.refusals import audit
from .protocol.bundle import compare_bundles, read_bundle, verify_bundle
from .protocol.errors import ProtocolError

if TYPE_CHECKING:
    from .node.desk import Desk
    from .protocol.policy import Policy

app = typer.Typer(
    help="Hotline: sovereign nodes exchanging signed, encrypted messages with a provable record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
link_app = typer.Typer(help="Set up links with other parties, out of band.", no_args_is_help=True)
app.add_typer(link_app, name="link")
user_app = typer.Typer(
    help="Operator console accounts: add, list, disable, passwords, TOTP.", no_args_is_help=True
)
app.add_typer(user_app, name="user")
policy_app = typer.Typer(
    help="The link's policy, signed by both parties: show, propose, accept.",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")
escalation_app = typer.Typer(
    help="This node's escalation of silence on a link: show, set.", no_args_is_help=True
)
app.add_typer(escalation_app, name="escalation")
relay_app = typer.Typer(
    help="Serve as a relay for other parties' links (ciphertext only).", no_args_is_help=True
)
app.add_typer(relay_app, name="relay")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

HomeOption = Annotated[
    Path,
    typer.Option(
        "--home", "-H", envvar="HOTLINE_HOME", help="The node's data directory.", show_default=True
    ),
]
DEFAULT_HOME = Path("hotline-data")


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def when(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def open_node(home: Path):  # type: ignore[no-untyped-def]
    from .node.service import Node

    try:
        return Node(NodeHome(home))
    except NodeError as exc:
        fail(str(exc))


@app.command()
def init(
    party: Annotated[str, typer.Argument(help="This party's name, e.g. 'washington'.")],
    home: HomeOption = DEFAULT_HOME,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default: SQLite in the data directory.")
    ] = None,
    peer_host: Annotated[str, typer.Option(help="Address the peer listener binds.")] = "127.0.0.1",
    peer_port: Annotated[int, typer.Option(help="Port of the peer listener (mutual TLS).")] = 7443,
    local_host: Annotated[str, typer.Option(help="Address of the local API.")] = "127.0.0.1",
    local_port: Annotated[int, typer.Option(help="Port of the local API.")] = 7080,
    endpoint: Annotated[
        list[str] | None,
        typer.Option(help="URL peers use to reach this node (repeatable); default from host/port."),
    ] = None,
    admin: Annotated[
        str, typer.Option(help="Username of the console's first administrator.")
    ] = "admin",
    admin_password_stdin: Annotated[
        bool,
        typer.Option(
            help="Read the administrator's password from the first line of standard input."
        ),
    ] = False,
) -> None:
    """Create a node: keys, TLS certificate, API token, database, first administrator.

    The administrator's password comes from standard input (--admin-password-stdin), or a
    prompt on a terminal; otherwise a strong one is generated and shown once."""
    try:
        check_new_node(home, party)
        admin = check_username(admin)
    except NodeError as exc:
        fail(str(exc))
    except AccountError as exc:
        fail(f"administrator account: {exc.message}")
    generated = not admin_password_stdin and not sys.stdin.isatty()
    if generated:
        password = secrets.token_urlsafe(18)
    else:
        password = _new_password(admin, from_stdin=admin_password_stdin, who="administrator")
    try:
        node_home = init_node(
            home,
            party,
            database_url=database_url,
            peer_host=peer_host,
            peer_port=peer_port,
            local_host=local_host,
            local_port=local_port,
            endpoints=endpoint,
            admin_username=admin,
            admin_password=password,
        )
    except NodeError as exc:
        fail(str(exc))
    identity = node_home.load_identity().public
    out.print(f"Created node [bold]{party}[/] in {home}")
    out.print(
        f"Fingerprint (read it aloud when setting up a link):\n  [bold]{identity.fingerprint}[/]"
    )
    out.print(f"Local API token: {node_home.token_path} (mode 0600)")
    out.print(f"Console administrator: [bold]{escape(admin)}[/]")
    if generated:
        out.print(
            "Generated password, shown this once and not stored anywhere in clear "
            "(only its hash is kept). Note it now, or set another with "
            f"'hotline user password {escape(admin)}':"
        )
        out.print(f"  {password}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def serve(
    home: HomeOption = DEFAULT_HOME,
    verbose: bool = False,
    peer_port: Annotated[
        int | None, typer.Option(help="Override the peer port (e.g. a second process).")
    ] = None,
    local_port: Annotated[int | None, typer.Option(help="Override the local API port.")] = None,
) -> None:
    """Run the node: peer listener, local API and background delivery.

    Several processes may serve one node over one PostgreSQL database (each with its
    own ports behind a load balancer): they share no state outside the database."""
    from .web.server import NodeServer, run_event_loop

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per push is noise
    try:
        server = NodeServer(NodeHome(home), peer_port=peer_port, local_port=local_port)
    except NodeError as exc:
        fail(str(exc))
    config = server.node.config
    out.print(
        f"[bold]{config.party}[/] serving peers on "
        f"https://{config.peer_host}:{peer_port or config.peer_port}, "
        f"local API on http://{config.local_host}:{local_port or config.local_port}"
    )
    run_event_loop(server.serve())


@link_app.command("invite")
def link_invite(
    name: Annotated[str, typer.Argument(help="Link name, e.g. 'defence'.")],
    purpose: Annotated[str, typer.Option(help="What the link is for.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="Invitation file to write.")],
    valid_hours: Annotated[float, typer.Option(help="Hours until the invitation expires.")] = 24,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Write a signed invitation file to hand to the other party out of band."""
    node = open_node(home)
    try:
        invitation, text = node.create_invitation(name, purpose, valid_hours=valid_hours)
    except (NodeError, ProtocolError) as exc:
        fail(str(exc))
    output.write_text(text)
    out.print(f"Invitation {invitation.id} for link [bold]{name}[/] written to {output}")
    out.print(f"Expires {when(invitation.expires_ms)}. Our fingerprint, to read aloud:")
    out.print(f"  [bold]{node.identity.public.fingerprint}[/]")


@link_app.command("accept")
def link_accept(
    invitation_file: Annotated[Path, typer.Argument(help="The invitation received.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="Acceptance file to write.")],
    fingerprint: Annotated[
        str | None,
        typer.Option(
            help="The inviter's fingerprint as read aloud; skips the prompt if it matches."
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask (needs --fingerprint).")] = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Verify an invitation, confirm the fingerprint, and write the acceptance file."""
    node = open_node(home)
    text = _read(invitation_file)
    try:
        invitation = node.preview_invitation(text)
    except ProtocolError as exc:
        fail(f"invitation refused: {exc.detail} ({exc.code.value})")
    inviter = invitation.inviter.identity
    out.print(f"Invitation from [bold]{inviter.party}[/] for link [bold]{invitation.link_name}[/]")
    out.print(f"Purpose: {invitation.purpose}")
    out.print(f"Endpoints: {', '.join(invitation.inviter.endpoints)}")
    out.print(f"Fingerprint: [bold]{inviter.fingerprint}[/]")
    if fingerprint is not None:
        if _digits(fingerprint) != _digits(inviter.fingerprint):
            fail("the fingerprint does not match the one read aloud: do not accept", 3)
    elif yes:
        fail("--yes needs --fingerprint, so that the fingerprint is still checked", 2)
    elif not typer.confirm("Does this match the fingerprint read aloud by the other party?"):
        fail("not accepted", 3)
    try:
        link, acceptance = node.accept_invitation(text)
    except ProtocolError as exc:
        fail(f"invitation refused: {exc.detail} ({exc.code.value})")
    output.write_text(acceptance)
    out.print(f"Link [bold]{link.name}[/] with {link.peer_party} is set up here.")
    out.print(f"Send {output} to {link.peer_party}; they complete it with 'hotline link complete'.")
    out.print(f"Our fingerprint, to read aloud: [bold]{node.identity.public.fingerprint}[/]")


@link_app.command("complete")
def link_complete(
    acceptance_file: Annotated[Path, typer.Argument(help="The acceptance received.")],
    fingerprint: Annotated[
        str | None, typer.Option(help="The acceptor's fingerprint as read aloud.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask (needs --fingerprint).")] = False,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="JSON policy fields for version 1 (default: the standard policy)."
        ),
    ] = None,
    no_policy: Annotated[
        bool, typer.Option("--no-policy", help="Do not propose policy version 1 now.")
    ] = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Complete a link from the other party's acceptance of our invitation, and propose
    the link's policy version 1 for the other party to countersign."""
    node = open_node(home)
    text = _read(acceptance_file)
    from .protocol.invitation import dearmour, read_acceptance_body

    try:
        acceptor = read_acceptance_body(dearmour("ACCEPTANCE", text)[0]).acceptor.identity
    except ProtocolError as exc:
        fail(f"acceptance refused: {exc.detail} ({exc.code.value})")
    out.print(
        f"Acceptance from [bold]{acceptor.party}[/], fingerprint [bold]{acceptor.fingerprint}[/]"
    )
    if fingerprint is not None:
        if _digits(fingerprint) != _digits(acceptor.fingerprint):
            fail("the fingerprint does not match the one read aloud: do not complete", 3)
    elif yes:
        fail("--yes needs --fingerprint, so that the fingerprint is still checked", 2)
    elif not typer.confirm("Does this match the fingerprint read aloud by the other party?"):
        fail("not completed", 3)
    changes = _json_file(policy_file) if policy_file is not None else {}
    if changes and not no_policy:
        # Check the policy file before the link is completed, not after.
        from .protocol.policy import amend, default_policy

        link_id = read_acceptance_body(dearmour("ACCEPTANCE", text)[0]).invitation_id
        try:
            amend(default_policy(link_id, "checked"), changes, in_force=0)
        except ProtocolError as exc:
            fail(f"{policy_file}: {exc.detail} ({exc.code.value}); the link is not completed")
    try:
        link = node.complete_link(text)
    except ProtocolError as exc:
        fail(f"acceptance refused: {exc.detail} ({exc.code.value})")
    out.print(f"Link [bold]{link.name}[/] with {link.peer_party} is complete.")
    if no_policy:
        return
    from .node.desk import Desk

    try:
        proposed = Desk(node).propose_policy(link.name, changes, _actor())
    except NodeError as exc:
        fail(f"policy version 1 not proposed: {exc}")
    out.print(
        f"Proposed policy version {proposed.version}; {link.peer_party} countersigns it with "
        f"'hotline policy accept {link.name} {proposed.version}'."
    )


@link_app.command("list")
def link_list(
    home: HomeOption = DEFAULT_HOME, as_json: bool = typer.Option(False, "--json")
) -> None:
    """List this node's links."""
    from .protocol.keys import fingerprint as fp
    from .web.views import link_view

    node = open_node(home)
    links = node.links()
    if as_json:
        out.print_json(json.dumps([link_view(link) for link in links]))
        return
    table = Table("name", "peer", "purpose", "role", "sent", "received", "peer fingerprint")
    for link in links:
        table.add_row(
            link.name,
            link.peer_party,
            link.purpose,
            link.role,
            str(link.own_seq),
            str(link.peer_seq),
            fp(link.peer_signing_key, link.peer_encryption_key),
        )
    out.print(table)


@link_app.command("paths")
def link_paths(
    link: Annotated[str, typer.Argument(help="Link name or id.")],
    home: HomeOption = DEFAULT_HOME,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A link's paths (the peer's endpoints, then accepted relays) and their liveness."""
    from .web.views import path_view

    node = open_node(home)
    try:
        rows = [path_view(p) for p in node.link_paths(link)]
    except NodeError as exc:
        fail(str(exc))
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("#", "kind")
    table.add_column("url", overflow="fold", min_width=24)
    for column in ("state", "active", "last good", "rtt", "misses"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["position"]),
            r["kind"],
            r["url"],
            r["state"],
            "●" if r["active"] else "",
            when(r["last_good_ms"]),
            "—" if r["rtt_ms"] is None else f"{r['rtt_ms']} ms",
            str(r["failures"]),
        )
    out.print(table)


@link_app.command("add-path")
def link_add_path(
    link: Annotated[str, typer.Argument(help="Link name or id.")],
    url: Annotated[str, typer.Argument(help="Another endpoint of the peer, https://host:port.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Add a direct path to the peer (after the direct paths it already has).

    The peer's listener must be reachable there with the certificate pinned for the link.
    A running node picks the path up within a few seconds."""
    node = open_node(home)
    try:
        path = node.add_path(link, url)
    except NodeError as exc:
        fail(str(exc))
    out.print(f"Path {path.position} of link {link}: {path.url}")


@link_app.command("add-relay")
def link_add_relay(
    link: Annotated[str, typer.Argument(help="Link name or id.")],
    url: Annotated[str, typer.Argument(help="The relay's peer endpoint, https://host:port.")],
    certificate: Annotated[Path, typer.Option(help="The relay's TLS certificate (PEM).")],
    fingerprint: Annotated[
        str, typer.Option(help="SHA-256 of the relay's certificate, as both parties agreed.")
    ],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Accept a third party's node as relay for this link (both parties must).

    It is used only while every direct path is down; it sees ciphertext only."""
    der = _certificate_der(certificate)
    node = open_node(home)
    try:
        path = node.add_relay_path(link, url, certificate=der, fingerprint=fingerprint)
    except NodeError as exc:
        fail(str(exc))
    out.print(f"Relay {path.url} accepted for link {link} (path {path.position}).")
    out.print("A running node pins the relay's certificate within a second.")


@relay_app.command("add")
def relay_add(
    link_id: Annotated[str, typer.Argument(help="The relayed link's id (26 characters).")],
    party: Annotated[str, typer.Argument(help="One party of that link, e.g. 'washington'.")],
    certificate: Annotated[Path, typer.Option(help="That party's TLS certificate (PEM).")],
    fingerprint: Annotated[str, typer.Option(help="SHA-256 of that certificate, as agreed.")],
    endpoint: Annotated[
        list[str], typer.Option(help="Where that party's node is reached (repeatable).")
    ],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Relay a link for its two parties: run once per party."""
    der = _certificate_der(certificate)
    node = open_node(home)
    try:
        route = node.add_relay_route(
            link_id, party, certificate=der, fingerprint=fingerprint, endpoints=endpoint
        )
    except NodeError as exc:
        fail(str(exc))
    out.print(f"Relaying link {route.link_id} for {route.party} at {', '.join(route.endpoints)}")


@relay_app.command("list")
def relay_list(home: HomeOption = DEFAULT_HOME) -> None:
    """The links this node relays, and their parties."""
    from .transport.tls import certificate_fingerprint

    node = open_node(home)
    table = Table("link", "party", "endpoints", "certificate sha-256")
    for route in node.relay_routes():
        table.add_row(
            route.link_id,
            route.party,
            ", ".join(route.endpoints),
            certificate_fingerprint(route.certificate),
        )
    out.print(table)


@app.command()
def certificate(home: HomeOption = DEFAULT_HOME) -> None:
    """This node's TLS certificate file and its SHA-256 fingerprint (for relays)."""
    from .transport.tls import certificate_fingerprint

    try:
        node_home = NodeHome(home)
        node_home.load_config()
        der = node_home.certificate_der()
    except NodeError as exc:
        fail(str(exc))
    out.print(f"{node_home.cert_path}")
    out.print(f"sha256 {certificate_fingerprint(der)}")


@app.command()
def heartbeats(
    interval: Annotated[
        float | None, typer.Option(help="Seconds between heartbeats on each path.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for the peer's signed echo.")
    ] = None,
    connect: Annotated[
        float | None, typer.Option(help="Seconds to wait for a new connection.")
    ] = None,
    slow_rtt: Annotated[
        int | None, typer.Option("--slow-rtt", help="Echoes slower than this (ms): degraded.")
    ] = None,
    down_after: Annotated[
        int | None,
        typer.Option("--down-after", help="No good echo for this long (ms): the path is down."),
    ] = None,
    down_after_failures: Annotated[
        int | None,
        typer.Option("--down-after-failures", help="This many misses in a row: down."),
    ] = None,
    failback: Annotated[
        int | None,
        typer.Option(help="Echoes in a row before traffic moves back to a preferred path."),
    ] = None,
    reset: bool = typer.Option(False, "--reset", help="Back to the defaults."),
    as_json: bool = typer.Option(False, "--json"),
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Show or change how this node watches its paths, for all its links (a satellite
    path needs longer limits than the defaults). A running node uses new values
    once restarted."""
    from pydantic import ValidationError

    from .node.heartbeat_timings import HeartbeatTimings

    node_home = NodeHome(home)
    try:
        config = node_home.load_config()
    except NodeError as exc:
        fail(str(exc))
    given = {
        "interval_s": interval,
        "timeout_s": timeout,
        "connect_s": connect,
        "slow_rtt_ms": slow_rtt,
        "down_after_ms": down_after,
        "down_after_failures": down_after_failures,
        "failback_successes": failback,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if reset or changes:
        base = {} if reset else config.heartbeats.model_dump()
        try:
            timings = HeartbeatTimings.model_validate({**base, **changes})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'timings'}: {e['msg']}"
                for e in exc.errors()
            )
            fail(f"heartbeat timings refused, nothing changed: {problems}")
        config = config.model_copy(update={"heartbeats": timings})
        node_home.save_config(config)
    values = config.heartbeats.model_dump()
    if as_json:
        out.print_json(json.dumps(values))
        return
    table = Table("setting", "value")
    for name, value in values.items():
        table.add_row(name, str(value))
    out.print(table)
    if reset or changes:
        out.print("saved; restart the node ('hotline serve') for it to take effect")


@app.command()
def send(
    link: Annotated[str, typer.Argument(help="Link name.")],
    text: Annotated[str, typer.Argument(help="Message text ('-' reads standard input).")],
    lang: Annotated[str, typer.Option(help="Language of the text.")] = "en",
    reply_to: Annotated[str | None, typer.Option(help="Id of the message this answers.")] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Commit a message to the outbox; returns once it is durable."""
    node = open_node(home)
    if text == "-":
        text = sys.stdin.read()
    try:
        message = node.send(link, {"text": text, "lang": lang}, ref=reply_to)
    except (NodeError, ProtocolError) as exc:
        fail(str(exc))
    out.print(f"queued {message.id} (seq {message.seq}) on {link}")


@app.command()
def inbox(
    link: Annotated[str | None, typer.Argument(help="Only this link.")] = None,
    limit: int = 20,
    as_json: bool = typer.Option(False, "--json"),
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Messages in and out, with their receipt ladder."""
    from .web.views import message_view

    node = open_node(home)
    try:
        messages = node.messages(link, limit=limit)
    except NodeError as exc:
        fail(str(exc))
    views = [message_view(m) for m in messages]
    if as_json:
        out.print_json(json.dumps(views, ensure_ascii=False))
        return
    table = Table("id", "dir", "from", "status", "text", "sent", "delivered", "ack", "answered")
    for v in views:
        ladder = v["ladder"]
        table.add_row(
            v["id"][-8:],
            "→" if v["direction"] == "out" else "←",
            v["sender"],
            v["status"],
            str(v["body"].get("text", ""))[:60],
            when(v["created_ms"]),
            when(ladder.get("delivered")),
            when(ladder.get("acknowledged")),
            when(ladder.get("answered")),
        )
    out.print(table)


@app.command()
def status(home: HomeOption = DEFAULT_HOME, as_json: bool = typer.Option(False, "--json")) -> None:
    """Per link: outbox depth, held entries, delivered and waiting messages."""
    from .web.views import status_view

    node = open_node(home)
    rows = [status_view(s) for s in node.status()]
    if as_json:
        out.print_json(json.dumps({"party": node.party, "links": rows}))
        return
    table = Table(
        "link", "peer", "outbox", "oldest queued", "held", "out", "in", "awaiting receipt"
    )
    for r in rows:
        table.add_row(
            r["name"],
            r["peer"],
            str(r["outbox_depth"]),
            when(r["oldest_queued_ms"]),
            str(r["held"]),
            str(r["messages_out"]),
            str(r["messages_in"]),
            str(r["awaiting_delivery"]),
        )
    out.print(table)


@app.command()
def export(
    link: Annotated[str, typer.Argument(help="Link name.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="Bundle file to write.")],
    without_payloads: Annotated[
        bool, typer.Option(help="Leave out decrypted payloads (signatures still verify).")
    ] = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Write the link's record as a self-contained, verifiable bundle."""
    node = open_node(home)
    try:
        bundle = node.export(link, with_payloads=not without_payloads)
    except NodeError as exc:
        fail(str(exc))
    output.write_text(bundle.to_json())
    detail = {
        "entries": len(bundle.entries),
        "link_id": bundle.link_id,
        "file": str(output),
        "payloads": not without_payloads,
    }
    with node.transaction() as session:
        audit(
            session,
            actor=_actor(),
            action="record.export",
            target=bundle.link_name,
            outcome="ok",
            detail=detail,
            now=clock_ms(),
        )
    out.print(f"exported {len(bundle.entries)} entries of link {link} to {output}")


@app.command()
def verify(
    bundle_file: Annotated[Path, typer.Argument(help="A bundle written by 'hotline export'.")],
    against: Annotated[
        Path | None, typer.Option(help="The other party's bundle: check that both agree.")
    ] = None,
) -> None:
    """Verify a bundle offline: signatures, chains, sequence, references, payloads."""
    bundle = _load_bundle(bundle_file)
    summary, fault = verify_bundle(bundle)
    if fault is not None:
        fail(f"{bundle_file}: {fault.describe()}", 4)
    parties = bundle.parties()
    out.print(f"[green]✓[/] {bundle_file}: link {bundle.link_name} ({bundle.link_id})")
    for party in parties.values():
        count = summary.per_party.get(party.party, 0)
        out.print(f"  {party.party}: {count} entries, fingerprint {party.fingerprint}")
    out.print(
        f"  {summary.entries} entries, {summary.receipts} receipts, "
        f"{summary.payloads_checked} payloads checked against their signed digests"
    )
    from .protocol.policy import agreements_in_record

    agreed, notes = agreements_in_record(bundle.link_id, parties, bundle.entries)
    for recorded in agreed:
        a = recorded.agreement
        out.print(
            f"  policy version {a.policy.version} signed by {a.proposer.party} and "
            f"{a.acceptor.party} (SHA-256 {a.policy.hash.hex()[:16]}…)"
        )
    for note in notes:
        out.print(f"  policy entry {escape(note)}")
    if against is not None:
        other = _load_bundle(against)
        other_summary, other_fault = verify_bundle(other)
        if other_fault is not None:
            fail(f"{against}: {other_fault.describe()}", 4)
        agreement = compare_bundles(bundle, other)
        if not agreement.agree:
            fail(
                f"records disagree: only in {bundle_file}: {list(agreement.only_in_first)}; "
                f"only in {against}: {list(agreement.only_in_second)}",
                5,
            )
        out.print(
            f"[green]✓[/] {against} verifies and holds the same {other_summary.entries} entries"
        )


@app.command()
def demo(
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Exit after the script instead of keeping the nodes and consoles up.",
        ),
    ] = False,
    directory: Annotated[
        Path | None, typer.Option(help="Where to put the two nodes' data (default: a temp dir).")
    ] = None,
) -> None:
    """Two nodes, washington and beijing, replay the opening hours of the 2023 balloon
    incident, then serve both consoles (with demo accounts) until interrupted."""
    from .demo import run_demo

    raise typer.Exit(run_demo(directory, keep_running=not once))


# Console accounts ------------------------------------------------------------

RoleOption = Annotated[
    str, typer.Option(help=f"One of: {', '.join(r.value for r in Role)}.", show_default=False)
]
PasswordStdinOption = Annotated[
    bool, typer.Option(help="Read the password from the first line of standard input.")
]


@contextmanager
def open_accounts(home: Path) -> Iterator[AccountService]:
    """The node's accounts, on its database brought to the newest schema; an
    AccountError inside ends the command with its message and code."""
    from .storage.database import make_engine, make_sessionmaker, upgrade

    try:
        config = NodeHome(home).load_config()
    except NodeError as exc:
        fail(str(exc))
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        yield AccountService(make_sessionmaker(engine), party=config.party)
    except AccountError as exc:
        fail(f"{exc.message} ({exc.code.value})")
    finally:
        engine.dispose()


def _actor() -> str:
    """Who ran the command, for the audit log: 'cli:<operating-system user>'."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _new_password(username: str, *, from_stdin: bool, who: str = "user") -> str:
    """A password that meets the policy: the first line of standard input, or typed twice
    (hidden; up to three tries). Never echoed, never logged: standard input that is a
    terminal is read as a hidden prompt too."""
    if from_stdin and not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            fail("no password on standard input")
        password = line.rstrip("\r\n")
        try:
            check_policy(password, username)
        except AccountError as exc:
            fail(f"{exc.message} ({exc.code.value})")
        return password
    for _ in range(3):
        password = str(
            typer.prompt(
                f"New password for {who} {username}", hide_input=True, confirmation_prompt=True
            )
        )
        try:
            check_policy(password, username)
            return password
        except AccountError as exc:
            err.print(f"{exc.message}; try again")
    fail("no acceptable password given")


def _user_row(user: UserInfo) -> dict[str, object]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "language": user.language,
        "timezone": user.timezone,
        "disabled": user.disabled,
        "totp": user.totp_enabled,
        "locked": user.locked,
        "locked_until_ms": user.locked_until_ms,
        "failed_logins": user.failed_logins,
        "created_ms": user.created_ms,
        "password_changed_ms": user.password_changed_ms,
    }


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name, e.g. 'li.wei'.")],
    role: RoleOption,
    display_name: Annotated[
        str | None, typer.Option(help="Name shown in the console (default: the username).")
    ] = None,
    language: Annotated[str, typer.Option(help="Console language: en or zh-Hans.")] = "en",
    timezone: Annotated[
        str, typer.Option(help="IANA time zone for times shown, e.g. Europe/London.")
    ] = "UTC",
    password_stdin: PasswordStdinOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Add a console user (asks for the password twice unless --password-stdin)."""
    with open_accounts(home) as accounts:
        # Check everything else before asking for a password.
        name = accounts.check_new_user(
            username, role=role, display_name=display_name, language=language, timezone=timezone
        )
        password = _new_password(name, from_stdin=password_stdin)
        user = accounts.add_user(
            name,
            password,
            role=role,
            display_name=display_name,
            language=language,
            timezone=timezone,
            actor=_actor(),
        )
    out.print(f"Added user [bold]{escape(user.username)}[/] ({user.role.value})")


@user_app.command("list")
def user_list(
    home: HomeOption = DEFAULT_HOME, as_json: bool = typer.Option(False, "--json")
) -> None:
    """List the console's users."""
    with open_accounts(home) as accounts:
        users = accounts.list_users()
    if as_json:
        out.print_json(json.dumps([_user_row(u) for u in users], ensure_ascii=False))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("username", "name", "role", "lang", "tz", "disabled", "totp", "locked"):
        table.add_column(column, overflow="fold", min_width=4)
    for u in users:
        table.add_row(
            escape(u.username),
            escape(u.display_name),
            u.role.value,
            u.language,
            u.timezone,
            "yes" if u.disabled else "no",
            "yes" if u.totp_enabled else "no",
            f"until {_clock_time(u.locked_until_ms)}" if u.locked else "no",
        )
    out.print(table)


def _clock_time(ms: int | None) -> str:
    return "—" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%SZ")


@user_app.command("update")
def user_update(
    username: Annotated[str, typer.Argument(help="The user to change.")],
    role: Annotated[str | None, typer.Option(help="New role.", show_default=False)] = None,
    display_name: Annotated[
        str | None, typer.Option(help="New name shown in the console.", show_default=False)
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Console language: en or zh-Hans.", show_default=False)
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone, e.g. Asia/Shanghai.", show_default=False)
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Change a user's role, shown name, language or time zone."""
    if role is None and display_name is None and language is None and timezone is None:
        fail("nothing to change: give --role, --display-name, --language or --timezone")
    with open_accounts(home) as accounts:
        user = accounts.update_user(
            username,
            role=role,
            display_name=display_name,
            language=language,
            timezone=timezone,
            actor=_actor(),
        )
    out.print(
        f"Updated [bold]{escape(user.username)}[/]: {user.role.value}, "
        f"{escape(user.display_name)}, {user.language}, {user.timezone}"
    )


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="The user to disable.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Refuse the user's logins and end their sessions (the record keeps their name)."""
    with open_accounts(home) as accounts:
        user = accounts.disable_user(username, actor=_actor())
    out.print(f"Disabled [bold]{escape(user.username)}[/]; their sessions have ended.")


@user_app.command("enable")
def user_enable(
    username: Annotated[str, typer.Argument(help="The user to enable or unlock.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Allow the user's logins again, and lift a lockout after failed logins."""
    with open_accounts(home) as accounts:
        user = accounts.enable_user(username, actor=_actor())
    out.print(f"Enabled [bold]{escape(user.username)}[/].")


@user_app.command("password")
def user_password(
    username: Annotated[str, typer.Argument(help="The user whose password to set.")],
    password_stdin: PasswordStdinOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Set a user's password; ends their sessions and lifts any lockout."""
    with open_accounts(home) as accounts:
        name = accounts.get_user(username).username
        password = _new_password(name, from_stdin=password_stdin)
        accounts.set_password(name, password, actor=_actor())
    out.print(f"Password set for [bold]{escape(name)}[/]; their sessions have ended.")


@user_app.command("totp")
def user_totp(
    username: Annotated[str, typer.Argument(help="The user.")],
    enable: Annotated[
        bool | None,
        typer.Option(
            "--enable/--disable",
            help="Require a code from an authenticator app at login, or stop requiring it.",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Turn two-factor login (TOTP) on (shows the new secret once) or off."""
    if enable is None:
        fail("say --enable or --disable", 2)
    with open_accounts(home) as accounts:
        if not enable:
            user = accounts.disable_totp(username, actor=_actor())
            out.print(f"TOTP disabled for [bold]{escape(user.username)}[/].")
            return
        name = accounts.get_user(username).username
        enrolment = accounts.enable_totp(name, actor=_actor())
    out.print(
        f"TOTP enabled for [bold]{escape(name)}[/]. Enter this into the user's "
        "authenticator app now; it is shown only once. Provisioning URI (for a QR code):"
    )
    out.print(f"  {enrolment.uri}", markup=False, highlight=False, soft_wrap=True)
    out.print("Secret (to type in by hand):")
    out.print(f"  {enrolment.secret}", markup=False, highlight=False, soft_wrap=True)


# Link policy, channels, escalation, link tests, statistics --------------------------


def _json_file(path: Path) -> dict[str, object]:
    try:
        value = json.loads(_read(path))
    except json.JSONDecodeError as exc:
        fail(f"{path} is not JSON: {exc}")
    if not isinstance(value, dict):
        fail(f"{path} must hold a JSON object")
    return value


def _desk(home: Path) -> Desk:
    from .node.desk import Desk

    return Desk(open_node(home))


@policy_app.command("show")
def policy_show(
    link: Annotated[str, typer.Argument(help="Link name.")],
    as_json: bool = typer.Option(False, "--json"),
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """The policy in force (signed by both parties) and every version proposed."""
    try:
        state = _desk(home).policy(link)
    except (NodeError, ProtocolError) as exc:
        fail(str(exc))
    if as_json:
        out.print_json(json.dumps(state.view(), ensure_ascii=False))
        return
    policy = state.in_force
    if policy is None:
        out.print(
            f"[bold]{escape(state.link_name)}[/]: no policy in force (emergency channel closed)"
        )
    else:
        agreement = state.agreement
        assert agreement is not None  # in force means signed by both
        out.print(
            f"[bold]{escape(state.link_name)}[/]: policy version {policy.version} in force, "
            f"signed by {agreement.proposer.party} and {agreement.acceptor.party}"
        )
        for line in _policy_lines(policy):
            out.print(f"  {escape(line)}")
    for version in state.versions:
        if version.state not in ("proposed", "refused"):
            continue
        reason = f" ({escape(version.refusal)})" if version.refusal else ""
        out.print(
            f"Version {version.version} {version.state} by {version.proposed_by}"
            f" at {when(version.proposed_ms)}{reason}"
        )
        if version.state == "proposed" and version.policy is not None:
            before = set(_policy_lines(policy)) if policy is not None else set()
            for line in _policy_lines(version.policy):
                marker = "  " if line in before else "+ "
                out.print(f"  {marker}{escape(line)}")


def _policy_lines(policy: Policy) -> list[str]:
    """The policy as lines to read before signing (a proposal's changed lines get '+')."""
    lines = [f"purpose: {policy.purpose}", f"languages: {', '.join(policy.languages)}"]
    for criterion in policy.criteria:
        labels = " / ".join(criterion.labels[lang] for lang in policy.languages)
        lines.append(f"criterion {criterion.id}: {labels}")
    for name, times in policy.channels.items():
        lines.append(
            f"{name}: acknowledge within {times.acknowledge_s} s, answer within {times.answer_s} s"
        )
    lines += [
        f"two-person rule for emergency activations: {policy.two_person_rule}",
        f"displayed receipts shared: {policy.share_displayed}",
        f"replies need approval: {policy.replies_need_approval}",
        f"link test every {policy.link_test.interval_s} s (0: none), "
        f"confirm within {policy.link_test.confirm_s} s",
    ]
    return lines


@policy_app.command("propose")
def policy_propose(
    link: Annotated[str, typer.Argument(help="Link name.")],
    file: Annotated[
        Path | None, typer.Option("--file", help="JSON object of the policy fields to change.")
    ] = None,
    purpose: Annotated[str | None, typer.Option(help="What the link is for.")] = None,
    two_person_rule: Annotated[
        bool | None,
        typer.Option(
            "--two-person-rule/--no-two-person-rule",
            help="Emergency activations need a second operator.",
            show_default=False,
        ),
    ] = None,
    share_displayed: Annotated[
        bool | None,
        typer.Option(
            "--share-displayed/--no-share-displayed",
            help="Send 'displayed' receipts.",
            show_default=False,
        ),
    ] = None,
    replies_need_approval: Annotated[
        bool | None,
        typer.Option(
            "--replies-need-approval/--no-replies-need-approval",
            help="Replies wait for a principal's approval.",
            show_default=False,
        ),
    ] = None,
    link_test_interval: Annotated[
        int | None, typer.Option(help="Seconds between link tests (0: none).")
    ] = None,
    link_test_confirm: Annotated[
        int | None, typer.Option(help="Seconds the other side has to confirm a test.")
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Propose the next policy version: the one in force with these changes. It is in
    force once the other party countersigns it ('hotline policy accept')."""
    desk = _desk(home)
    changes: dict[str, object] = dict(_json_file(file)) if file is not None else {}
    for key, value in (
        ("purpose", purpose),
        ("two_person_rule", two_person_rule),
        ("share_displayed", share_displayed),
        ("replies_need_approval", replies_need_approval),
    ):
        if value is not None:
            changes[key] = value
    if link_test_interval is not None or link_test_confirm is not None:
        try:
            current = desk.policy(link).in_force
        except NodeError as exc:
            fail(str(exc))
        given = changes.get("link_test")
        rule: dict[str, object] = dict(given) if isinstance(given, dict) else {}
        if not rule and current is not None:
            rule = dict(current.link_test.to_map())
        rule.setdefault("interval_s", 3600)
        rule.setdefault("confirm_s", 600)
        if link_test_interval is not None:
            rule["interval_s"] = link_test_interval
        if link_test_confirm is not None:
            rule["confirm_s"] = link_test_confirm
        changes["link_test"] = rule
    try:
        proposed = desk.propose_policy(link, changes, _actor())
    except NodeError as exc:
        fail(str(exc))
    out.print(
        f"Proposed policy version {proposed.version} on {link}; it is in force once the "
        f"other party runs 'hotline policy accept {link} {proposed.version}'."
    )


@policy_app.command("accept")
def policy_accept(
    link: Annotated[str, typer.Argument(help="Link name.")],
    version: Annotated[int, typer.Argument(help="The proposed version to countersign.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Countersign the other party's proposed policy version: it comes into force."""
    try:
        accepted = _desk(home).accept_policy(link, version, _actor())
    except NodeError as exc:
        fail(str(exc))
    out.print(f"Policy version {accepted.version} on {link} is in force.")


@escalation_app.command("show")
def escalation_show(
    link: Annotated[str, typer.Argument(help="Link name.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """This node's escalation policy for the link, as JSON."""
    try:
        policy = _desk(home).escalation(link)
    except NodeError as exc:
        fail(str(exc))
    out.print_json(json.dumps({"link": link, "policy": policy}, ensure_ascii=False))


@escalation_app.command("set")
def escalation_set(
    link: Annotated[str, typer.Argument(help="Link name.")],
    file: Annotated[Path, typer.Option("--file", help="JSON escalation policy.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Replace the link's escalation policy (checked first; nothing changes if refused)."""
    document = _json_file(file)
    try:
        stored = _desk(home).set_escalation(link, document, _actor())
    except NodeError as exc:
        fail(str(exc))
    out.print(f"Escalation policy for {link} set: rungs {', '.join(stored)}.")


@link_app.command("tests")
def link_tests(
    link: Annotated[str, typer.Argument(help="Link name.")],
    as_json: bool = typer.Option(False, "--json"),
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Link tests sent and received on the link, newest first."""
    from .node.link_tests import test_view

    try:
        views = [test_view(t) for t in _desk(home).link_tests(link)]
    except NodeError as exc:
        fail(str(exc))
    if as_json:
        out.print_json(json.dumps(views))
        return
    table = Table("id", "dir", "state", "sent", "deadline", "confirmed", "by")
    for v in views:
        table.add_row(
            v["id"],
            "→" if v["direction"] == "out" else "←",
            v["state"],
            when(v["sent_ms"]),
            when(v["deadline_ms"]),
            when(v["confirmed_ms"]),
            escape(v["confirmed_by"] or ""),
        )
    out.print(table)


@link_app.command("confirm-test")
def link_confirm_test(
    test_id: Annotated[str, typer.Argument(help="The id of the other side's link test.")],
    by: Annotated[str | None, typer.Option(help="Who confirms (default: the OS user).")] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Confirm the other side's link test: a person is at the desk."""
    try:
        test = _desk(home).confirm_link_test(test_id, by or _actor())
    except NodeError as exc:
        fail(str(exc))
    out.print(f"Confirmed link test {test.id}.")


@app.command()
def stats(
    link: Annotated[str, typer.Argument(help="Link name.")],
    bucket: Annotated[str, typer.Option(help="hour or day (UTC).")] = "day",
    as_json: bool = typer.Option(False, "--json"),
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Emergency, routine and test traffic on the link per hour or day."""
    try:
        view = _desk(home).usage(link, bucket=bucket).view()
    except NodeError as exc:
        fail(str(exc))
    if as_json:
        out.print_json(json.dumps(view))
        return
    table = Table(bucket, "emergency out/in", "routine out/in", "tests out/in")
    for row in [*view["buckets"], {"start_ms": None, **view["totals"]}]:
        start = "total" if row["start_ms"] is None else when(row["start_ms"])[:16]
        table.add_row(
            start,
            *(f"{row[c]['out']}/{row[c]['in']}" for c in ("emergency", "routine", "test")),
        )
    out.print(table)
    for channel, r in view["responses"].items():
        parts = [f"{channel}: {r['sent']} sent"]
        for rung in ("acknowledged", "answered"):
            if r[rung]["count"]:
                parts.append(
                    f"{r[rung]['count']} {rung} (median {r[rung]['median_s']} s, "
                    f"90% within {r[rung]['p90_s']} s)"
                )
        out.print(", ".join(parts))


@app.command()
def overdue(as_json: bool = typer.Option(False, "--json"), home: HomeOption = DEFAULT_HOME) -> None:
    """Our messages and link tests waiting past their deadlines, most urgent first."""
    items = [item.view() for item in _desk(home).overdue()]
    if as_json:
        out.print_json(json.dumps(items, ensure_ascii=False))
        return
    table = Table("link", "id", "channel", "awaiting", "waiting", "overdue by", "steps")
    for i in items:
        table.add_row(
            i["link_name"],
            i["id"],
            i["channel"],
            i["awaiting"],
            f"{i['waiting_ms'] // 1000} s",
            f"{i['overdue_ms'] // 1000} s",
            str(i["steps"]),
        )
    out.print(table)


@app.command()
def alerts(as_json: bool = typer.Option(False, "--json"), home: HomeOption = DEFAULT_HOME) -> None:
    """Open console alerts (escalations, alternate links, missed link tests)."""
    from .node.alerts import alert_view

    views = [alert_view(a) for a in _desk(home).alerts()]
    if as_json:
        out.print_json(json.dumps(views, ensure_ascii=False))
        return
    for v in views:
        target = v["target_user"] or v["target_role"] or "everyone"
        out.print(f"#{v['id']} {when(v['created_ms'])} → {target}: {escape(v['text'])}")


@app.command("audit")
def audit_log(
    user: Annotated[
        str | None, typer.Option("--user", help="Only this user (or actor, e.g. cli:root).")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only actions beginning with this, e.g. 'login' or 'user.'.")
    ] = None,
    outcome: Annotated[str | None, typer.Option(help="ok or refused.")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="From this date or time (UTC unless an offset is given): 2026-12-01."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Up to this date (the whole day) or time, UTC.")
    ] = None,
    before: Annotated[
        int | None, typer.Option(help="Only entries older than this id (the next page).")
    ] = None,
    limit: Annotated[int, typer.Option(help=f"At most this many entries (1-{AUDIT_LIMIT}).")] = 100,
    as_json: bool = typer.Option(False, "--json"),
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """The audit log, newest first: logins, console actions and account changes."""
    try:
        filters = audit_filter(
            username=user, action=action, outcome=outcome, since=since, until=until
        )
    except AuditFilterError as exc:
        fail(exc.message)
    if not 1 <= limit <= AUDIT_LIMIT:
        fail(f"--limit must be between 1 and {AUDIT_LIMIT}")
    if before is not None and before < 1:
        fail("--before must be an entry id")
    with open_accounts(home) as accounts:
        entries = accounts.audit_entries(limit, before, filters)
    if as_json:
        rows = [dataclasses.asdict(e) for e in entries]
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    if out.width < AUDIT_TABLE_WIDTH:
        _print_audit_lines(entries)
    else:
        _print_audit_table(entries)
    if len(entries) == limit:
        err.print(f"more entries may be older: --before {entries[-1].id}")


# Below this many columns the eight columns of the table fold every word, so each
# entry is printed on its own lines instead.
AUDIT_TABLE_WIDTH = 120


def _audit_outcome(outcome: str) -> str:
    return outcome if outcome == "ok" else f"[red]{escape(outcome)}[/]"


def _print_audit_lines(entries: list[AuditEntry]) -> None:
    for e in entries:
        out.print(
            f"[bold]#{e.id}[/] {when(e.at_ms)} {escape(e.username or '—')} "
            f"[bold]{escape(e.action)}[/] {escape(e.target or '—')} {_audit_outcome(e.outcome)}",
            overflow="fold",
        )
        extra = [f"from {escape(e.address)}"] if e.address else []
        if e.detail:
            extra.append(escape(json.dumps(e.detail, ensure_ascii=False, sort_keys=True)))
        if extra:  # indented, wrapped lines included
            out.print(Padding("  ".join(extra), (0, 0, 0, 4), expand=False), overflow="fold")


def _print_audit_table(entries: list[AuditEntry]) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("id", no_wrap=True)
    table.add_column("time (UTC)", no_wrap=True)
    for column in ("user", "action", "target", "outcome", "address"):
        table.add_column(column, overflow="fold", min_width=4)
    table.add_column("detail", overflow="fold", min_width=20)
    for e in entries:
        table.add_row(
            str(e.id),
            when(e.at_ms),
            escape(e.username or "—"),
            escape(e.action),
            escape(e.target or "—"),
            _audit_outcome(e.outcome),
            escape(e.address or "—"),
            escape(json.dumps(e.detail, ensure_ascii=False, sort_keys=True)),
        )
    out.print(table)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def _load_bundle(path: Path):  # type: ignore[no-untyped-def]
    try:
        return read_bundle(path.read_bytes())
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except ProtocolError as exc:
        fail(f"{path}: {exc.detail} ({exc.code.value})", 4)


def _certificate_der(path: Path) -> bytes:
    from .transport.tls import certificate_der

    try:
        return certificate_der(path.read_bytes())
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except ValueError:
        fail(f"{path} is not a PEM certificate")


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def main() -> None:
    """The ``hotline`` command."""
    try:
        app()
    finally:
        # At exit the interpreter's last garbage collection walks every object the
        # libraries made at import (about a second on a slow machine, for every
        # command and every node stop). Nothing among them needs it: the node
        # closes its database before this, and the rest is freed with the process.
        gc.freeze()
