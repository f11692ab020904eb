"""How much the peer listener lets anyone hold before and after TLS (``peer_limits`` in
``node.json``, see :mod:`hotline.web.peer_listener`).

Anyone who can reach the peer port can open connections, with or without a certificate.
Until its TLS handshake completes a connection is a stranger's: it gets a few seconds to
finish, a share of its source address's quota, and a place in a bounded queue of
handshakes in flight where the newest arrival pushes out the oldest (so a flood of
stalled handshakes cannot keep a real peer's fresh one from completing). Answering a
ClientHello costs the node about half a millisecond of CPU, so strangers get only so
many handshakes a second; addresses a pinned peer has completed a handshake from are
not held to that rate. After the handshake only pinned peers remain; their requests
must arrive whole within deadlines.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PeerLimits(BaseModel):
    """The peer listener's bounds. The defaults leave room for a node's handful of peers
    and relays, each with a few pooled connections, under a flood of strangers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # From the accept to the end of the TLS handshake (a ClientHello that never comes
    # included); a peer on a slow satellite path needs a few round trips.
    handshake_timeout_s: float = Field(default=5.0, gt=0, le=120)
    # Handshakes in flight; one more pushes the oldest out.
    max_handshakes: int = Field(default=256, ge=1, le=100_000)
    # New connections a second (and at once) from addresses no pinned peer has used
    # in the last day; more are hung up on before TLS.
    max_handshake_rate: float = Field(default=100.0, gt=0, le=1_000_000)
    # Connections from one source address, in handshake or established. A peer's
    # deliverer, heartbeats and relay forwarding pool a few connections each.
    max_per_source: int = Field(default=32, ge=1, le=100_000)
    # All the listener's connections. Lowered at start to what the process's
    # descriptor limit leaves after the local listener's and the database's reserve.
    max_connections: int = Field(default=2_048, ge=1, le=1_000_000)
    # From a request's first byte to the end of its headers, then to the end of its
    # body (a full push is at most about 16 MiB).
    headers_timeout_s: float = Field(default=10.0, gt=0, le=600)
    body_timeout_s: float = Field(default=60.0, gt=0, le=3_600)

    @model_validator(mode="after")
    def _consistent(self) -> PeerLimits:
        if self.max_per_source > self.max_connections:
            raise ValueError("max_per_source must not be more than max_connections")
        if self.max_handshakes > self.max_connections:
            raise ValueError("max_handshakes must not be more than max_connections")
        return self


DEFAULT_PEER_LIMITS = PeerLimits()
