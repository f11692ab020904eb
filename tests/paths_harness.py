"""Clusters whose parties advertise chosen endpoints (several paths per link)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hotline.demo import free_port
from hotline.node.home import NodeHome, init_node
from hotline.node.service import Node
from tests.harness import LINK, Cluster, NodeHandle

Endpoints = Callable[[str, int], list[str] | None]


def cluster_with_endpoints(
    base: Path,
    database_url: Callable[[Path], str | None],
    endpoints: Endpoints,
    *,
    peer_host: str = "127.0.0.1",
) -> Cluster:
    """Like :class:`Cluster`, but ``endpoints(party, peer_port)`` gives each party's
    advertised endpoints (the other side's paths to it); None keeps the default."""
    homes: dict[str, NodeHome] = {}
    for party in ("washington", "beijing"):
        peer_port = free_port()
        homes[party] = init_node(
            base / party,
            party,
            database_url=database_url(base / party),
            peer_host=peer_host,
            peer_port=peer_port,
            local_port=free_port(),
            endpoints=endpoints(party, peer_port),
        )
    link_parties(homes["washington"], homes["beijing"])
    cluster = Cluster.__new__(Cluster)
    cluster.base = base
    cluster.washington = NodeHandle(homes["washington"], base / "washington.log")
    cluster.beijing = NodeHandle(homes["beijing"], base / "beijing.log")
    return cluster


def link_parties(inviter: NodeHome, acceptor: NodeHome) -> str:
    """Link two initialised nodes through the real invitation path; the link id."""
    a, b = Node(inviter), Node(acceptor)
    try:
        invitation, text = a.create_invitation(LINK, "Defence ministries' crisis link")
        _, acceptance = b.accept_invitation(text)
        a.complete_link(acceptance)
        return invitation.id
    finally:
        a.close()
        b.close()
