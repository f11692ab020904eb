"""Commands about the node itself: init, serve, fingerprint, certificate, status, demo, the
parties' names."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .context import DEFAULT_HOME, HomeOption, JsonOption
from .errors import about
from .inputs import new_password
from .local import ask_serving_node
from .output import cells, log_to_stderr, plain, print_json, print_table, say, table, when


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
    import secrets

    from ..accounts.profile import check_username
    from ..node.home import check_listeners, check_new_node, init_node

    check_new_node(home, party)
    check_listeners(peer_host, peer_port, local_host, local_port)
    with about("administrator account: "):
        admin = check_username(admin)
    generated = not admin_password_stdin and not sys.stdin.isatty()
    if generated:
        password = secrets.token_urlsafe(18)
    else:
        password = new_password(admin, from_stdin=admin_password_stdin, who="administrator")
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
        plain(password)


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
    # What start-up builds (modules, mappers, routes and their models) lives as long as
    # the node. The cyclic collector would walk it again and again as it grows (a tenth
    # of start-up's CPU): it is paused until the node is built, and what was built is
    # then set aside as permanent (gc.freeze), out of later collections' way. (Should
    # start-up fail, the process ends with the collector still paused: no harm.)
    gc.disable()
    from ..node.home import NodeHome, check_listeners
    from ..web.server import NodeServer, run_event_loop

    log_to_stderr(
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
        logging.INFO if verbose else logging.WARNING,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per push is noise
    logging.getLogger("hotline.rules").setLevel(logging.NOTSET)  # see main()
    node_home = NodeHome(home)
    config = node_home.load_config()
    peer = config.peer_port if peer_port is None else peer_port
    local = config.local_port if local_port is None else local_port
    check_listeners(config.peer_host, peer, config.local_host, local)
    server = NodeServer(node_home, peer_port=peer_port, local_port=local_port)
    say(
        "[bold]{party}[/] serving peers on https://{peer_host}:{peer_port}, "
        "local API on http://{local_host}:{local_port}",
        party=config.party,
        peer_host=config.peer_host,
        peer_port=peer,
        local_host=config.local_host,
        local_port=local,
    )
    gc.freeze()
    gc.enable()
    run_event_loop(server.serve())


def fingerprint(home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """This node's fingerprint, to read aloud when setting up a link (as 'init' showed)."""
    from ..node.home import NodeHome

    identity = NodeHome(home).load_identity().public
    if as_json:
        print_json({"party": identity.party, "fingerprint": identity.fingerprint})
        return
    say("Fingerprint of [bold]{party}[/], to read aloud:", party=identity.party)
    say("  [bold]{fingerprint}[/]", fingerprint=identity.fingerprint)


def certificate(home: HomeOption = DEFAULT_HOME) -> None:
    """This node's TLS certificate file and its SHA-256 fingerprint (for relays; not the
    fingerprint read aloud at link set-up, which 'hotline fingerprint' shows)."""
    from ..node.home import NodeHome
    from ..transport.tls import certificate_fingerprint

    node_home = NodeHome(home)
    node_home.load_config()
    der = node_home.certificate_der()
    say("{path}", path=node_home.cert_path)
    say("sha256 {fingerprint}", fingerprint=certificate_fingerprint(der))


def status(home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """Per link: outbox depth, held entries, delivered and waiting messages."""
    answer = ask_serving_node(home, "/api/v1/status") or _read_status(home)
    if as_json:
        print_json(answer)
        return
    rows = table("link", "peer", "outbox", "oldest queued", "held", "out", "in", "awaiting receipt")
    for r in answer["links"]:
        rows.add_row(
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
    print_table(rows)


def _read_status(home: Path) -> dict[str, Any]:
    """What the local API's /api/v1/status answers, read from the database (the node
    is not serving) without loading the rest of the node."""
    from ..node.home import NodeHome
    from ..node.status import read_statuses
    from ..web.views import status_view

    config = NodeHome(home).load_config()
    return {
        "party": config.party,
        "links": [status_view(s) for s in read_statuses(config.database_url)],
    }


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
    from ..demo import run_demo

    raise typer.Exit(run_demo(directory, keep_running=not once, models=models))


def names_show(home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """What people at this node call each party, by language (the console shows them)."""
    from ..node.home import NodeHome

    names = NodeHome(home).load_config().party_names
    if as_json:
        print_json(names)
        return
    rows = table("party", "language", "name")
    for party, by_lang in sorted(names.items()):
        for lang, name in sorted(by_lang.items()):
            rows.add_row(*cells(party, lang, name))
    print_table(rows)


def names_set(
    party: Annotated[str, typer.Argument(help="The party's identifier, e.g. beijing.")],
    lang: Annotated[str, typer.Argument(help="A language tag, e.g. en or zh-Hans.")],
    name: Annotated[
        str | None, typer.Argument(help="The name in that language; omit with --remove.")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Forget the name.")] = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Name a party in a language, ours or a peer's ("beijing" in Chinese, say). A running
    node shows it once restarted."""
    from ..node.home import NodeHome

    if (name is None) != remove:
        raise typer.BadParameter("give a NAME, or --remove without one")
    NodeHome(home).set_party_name(party, lang, name)
    say("saved; restart the node ('hotline serve') for the console to show it")
