"""The node's façade: the operations that the CLI, the local API, the peer API and
the tests call, each one transaction or one read. Synchronous; async callers run
it in a thread.

:class:`Node` is the unit of work (:class:`~hotline.node.runtime.NodeRuntime`) with
the operations on top, grouped by area below; most hand over to the module that
owns the area. The node's own parts (the deliverer, the heartbeats, the relay
forwarder, the desks) take the runtime and call those modules themselves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ..clock import now_ms
from ..errors import Reason
from ..protocol.bundle import Bundle, make_bundle
from ..protocol.invitation import Acceptance, Invitation
from ..protocol.kinds import Kind
from ..protocol.record import RecordEntry
from ..storage.models import Entry, Link, Message, Outbox, Path, RelayBatch, RelayRoute
from . import linking
from .delivery import outbox, relay_store
from .delivery.ingest import IngestResult
from .delivery.outbox import PushBatch
from .delivery.outgoing import Outgoing, send_many, send_many_if_idle
from .home import NodeError
from .paths import store as path_store
from .record_store import LinkNotFound, lock_link
from .refusals import Refused, audit
from .runtime import NodeRuntime
from .status import LinkStatus as LinkStatus
from .status import link_statuses


class Node(NodeRuntime):
    # Links -----------------------------------------------------------------

    def create_invitation(
        self, link_name: str, purpose: str, *, valid_hours: float = 24
    ) -> tuple[Invitation, str]:
        with self.transaction() as session:
            return linking.create_invitation(
                session,
                self.identity,
                link_name=link_name,
                purpose=purpose,
                tls_certificate=self.home.certificate_der(),
                endpoints=self.config.endpoints,
                now_ms=now_ms(),
                valid_ms=int(valid_hours * 3_600_000),
            )

    def preview_invitation(self, text: str) -> Invitation:
        return linking.preview_invitation(self.identity, text, now_ms=now_ms())

    def accept_invitation(self, text: str) -> tuple[Link, str]:
        with self.transaction() as session:
            return linking.accept_invitation(
                session,
                self.identity,
                text,
                tls_certificate=self.home.certificate_der(),
                endpoints=self.config.endpoints,
                now_ms=now_ms(),
            )

    def preview_acceptance(self, text: str) -> Acceptance:
        return linking.preview_acceptance(text)

    def complete_link(self, text: str) -> Link:
        with self.transaction() as session:
            return linking.complete_link(session, self.identity, text, now_ms=now_ms())

    def links(self) -> list[Link]:
        return linking.all_links(self)

    def find_link(self, name_or_id: str) -> Link:
        return linking.find_link(self, name_or_id)

    # Sending (delivery/outgoing.py) -----------------------------------------

    def send(
        self,
        link_name_or_id: str,
        body: dict[str, Any],
        *,
        kind: Kind = Kind.MESSAGE,
        ref: str | None = None,
    ) -> Message:
        """Commit a message to the record and the outbox; returns once it is durable."""
        result = self.send_many([Outgoing(link_name_or_id, body, kind, ref)])[0]
        if isinstance(result, NodeError):
            raise result
        return result

    def send_many(
        self, items: list[Outgoing], *, queued: bool = False
    ) -> list[Message | NodeError]:
        return send_many(self, items, queued=queued)

    def send_many_if_idle(
        self, items: list[Outgoing], *, queued: bool = False
    ) -> list[Message | NodeError] | None:
        return send_many_if_idle(self, items, queued=queued)

    # Delivery (delivery/outbox.py) ------------------------------------------

    def pending(
        self, link_id: str, *, limit: int, due_only: bool = True
    ) -> list[tuple[int, bytes]]:
        return outbox.pending(self, link_id, limit=limit, due_only=due_only)

    def push_batch(self, link_id: str, *, limit: int, after: int = 0) -> PushBatch | None:
        return outbox.push_batch(self, link_id, limit=limit, after=after)

    def receive(self, link_id: str, envelopes: list[bytes], peer_has: int) -> IngestResult:
        return outbox.receive(self, link_id, envelopes, peer_has)

    def delivered(
        self, link_id: str, peer_has: int, returned: list[bytes], *, sent_ms: int | None = None
    ) -> IngestResult:
        return outbox.delivered(self, link_id, peer_has, returned, sent_ms=sent_ms)

    def delivery_failed(self, link_id: str, error: str) -> int:
        return outbox.delivery_failed(self, link_id, error)

    def acquire_lease(self, name: str, holder: str) -> bool:
        return outbox.acquire_lease(self, name, holder)

    def own_entries_after(self, link_id: str, after_seq: int, limit: int) -> list[bytes]:
        return outbox.own_entries_after(self, link_id, after_seq, limit)

    def defer_outbox(self, link_id: str, delay_ms: int) -> None:
        outbox.defer_outbox(self, link_id, delay_ms)

    # Paths (paths/store.py) -------------------------------------------------

    def link_paths(self, link_name_or_id: str) -> list[Path]:
        return path_store.read_paths(self, self.find_link(link_name_or_id).id)

    def add_path(self, link_name_or_id: str, url: str) -> Path:
        link = self.find_link(link_name_or_id)
        with self.transaction() as session:
            return path_store.add_path(session, lock_link(session, link.id), url, now_ms=now_ms())

    def add_relay_path(
        self, link_name_or_id: str, url: str, *, certificate: bytes, fingerprint: str
    ) -> Path:
        """A relay both parties accepted: its endpoint and pinned TLS certificate."""
        path_store.check_certificate(certificate, fingerprint)
        _check_pin(certificate)
        link = self.find_link(link_name_or_id)
        with self.transaction() as session:
            return path_store.add_path(
                session,
                lock_link(session, link.id),
                url,
                now_ms=now_ms(),
                kind=path_store.RELAY,
                certificate=certificate,
            )

    def save_path_states(
        self,
        link_id: str,
        updates: list[path_store.PathUpdate],
        events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        path_store.save_path_states(self, link_id, updates, events)

    def pinned_certificates(self) -> set[bytes]:
        """Every certificate the peer listener accepts: linked peers, the relays our
        links accepted, and (on a relay) the parties of the links we relay."""
        with self.reading() as session:
            certs = {bytes(c) for c in session.scalars(select(Link.peer_tls_certificate))}
            certs |= {
                bytes(c)
                for c in session.scalars(
                    select(Path.certificate).where(Path.certificate.is_not(None))
                )
                if c is not None
            }
            certs |= {bytes(c) for c in session.scalars(select(RelayRoute.certificate))}
        return certs

    # Relaying for others (delivery/relay_store.py) --------------------------

    def add_relay_route(
        self,
        link_id: str,
        party: str,
        *,
        certificate: bytes,
        fingerprint: str,
        endpoints: list[str],
    ) -> RelayRoute:
        path_store.check_certificate(certificate, fingerprint)
        _check_pin(certificate)
        with self.transaction() as session:
            return path_store.add_relay_route(
                session,
                link_id=link_id,
                party=party,
                certificate=certificate,
                endpoints=endpoints,
                now_ms=now_ms(),
            )

    def relay_routes(self, link_id: str | None = None) -> list[RelayRoute]:
        return relay_store.relay_routes(self, link_id)

    def relay_store(
        self, link_id: str, from_party: str, to_party: str, body: bytes, envelopes: int
    ) -> int:
        return relay_store.relay_store(self, link_id, from_party, to_party, body, envelopes)

    def relay_pending(self, limit: int = 32) -> list[RelayBatch]:
        return relay_store.relay_pending(self, limit)

    def relay_prune(self, retain_ms: int) -> int:
        return relay_store.relay_prune(self, retain_ms)

    def relay_done(self, batch_id: int, error: str | None, *, final: bool = False) -> None:
        relay_store.relay_done(self, batch_id, error, final=final)

    # Reading ---------------------------------------------------------------

    def messages(
        self, link_name_or_id: str | None = None, *, direction: str | None = None, limit: int = 50
    ) -> list[Message]:
        with self.reading() as session:
            query = select(Message).order_by(Message.created_ms.desc(), Message.seq.desc())
            if link_name_or_id is not None:
                query = query.where(Message.link_id == self.find_link(link_name_or_id).id)
            if direction is not None:
                query = query.where(Message.direction == direction)
            return list(reversed(list(session.scalars(query.limit(limit)))))

    def message(self, message_id: str) -> Message | None:
        with self.reading() as session:
            return session.get(Message, message_id)

    def status(self) -> list[LinkStatus]:
        with self.reading() as session:
            return link_statuses(session)

    def outbox_depth(self) -> int:
        with self.reading() as session:
            return int(session.scalar(select(func.count()).select_from(Outbox)) or 0)

    def export(self, link_name_or_id: str, *, with_payloads: bool = True) -> Bundle:
        link = self.find_link(link_name_or_id)
        with self.reading() as session:
            rows = session.execute(
                select(Entry.envelope, Entry.payload)
                .where(Entry.link_id == link.id)
                .order_by(Entry.position)
            ).all()
        return make_bundle(
            self.identity,
            link_id=link.id,
            link_name=link.name,
            purpose=link.purpose,
            invitation=(link.invitation_signed, link.invitation_signature),
            acceptance=(link.acceptance_signed, link.acceptance_signature),
            exported_ms=now_ms(),
            entries=[
                RecordEntry(bytes(env), bytes(payload) if with_payloads else None)
                for env, payload in rows
            ],
        )

    def audit_export(self, bundle: Bundle, *, file: str, payloads: bool, actor: str) -> None:
        """Record in the audit log that ``actor`` wrote ``bundle`` to ``file``."""
        detail = {
            "entries": len(bundle.entries),
            "link_id": bundle.link_id,
            "file": file,
            "payloads": payloads,
        }
        with self.transaction() as session:
            audit(
                session,
                actor=actor,
                action="record.export",
                target=bundle.link_name,
                outcome="ok",
                detail=detail,
                now=now_ms(),
            )


def _check_pin(certificate: bytes) -> None:
    from ..transport.tls import check_pin as check

    try:
        check(certificate)
    except ValueError as exc:
        raise Refused(Reason.BAD_CERTIFICATE, f"certificate refused: {exc}") from None


__all__ = ["LinkNotFound", "LinkStatus", "Node"]
