"""A link's paths in the database: the peer's endpoints and accepted relays.

Each operation takes a session inside the caller's transaction, but for
:func:`read_paths` and :func:`save_path_states`, the heartbeats' and the deliverer's
own read and transaction. Bad input raises :class:`~hotline.node.home.NodeError`
before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...clock import now_ms as clock_ms
from ...errors import Reason
from ...storage.models import Link, Path, RelayBatch, RelayRoute
from ..events import record_event
from ..refusals import Refused
from ..runtime import NodeRuntime

DIRECT = "direct"
RELAY = "relay"
MAX_PATHS = 8
MAX_URL_CHARS = 512


@dataclass(frozen=True)
class PathUpdate:
    """New liveness values for one path, written by the link's heartbeat round."""

    path_id: int
    state: str
    active: bool
    last_good_ms: int | None
    last_attempt_ms: int | None
    rtt_ms: int | None
    failures: int
    successes: int
    changed_ms: int


def check_url(url: str) -> str:
    """An https URL with a host and nothing after the port (paths are added by us)."""
    if len(url) > MAX_URL_CHARS:
        raise Refused(Reason.BAD_URL, f"a path URL is at most {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise Refused(
            Reason.BAD_URL, f"{url!r} is not an https URL with a host, e.g. https://10.0.0.2:7443"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise Refused(Reason.BAD_URL, f"{url!r}: give scheme, host and port only")
    try:
        _ = parts.port
    except ValueError:
        raise Refused(Reason.BAD_URL, f"{url!r} has an invalid port") from None
    return url.rstrip("/")


def check_certificate(der: bytes, fingerprint: str) -> None:
    """The certificate must be the one whose SHA-256 was compared out of band."""
    # Imported here: the TLS helpers load cryptography's X.509 layer, which only this
    # check needs of everything that reads or writes paths (or opens the node).
    from ...transport.tls import certificate_fingerprint

    expected = fingerprint.replace(":", "").replace(" ", "").lower()
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise Refused(
            Reason.MALFORMED, "the fingerprint must be 64 hexadecimal digits (SHA-256 of the DER)"
        )
    if certificate_fingerprint(der) != expected:
        raise Refused(
            Reason.FINGERPRINT_MISMATCH,
            "the certificate's SHA-256 fingerprint does not match the one given: do not use it",
        )


def list_paths(session: Session, link_id: str) -> list[Path]:
    return list(
        session.scalars(select(Path).where(Path.link_id == link_id).order_by(Path.position))
    )


def read_paths(node: NodeRuntime, link_id: str) -> list[Path]:
    with node.reading() as session:
        return list_paths(session, link_id)


def save_path_states(
    node: NodeRuntime,
    link_id: str,
    updates: list[PathUpdate],
    events: list[tuple[str, dict[str, object]]],
) -> None:
    with node.transaction() as session:
        save_states(session, link_id, updates, events, clock_ms())


def create_direct_paths(session: Session, link: Link, now_ms: int) -> None:
    """One direct path per endpoint of the peer's party card (at link set-up)."""
    for position, url in enumerate(dict.fromkeys(link.peer_endpoints)):
        session.add(_new_path(link.id, position, DIRECT, url.rstrip("/"), None, now_ms))


def add_path(
    session: Session,
    link: Link,
    url: str,
    *,
    now_ms: int,
    kind: str = DIRECT,
    certificate: bytes | None = None,
) -> Path:
    url = check_url(url)
    existing = list_paths(session, link.id)
    if any(p.url == url for p in existing):
        raise Refused(Reason.DUPLICATE_PATH, f"link {link.name} already has a path {url}")
    if len(existing) >= MAX_PATHS:
        raise Refused(Reason.TOO_MANY_PATHS, f"a link has at most {MAX_PATHS} paths")
    if kind == DIRECT:
        # Direct paths stay ahead of relays: shift relays one place down.
        relays = [p for p in existing if p.kind == RELAY]
        position = max((p.position for p in existing if p.kind == DIRECT), default=-1) + 1
        for relay in relays:
            relay.position += 1
    else:
        position = max((p.position for p in existing), default=-1) + 1
    path = _new_path(link.id, position, kind, url, certificate, now_ms)
    session.add(path)
    session.flush()
    record_event(
        session,
        "path.added",
        {"path": path.id, "url": url, "kind": kind, "position": position},
        link_id=link.id,
        now_ms=now_ms,
    )
    return path


def save_states(
    session: Session,
    link_id: str,
    updates: list[PathUpdate],
    events: list[tuple[str, dict[str, object]]],
    now_ms: int,
) -> None:
    rows = {p.id: p for p in list_paths(session, link_id)}
    for update in updates:
        row = rows.get(update.path_id)
        if row is None:
            continue
        row.state = update.state
        row.active = update.active
        row.last_good_ms = update.last_good_ms
        row.last_attempt_ms = update.last_attempt_ms
        row.rtt_ms = update.rtt_ms
        row.failures = update.failures
        row.successes = update.successes
        row.changed_ms = update.changed_ms
    for type_, data in events:
        record_event(session, type_, data, link_id=link_id, now_ms=now_ms)


# On a relay node ---------------------------------------------------------------


def add_relay_route(
    session: Session,
    *,
    link_id: str,
    party: str,
    certificate: bytes,
    endpoints: list[str],
    now_ms: int,
) -> RelayRoute:
    if not 1 <= len(link_id) <= 26 or not link_id.isalnum():
        raise Refused(
            Reason.MALFORMED, "a link id is the 26-character id shown by 'hotline link list'"
        )
    if not endpoints:
        raise Refused(
            Reason.MALFORMED, "give at least one --endpoint where the party's node is reached"
        )
    urls = [check_url(e) for e in endpoints]
    routes = list(session.scalars(select(RelayRoute).where(RelayRoute.link_id == link_id)))
    if any(r.party == party for r in routes):
        raise Refused(Reason.RELAY_PARTIES, f"{party} is already a party of relayed link {link_id}")
    if len(routes) >= 2:
        raise Refused(Reason.RELAY_PARTIES, f"relayed link {link_id} already has its two parties")
    route = RelayRoute(
        link_id=link_id, party=party, certificate=certificate, endpoints=urls, created_ms=now_ms
    )
    session.add(route)
    record_event(
        session,
        "relay.route_added",
        {"link": link_id, "party": party, "endpoints": urls},
        link_id=None,
        now_ms=now_ms,
    )
    return route


def relay_routes(session: Session) -> list[RelayRoute]:
    return list(session.scalars(select(RelayRoute).order_by(RelayRoute.link_id, RelayRoute.party)))


def relay_backlog(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(RelayBatch).where(RelayBatch.forwarded_ms.is_(None))
        )
        or 0
    )


def _new_path(
    link_id: str, position: int, kind: str, url: str, certificate: bytes | None, now_ms: int
) -> Path:
    return Path(
        link_id=link_id,
        position=position,
        kind=kind,
        url=url,
        certificate=certificate,
        state="unknown",
        active=position == 0,
        last_good_ms=None,
        last_attempt_ms=None,
        rtt_ms=None,
        failures=0,
        successes=0,
        changed_ms=now_ms,
        created_ms=now_ms,
    )
