"""The ``hotline`` command line.

Everything it prints that came from outside (a message, a party's or a link's
name, a purpose, a policy label, an alert, an audit detail, a file read) goes
through :func:`say`, :func:`cell`, :func:`print_json` or :func:`fail`: shown by
:func:`hotline.untrusted.inert` and never read as rich markup, so the other party
cannot drive the operator's terminal. Exit codes are listed in ``EXIT_CODES``
(and in the README).
"""

from __future__ import annotations

import dataclasses
import gc
import getpass
import json
import logging
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from .accounts import AccountError, AccountService, Role, UserInfo
from .accounts.audit import PAGE_LIMIT as AUDIT_LIMIT
from .accounts.audit import AuditFilterError, audit_filter
from .accounts.passwords import check_policy
from .accounts.profile import check_username
from .accounts.results import AuditEntry
from .files import write_private_file
from .node.clock import now_ms as clock_ms
from .node.home import NodeError, NodeHome, check_listeners, check_new_node, init_node
from .node.refusals import Refused, audit
from .phrasebook_cli import glossary_app, inbox_text, phrasebook_app
from .protocol.bundle import compare_bundles, read_bundle, verify_bundle
from .protocol.errors import ProtocolError
from .untrusted import inert, inert_json

if TYPE_CHECKING:
    from .node.desk import Desk
    from .node.line import PolicyState
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
app.add_typer(phrasebook_app, name="phrasebook")
app.add_typer(glossary_app, name="glossary")
# No emoji codes (":warning:") and no highlighting: text is shown as written.
out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)

HomeOption = Annotated[
    Path,
    typer.Option(
        "--home", "-H", envvar="HOTLINE_HOME", help="The node's data directory.", show_default=True
    ),
]
DEFAULT_HOME = Path("hotline-data")


# What each exit status means. fail() is called with these codes only (a test
# checks), typer exits 2 on a usage error, and the README lists them all.
EXIT_OK = 0
EXIT_ERROR = 1  # refused, not found, unreadable, or interrupted ("Aborted.")
EXIT_USAGE = 2  # a command or option misused
EXIT_NOT_CONFIRMED = 3  # a fingerprint does not match, or was not confirmed
EXIT_BUNDLE_INVALID = 4  # a bundle does not verify (or is not a bundle)
EXIT_RECORDS_DISAGREE = 5  # two bundles verify but do not hold the same entries


def shown(value: object) -> str:
    """``value`` as one line of inert text (:func:`hotline.untrusted.inert`), escaped
    for use inside rich markup."""
    return escape(inert(str(value)))


def say(template: str, /, **values: object) -> None:
    """Print ``template``, markup written here, with ``values`` filled in as
    :func:`shown` text: ``say("Link [bold]{name}[/] is up", name=link.name)``.

    Lines are not broken by the program (the terminal wraps them): a path or a
    fingerprint stays whole, to copy or to read aloud."""
    text = template.format_map({key: shown(value) for key, value in values.items()})
    out.print(text, soft_wrap=True)


def cell(value: object, *, multiline: bool = False, style: str = "") -> Text:
    """A table cell holding ``value`` as inert text (a Text is never read as markup)."""
    return Text(inert(str(value), multiline=multiline), style=style)


def cells(*values: object) -> list[Text]:
    return [cell(value) for value in values]


