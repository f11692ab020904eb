"""A link's paths and relays, relaying for others, and how the node watches its paths."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .context import DEFAULT_HOME, HomeOption, JsonOption, open_node, open_runtime
from .inputs import certificate_der
from .output import cells, print_json, print_table, say, table, when

LinkArgument = Annotated[str, typer.Argument(help="Link name or id.")]


def link_paths(
    link: LinkArgument, home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False
) -> None:
    """A link's paths (the peer's endpoints, then accepted relays) and their liveness."""
    from ..node.linking import find_link
    from ..node.paths.store import read_paths
    from ..web.views import path_view

    node = open_runtime(home)
    rows = [path_view(p) for p in read_paths(node, find_link(node, link).id)]
    if as_json:
        print_json(rows)
        return
    shown = table("#", "kind")
    shown.add_column("url", overflow="fold", min_width=24)
    for column in ("state", "active", "last good", "rtt", "misses"):
        shown.add_column(column)
    for r in rows:
        shown.add_row(
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
    print_table(shown)


def link_add_path(
    link: LinkArgument,
    url: Annotated[str, typer.Argument(help="Another endpoint of the peer, https://host:port.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Add a direct path to the peer (after the direct paths it already has).

    The peer's listener must be reachable there with the certificate pinned for the link.
    A running node picks the path up within a few seconds."""
    path = open_node(home).add_path(link, url)
    say("Path {position} of link {link}: {url}", position=path.position, link=link, url=path.url)


def link_add_relay(
    link: LinkArgument,
    url: Annotated[str, typer.Argument(help="The relay's peer endpoint, https://host:port.")],
    certificate: Annotated[Path, typer.Option(help="The relay's TLS certificate (PEM).")],
    fingerprint: Annotated[
        str, typer.Option(help="SHA-256 of the relay's certificate, as both parties agreed.")
    ],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Accept a third party's node as relay for this link (both parties must).

    It is used only while every direct path is down; it sees ciphertext only."""
    der = certificate_der(certificate)
    path = open_node(home).add_relay_path(link, url, certificate=der, fingerprint=fingerprint)
    say(
        "Relay {url} accepted for link {link} (path {position}).",
        url=path.url,
        link=link,
        position=path.position,
    )
    say("A running node pins the relay's certificate within a second.")


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
    der = certificate_der(certificate)
    route = open_node(home).add_relay_route(
        link_id, party, certificate=der, fingerprint=fingerprint, endpoints=endpoint
    )
    say(
        "Relaying link {link} for {party} at {endpoints}",
        link=route.link_id,
        party=route.party,
        endpoints=", ".join(route.endpoints),
    )


def relay_list(home: HomeOption = DEFAULT_HOME) -> None:
    """The links this node relays, and their parties."""
    from ..transport.tls import certificate_fingerprint

    rows = table("link", "party", "endpoints", "certificate sha-256")
    for route in open_node(home).relay_routes():
        rows.add_row(
            *cells(
                route.link_id,
                route.party,
                ", ".join(route.endpoints),
                certificate_fingerprint(route.certificate),
            )
        )
    print_table(rows)


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
    reset: Annotated[bool, typer.Option("--reset", help="Back to the defaults.")] = False,
    as_json: JsonOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Show or change how this node watches its paths, for all its links (a satellite
    path needs longer limits than the defaults). A running node uses new values
    once restarted."""
    from ..node.home import NodeHome

    node_home = NodeHome(home)
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
        timings = node_home.set_heartbeats(changes, reset=reset)
    else:
        timings = node_home.load_config().heartbeats
    values = timings.model_dump()
    if as_json:
        print_json(values)
        return
    rows = table("setting", "value")
    for name, value in values.items():
        rows.add_row(*cells(name, value))
    print_table(rows)
    if reset or changes:
        say("saved; restart the node ('hotline serve') for it to take effect")