def print_json(value: object) -> None:
    """``value`` as indented JSON whose strings are inert on a terminal (the same value
    to a JSON reader: hazardous characters are ``\\u`` escapes)."""
    out.print(JSONHighlighter()(Text(inert_json(value))), soft_wrap=True)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(f"[bold red]error:[/] {shown(message)}", soft_wrap=True)
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
    peer_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the peer listener (mutual TLS).")
    ] = 7443,
    local_host: Annotated[str, typer.Option(help="Address of the local API.")] = "127.0.0.1",
    local_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the local API (and console).")
    ] = 7080,
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
        check_listeners(peer_host, peer_port, local_host, local_port)
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
    say("Created node [bold]{party}[/] in {home}", party=party, home=home)
    say(
        "Fingerprint (read it aloud when setting up a link; 'hotline fingerprint' shows it "
        "again):\n  [bold]{fingerprint}[/]",
        fingerprint=identity.fingerprint,
    )
    say("Local API token: {path} (mode 0600)", path=node_home.token_path)
    say("Console administrator: [bold]{admin}[/]", admin=admin)
    if generated:
        say(
            "Generated password, shown this once and not stored anywhere in clear "
            "(only its hash is kept). Note it now, or set another with "
            "'hotline user password {admin}':",
            admin=admin,
        )
        out.print(f"  {password}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def serve(
    home: HomeOption = DEFAULT_HOME,
    verbose: bool = False,
    peer_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Override the peer port (e.g. a second process)."),
    ] = None,
    local_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Override the local API port.")
    ] = None,
) -> None:
    """Run the node: peer listener, local API and background delivery.

    Several processes may serve one node over one PostgreSQL database (each with its
    own ports behind a load balancer): they share no state outside the database."""
    from .web.server import NodeServer, run_event_loop

    _log_to_stderr(
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
        logging.INFO if verbose else logging.WARNING,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per push is noise
    logging.getLogger("hotline.rules").setLevel(logging.NOTSET)  # see main()
    try:
        node_home = NodeHome(home)
        config = node_home.load_config()
        check_listeners(
            config.peer_host,
            config.peer_port if peer_port is None else peer_port,
            config.local_host,
            config.local_port if local_port is None else local_port,
        )
        server = NodeServer(node_home, peer_port=peer_port, local_port=local_port)
    except NodeError as exc:
        fail(str(exc))
    say(
        "[bold]{party}[/] serving peers on https://{peer_host}:{peer_port}, "
        "local API on http://{local_host}:{local_port}",
        party=config.party,
        peer_host=config.peer_host,
        peer_port=config.peer_port if peer_port is None else peer_port,
        local_host=config.local_host,
        local_port=config.local_port if local_port is None else local_port,
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
    _write(output, text)
    say(
        "Invitation {id} for link [bold]{name}[/] written to {output}",
        id=invitation.id,
        name=name,
        output=output,
    )
    say("Expires {expires}. Our fingerprint, to read aloud:", expires=when(invitation.expires_ms))
    say("  [bold]{fingerprint}[/]", fingerprint=node.identity.public.fingerprint)


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
    say(
        "Invitation from [bold]{party}[/] for link [bold]{link}[/]",
        party=inviter.party,
        link=invitation.link_name,
    )
    say("Purpose: {purpose}", purpose=invitation.purpose)
    say("Endpoints: {endpoints}", endpoints=", ".join(invitation.inviter.endpoints))
    say("Fingerprint: [bold]{fingerprint}[/]", fingerprint=inviter.fingerprint)
    if fingerprint is not None:
        if _digits(fingerprint) != _digits(inviter.fingerprint):
            fail(
                "the fingerprint does not match the one read aloud: do not accept",
                EXIT_NOT_CONFIRMED,
            )
    elif yes:
        fail("--yes needs --fingerprint, so that the fingerprint is still checked", EXIT_USAGE)
    elif not typer.confirm("Does this match the fingerprint read aloud by the other party?"):
        fail("not accepted", EXIT_NOT_CONFIRMED)
    _check_writable(output)  # before the invitation is used up
    try:
        link, acceptance = node.accept_invitation(text)
    except ProtocolError as exc:
        fail(f"invitation refused: {exc.detail} ({exc.code.value})")
    _write(output, acceptance)
    say("Link [bold]{name}[/] with {peer} is set up here.", name=link.name, peer=link.peer_party)
    say(
        "Send {output} to {peer}; they complete it with 'hotline link complete'.",
        output=output,
        peer=link.peer_party,
    )
    say(
        "Our fingerprint, to read aloud: [bold]{fingerprint}[/]",
        fingerprint=node.identity.public.fingerprint,
    )


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
    say(
        "Acceptance from [bold]{party}[/], fingerprint [bold]{fingerprint}[/]",
        party=acceptor.party,
        fingerprint=acceptor.fingerprint,
    )
    if fingerprint is not None:
        if _digits(fingerprint) != _digits(acceptor.fingerprint):
            fail(
                "the fingerprint does not match the one read aloud: do not complete",
                EXIT_NOT_CONFIRMED,
            )
    elif yes:
        fail("--yes needs --fingerprint, so that the fingerprint is still checked", EXIT_USAGE)
    elif not typer.confirm("Does this match the fingerprint read aloud by the other party?"):
        fail("not completed", EXIT_NOT_CONFIRMED)
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
    say("Link [bold]{name}[/] with {peer} is complete.", name=link.name, peer=link.peer_party)
    if no_policy:
        return
    from .node.desk import Desk

    try:
        proposed = Desk(node).propose_policy(link.name, changes, _actor())
    except NodeError as exc:
        fail(f"policy version 1 not proposed: {exc}")
    say(
        "Proposed policy version {version}; it reaches {peer} over the link while both nodes "
        "are serving ('hotline serve'), and {peer} countersigns it with "
        "'hotline policy accept {name} {version}'.",
        version=proposed.version,
        peer=link.peer_party,
        name=link.name,
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
        print_json([link_view(link) for link in links])
        return
    table = Table("name", "peer", "purpose", "role", "sent", "received", "peer fingerprint")
    for link in links:
        table.add_row(
            cell(link.name),
            cell(link.peer_party),
            cell(link.purpose),
            cell(link.role),
            cell(link.own_seq),
            cell(link.peer_seq),
            cell(fp(link.peer_signing_key, link.peer_encryption_key)),
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
        print_json(rows)
        return
    table = Table("#", "kind")
    table.add_column("url", overflow="fold", min_width=24)
    for column in ("state", "active", "last good", "rtt", "misses"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            *cells(
                r["position"],
                r["kind"],
                r["url"],
                r["state"],
                "●" if r["active"] else "",
                when(r["last_good_ms"]),
                "—" if r["rtt_ms"] is None else f"{r['rtt_ms']} ms",
                r["failures"],
            )
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
    say("Path {position} of link {link}: {url}", position=path.position, link=link, url=path.url)


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
    say(
        "Relay {url} accepted for link {link} (path {position}).",
        url=path.url,
        link=link,
        position=path.position,
    )
    say("A running node pins the relay's certificate within a second.")


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
    say(
        "Relaying link {link} for {party} at {endpoints}",
        link=route.link_id,
        party=route.party,
        endpoints=", ".join(route.endpoints),
    )


@relay_app.command("list")
def relay_list(home: HomeOption = DEFAULT_HOME) -> None:
    """The links this node relays, and their parties."""
    from .transport.tls import certificate_fingerprint

    node = open_node(home)
    table = Table("link", "party", "endpoints", "certificate sha-256")
    for route in node.relay_routes():
        table.add_row(
            *cells(
                route.link_id,
                route.party,
                ", ".join(route.endpoints),
                certificate_fingerprint(route.certificate),
            )
        )
    out.print(table)


@app.command()
def fingerprint(
    home: HomeOption = DEFAULT_HOME, as_json: bool = typer.Option(False, "--json")
) -> None:
    """This node's fingerprint, to read aloud when setting up a link (as 'init' showed)."""
    try:
        identity = NodeHome(home).load_identity().public
    except NodeError as exc:
        fail(str(exc))
    if as_json:
        print_json({"party": identity.party, "fingerprint": identity.fingerprint})
        return
    say("Fingerprint of [bold]{party}[/], to read aloud:", party=identity.party)
    say("  [bold]{fingerprint}[/]", fingerprint=identity.fingerprint)


@app.command()
def certificate(home: HomeOption = DEFAULT_HOME) -> None:
    """This node's TLS certificate file and its SHA-256 fingerprint (for relays; not the
    fingerprint read aloud at link set-up, which 'hotline fingerprint' shows)."""
    from .transport.tls import certificate_fingerprint

    try:
        node_home = NodeHome(home)
        node_home.load_config()
        der = node_home.certificate_der()
    except NodeError as exc:
        fail(str(exc))
    say("{path}", path=node_home.cert_path)
    say("sha256 {fingerprint}", fingerprint=certificate_fingerprint(der))


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
        print_json(values)
        return
    table = Table("setting", "value")
    for name, value in values.items():
        table.add_row(*cells(name, value))
    out.print(table)
    if reset or changes:
        say("saved; restart the node ('hotline serve') for it to take effect")


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
    say("queued {id} (seq {seq}) on {link}", id=message.id, seq=message.seq, link=link)


@app.command()
def inbox(
    link: Annotated[str | None, typer.Argument(help="Only this link.")] = None,
    limit: int = 20,
    as_json: bool = typer.Option(False, "--json"),
    lang: str = typer.Option("en", "--lang", help="The reader's language for agreed texts."),
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Messages in and out, with their receipt ladder; agreed texts in the reader's
    language, marked [agreed text]; translations with their provenance."""
    from .cli_translations import lines as translation_lines
    from .node.translations import Translations
    from .web.language_api import messages_with_agreed

    node = open_node(home)
    try:
        views = messages_with_agreed(node, node.messages(link, limit=limit))
    except NodeError as exc:
        fail(str(exc))
    rendered = Translations(node).of_messages([v["id"] for v in views])
    for v in views:
        v["translations"] = [t.as_json() for t in rendered.get(v["id"], [])]
    if as_json:
        print_json(views)
        return
    table = Table("id", "dir", "from", "status", "text", "sent", "delivered", "ack", "answered")
    for v in views:
        ladder = v["ladder"]
        text = inbox_text(v, lang)
        translated = translation_lines(rendered.get(v["id"], []), INBOX_TEXT)
        table.add_row(
            *cells(v["id"][-8:], "→" if v["direction"] == "out" else "←", v["sender"], v["status"]),
            # The first characters, cut before making them inert: a control character
            # near the cut is shown whole.
            cell(
                text[:INBOX_TEXT]
                + ("…" if len(text) > INBOX_TEXT else "")
                + (f"\n{translated}" if translated else ""),
                multiline=True,
            ),
            *cells(
                when(v["created_ms"]),
                when(ladder.get("delivered")),
                when(ladder.get("acknowledged")),
                when(ladder.get("answered")),
            ),
        )
    out.print(table)


# Characters of a message's text that the inbox's table shows.
INBOX_TEXT = 60


@app.command()
def status(home: HomeOption = DEFAULT_HOME, as_json: bool = typer.Option(False, "--json")) -> None:
    """Per link: outbox depth, held entries, delivered and waiting messages."""
    from .web.views import status_view

    node = open_node(home)
    rows = [status_view(s) for s in node.status()]
    if as_json:
        print_json({"party": node.party, "links": rows})
        return
    table = Table(
        "link", "peer", "outbox", "oldest queued", "held", "out", "in", "awaiting receipt"
    )
    for r in rows:
        table.add_row(
            *cells(
                r["name"],
                r["peer"],
                r["outbox_depth"],
                when(r["oldest_queued_ms"]),
                r["held"],
                r["messages_out"],
                r["messages_in"],
                r["awaiting_delivery"],
            )
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
    """Write the link's record as a self-contained, verifiable bundle.

    The file holds the decrypted messages (unless --without-payloads): it is created
    readable by its owner only (mode 0600)."""
    node = open_node(home)
    try:
        bundle = node.export(link, with_payloads=not without_payloads)
    except NodeError as exc:
        fail(str(exc))
    try:
        write_private_file(output, bundle.to_json().encode())
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
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
    say(
        "exported {entries} entries of link {link} to {output} (mode 0600)",
        entries=len(bundle.entries),
        link=link,
        output=output,
    )


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
        fail(f"{bundle_file}: {fault.describe()}", EXIT_BUNDLE_INVALID)
    parties = bundle.parties()
    say(
        "[green]✓[/] {file}: link {name} ({id})",
        file=bundle_file,
        name=bundle.link_name,
        id=bundle.link_id,
    )
    for party in parties.values():
        say(
            "  {party}: {count} entries, fingerprint {fingerprint}",
            party=party.party,
            count=summary.per_party.get(party.party, 0),
            fingerprint=party.fingerprint,
        )
    say(
        "  {entries} entries, {receipts} receipts, "
        "{payloads} payloads checked against their signed digests",
        entries=summary.entries,
        receipts=summary.receipts,
        payloads=summary.payloads_checked,
    )
    from .protocol.policy import agreements_in_record

    agreed, notes = agreements_in_record(bundle.link_id, parties, bundle.entries)
    for recorded in agreed:
        a = recorded.agreement
        say(
            "  policy version {version} signed by {proposer} and {acceptor} (SHA-256 {hash}…)",
            version=a.policy.version,
            proposer=a.proposer.party,
            acceptor=a.acceptor.party,
            hash=a.policy.hash.hex()[:16],
        )
    for note in notes:
        say("  policy entry {note}", note=note)
    if against is not None:
        other = _load_bundle(against)
        other_summary, other_fault = verify_bundle(other)
        if other_fault is not None:
            fail(f"{against}: {other_fault.describe()}", EXIT_BUNDLE_INVALID)
        agreement = compare_bundles(bundle, other)
        if not agreement.agree:
            fail(
                f"records disagree: only in {bundle_file}: {list(agreement.only_in_first)}; "
                f"only in {against}: {list(agreement.only_in_second)}",
                EXIT_RECORDS_DISAGREE,
            )
        say(
            "[green]✓[/] {file} verifies and holds the same {entries} entries",
            file=against,
            entries=other_summary.entries,
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
    models: Annotated[
        Path | None,
        typer.Option(
            envvar="HOTLINE_MODELS",
            help="Installed CTranslate2 models (docs/language.md); without, a toy stand-in.",
        ),
    ] = None,
) -> None:
    """Two nodes, washington and beijing, replay the opening hours of the 2023 balloon
    incident (agreed texts, a translated and verified question, the shared glossary), then
    serve both consoles (with demo accounts) until interrupted."""
    from .demo import run_demo

    raise typer.Exit(run_demo(directory, keep_running=not once, models=models))


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
            err.print(f"{exc.message}; try again", markup=False)
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
    say("Added user [bold]{name}[/] ({role})", name=user.username, role=user.role.value)


@user_app.command("list")
def user_list(
    home: HomeOption = DEFAULT_HOME, as_json: bool = typer.Option(False, "--json")
) -> None:
    """List the console's users."""
    with open_accounts(home) as accounts:
        users = accounts.list_users()
    if as_json:
        print_json([_user_row(u) for u in users])
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("username", "name", "role", "lang", "tz", "disabled", "totp", "locked"):
        table.add_column(column, overflow="fold", min_width=4)
    for u in users:
        table.add_row(
            *cells(
                u.username,
                u.display_name,
                u.role.value,
                u.language,
                u.timezone,
                "yes" if u.disabled else "no",
                "yes" if u.totp_enabled else "no",
                f"until {_clock_time(u.locked_until_ms)}" if u.locked else "no",
            )
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
    say(
        "Updated [bold]{name}[/]: {role}, {display_name}, {language}, {timezone}",
        name=user.username,
        role=user.role.value,
        display_name=user.display_name,
        language=user.language,
        timezone=user.timezone,
    )


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="The user to disable.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Refuse the user's logins and end their sessions (the record keeps their name)."""
    with open_accounts(home) as accounts:
        user = accounts.disable_user(username, actor=_actor())
    say("Disabled [bold]{name}[/]; their sessions have ended.", name=user.username)


@user_app.command("enable")
def user_enable(
    username: Annotated[str, typer.Argument(help="The user to enable or unlock.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Allow the user's logins again, and lift a lockout after failed logins."""
    with open_accounts(home) as accounts:
        user = accounts.enable_user(username, actor=_actor())
    say("Enabled [bold]{name}[/].", name=user.username)


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
    say("Password set for [bold]{name}[/]; their sessions have ended.", name=name)


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
        fail("say --enable or --disable", EXIT_USAGE)
    with open_accounts(home) as accounts:
        if not enable:
            user = accounts.disable_totp(username, actor=_actor())
            say("TOTP disabled for [bold]{name}[/].", name=user.username)
            return
        name = accounts.get_user(username).username
        enrolment = accounts.enable_totp(name, actor=_actor())
    say(
        "TOTP enabled for [bold]{name}[/]. Enter this into the user's "
        "authenticator app now; it is shown only once. Provisioning URI (for a QR code):",
        name=name,
    )
    out.print(f"  {inert(enrolment.uri)}", markup=False, highlight=False, soft_wrap=True)
    say("Secret (to type in by hand):")
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
    """The policy in force (signed by both parties) and every version proposed.

    A proposal travels over the link: until both nodes are serving, the other party
    has not received it (this command says so)."""
    desk = _desk(home)
    try:
        state = desk.policy(link)
        peer = desk.node.find_link(link).peer_party
    except (NodeError, ProtocolError) as exc:
        fail(str(exc))
    if as_json:
        print_json(state.view())
        return
    policy = state.in_force
    if policy is None:
        say("[bold]{name}[/]: no policy in force (emergency channel closed)", name=state.link_name)
    else:
        agreement = state.agreement
        assert agreement is not None  # in force means signed by both
        say(
            "[bold]{name}[/]: policy version {version} in force, signed by {proposer} and "
            "{acceptor}",
            name=state.link_name,
            version=policy.version,
            proposer=agreement.proposer.party,
            acceptor=agreement.acceptor.party,
        )
        for line in _policy_lines(policy):
            say("  {line}", line=line)
    for version in state.versions:
        if version.state not in ("proposed", "refused"):
            continue
        say(
            "Version {version} {state} by {party} at {at}{reason}",
            version=version.version,
            state=version.state,
            party=version.proposed_by,
            at=when(version.proposed_ms),
            reason=f" ({version.refusal})" if version.refusal else "",
        )
        if version.state == "proposed" and version.policy is not None:
            before = set(_policy_lines(policy)) if policy is not None else set()
            for line in _policy_lines(version.policy):
                say("  {marker}{line}", marker="  " if line in before else "+ ", line=line)
    _policy_next_step(state, peer)


def _policy_next_step(state: PolicyState, peer: str) -> None:
    """What happens next: whose signature a proposal waits for, and that proposals
    travel over the link, so only between serving nodes."""
    pending = state.pending
    name = state.link_name
    if not state.versions:
        say(
            "No proposal has arrived from {peer} yet. Proposals travel over the link: "
            "{peer}'s proposal arrives once both nodes are serving ('hotline serve'); "
            "then countersign it with 'hotline policy accept {name} VERSION'. "
            "To propose one from here instead: 'hotline policy propose {name}'.",
            peer=peer,
            name=name,
        )
    for version in pending:
        if version.proposed_by == peer:
            say(
                "To put version {version} in force: 'hotline policy accept {name} {version}'.",
                version=version.version,
                name=name,
            )
        else:
            say(
                "Version {version} waits for {peer} to countersign it; it reaches {peer} "
                "over the link while both nodes are serving ('hotline serve').",
                version=version.version,
                peer=peer,
            )


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
    say(
        "Proposed policy version {version} on {link}; it reaches the other party over the "
        "link while both nodes are serving, and is in force once they run "
        "'hotline policy accept {link} {version}'.",
        version=proposed.version,
        link=link,
    )


@policy_app.command("accept")
def policy_accept(
    link: Annotated[str, typer.Argument(help="Link name.")],
    version: Annotated[int, typer.Argument(help="The proposed version to countersign.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Countersign the other party's proposed policy version: it comes into force.

    The proposal must have arrived: it travels over the link once both nodes are
    serving ('hotline policy show' says whether it has)."""
    try:
        accepted = _desk(home).accept_policy(link, version, _actor())
    except Refused as exc:
        if exc.code == "no_proposal":
            fail(
                f"{exc}; a proposal arrives over the link once both nodes are serving "
                f"('hotline serve'): 'hotline policy show {link}' lists those that have"
            )
        fail(str(exc))
    except NodeError as exc:
        fail(str(exc))
    say("Policy version {version} on {link} is in force.", version=accepted.version, link=link)


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
    print_json({"link": link, "policy": policy})


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
    say("Escalation policy for {link} set: rungs {rungs}.", link=link, rungs=", ".join(stored))


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
        print_json(views)
        return
    table = Table("id", "dir", "state", "sent", "deadline", "confirmed", "by")
    for v in views:
        table.add_row(
            *cells(
                v["id"],
                "→" if v["direction"] == "out" else "←",
                v["state"],
                when(v["sent_ms"]),
                when(v["deadline_ms"]),
                when(v["confirmed_ms"]),
                v["confirmed_by"] or "",
            )
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
    say("Confirmed link test {id}.", id=test.id)


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
        print_json(view)
        return
    table = Table(bucket, "emergency out/in", "routine out/in", "tests out/in")
    for row in [*view["buckets"], {"start_ms": None, **view["totals"]}]:
        start = "total" if row["start_ms"] is None else when(row["start_ms"])[:16]
        table.add_row(
            *cells(
                start,
                *(f"{row[c]['out']}/{row[c]['in']}" for c in ("emergency", "routine", "test")),
            )
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
        say("{line}", line=", ".join(parts))


@app.command()
def overdue(as_json: bool = typer.Option(False, "--json"), home: HomeOption = DEFAULT_HOME) -> None:
    """Our messages and link tests waiting past their deadlines, most urgent first."""
    items = [item.view() for item in _desk(home).overdue()]
    if as_json:
        print_json(items)
        return
    table = Table("link", "id", "channel", "awaiting", "waiting", "overdue by", "steps")
    for i in items:
        table.add_row(
            *cells(
                i["link_name"],
                i["id"],
                i["channel"],
                i["awaiting"],
                f"{i['waiting_ms'] // 1000} s",
                f"{i['overdue_ms'] // 1000} s",
                i["steps"],
            )
        )
    out.print(table)


@app.command()
def alerts(as_json: bool = typer.Option(False, "--json"), home: HomeOption = DEFAULT_HOME) -> None:
    """Open console alerts (escalations, alternate links, missed link tests)."""
    from .node.alerts import alert_view

    views = [alert_view(a) for a in _desk(home).alerts()]
    if as_json:
        print_json(views)
        return
    for v in views:
        say(
            "#{id} {at} → {target}: {text}",
            id=v["id"],
            at=when(v["created_ms"]),
            target=v["target_user"] or v["target_role"] or "everyone",
            text=v["text"],
        )


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
        print_json([dataclasses.asdict(e) for e in entries])
        return
    if out.width < AUDIT_TABLE_WIDTH:
        _print_audit_lines(entries)
    else:
        _print_audit_table(entries)
    if len(entries) == limit:
        err.print(f"more entries may be older: --before {entries[-1].id}", markup=False)


# Below this many columns the eight columns of the table fold every word, so each
# entry is printed on its own lines instead.
AUDIT_TABLE_WIDTH = 120


def _audit_outcome(outcome: str) -> Text:
    return cell(outcome, style="" if outcome == "ok" else "red")


def _audit_detail(detail: object) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True)


def _print_audit_lines(entries: list[AuditEntry]) -> None:
    for e in entries:
        out.print(
            Text.assemble(
                cell(f"#{e.id}", style="bold"),
                f" {when(e.at_ms)} ",
                cell(e.username or "—"),
                " ",
                cell(e.action, style="bold"),
                " ",
                cell(e.target or "—"),
                " ",
                _audit_outcome(e.outcome),
            ),
            overflow="fold",
        )
        extra = [f"from {e.address}"] if e.address else []
        if e.detail:
            extra.append(_audit_detail(e.detail))
        if extra:  # indented, wrapped lines included
            out.print(Padding(cell("  ".join(extra)), (0, 0, 0, 4), expand=False), overflow="fold")


def _print_audit_table(entries: list[AuditEntry]) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("id", no_wrap=True)
    table.add_column("time (UTC)", no_wrap=True)
    for column in ("user", "action", "target", "outcome", "address"):
        table.add_column(column, overflow="fold", min_width=4)
    table.add_column("detail", overflow="fold", min_width=20)
    for e in entries:
        table.add_row(
            *cells(e.id, when(e.at_ms), e.username or "—", e.action, e.target or "—"),
            _audit_outcome(e.outcome),
            *cells(e.address or "—", _audit_detail(e.detail)),
        )
    out.print(table)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{path} is not a text file (UTF-8)")


def _check_writable(path: Path) -> None:
    """Fail now, before any change, if ``path`` cannot be written later."""
    directory = path.parent
    if not directory.is_dir():
        fail(f"cannot write {path}: no directory {directory}")
    if path.is_dir() or not os.access(directory, os.W_OK):
        fail(f"cannot write {path}: permission denied or a directory")


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


def _load_bundle(path: Path):  # type: ignore[no-untyped-def]
    try:
        return read_bundle(path.read_bytes())
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except ProtocolError as exc:
        fail(f"{path}: {exc.detail} ({exc.code.value})", EXIT_BUNDLE_INVALID)


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


class InertFormatter(logging.Formatter):
    """Log lines as inert text: a logged value that came from a peer can neither
    drive the terminal nor start a line of its own (a traceback keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return inert(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return inert(super().formatException(ei), multiline=True)

    def formatStack(self, stack_info: str) -> str:
        return inert(super().formatStack(stack_info), multiline=True)


def _log_to_stderr(line_format: str, level: int) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(InertFormatter(line_format))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def main() -> None:
    """The ``hotline`` command."""
    _log_to_stderr("%(levelname)s %(name)s: %(message)s", logging.WARNING)
    # A refused request is the command's error, which fail() prints: not twice.
    logging.getLogger("hotline.rules").setLevel(logging.ERROR)
    try:
        app()
    finally:
        # At exit the interpreter's last garbage collection walks every object the
        # libraries made at import (about a second on a slow machine, for every
        # command and every node stop). Nothing among them needs it: the node
        # closes its database before this, and the rest is freed with the process.
        gc.freeze()
