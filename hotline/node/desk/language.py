"""The phrasebook and the glossary of a link at the desk: the versions both sides
signed, proposing and countersigning one, and sending a message from an entry.
:class:`LanguageDesk` is mixed into :class:`hotline.node.desk.desk.Desk`; the console,
the local API and the CLI call the same methods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...accounts.roles import Permission
from ...clock import now_ms as clock_ms
from ...errors import Reason
from ...language.glossary import Glossary, shipped_glossary
from ...language.phrasebook import Phrasebook, shipped_phrasebook
from ...protocol.kinds import Kind
from ...storage.models import Link, Message
from ..delivery.outgoing import Outgoing, append_message
from ..home import NodeError
from ..language import documents as link_documents
from ..language.agreed_messages import outgoing_body
from ..linking import find_link
from ..people import Person, actor_of, require
from ..record_store import lock_link
from ..refusals import Refused, audit, audited
from ..rules import policy as link_policy

if TYPE_CHECKING:
    from ..runtime import NodeRuntime

DOCUMENTS = ("phrasebook", "glossary")


@dataclass(frozen=True)
class DocumentState:
    """A link's phrasebook (or glossary): the version in force, and every version."""

    document: str
    link_id: str
    link_name: str
    in_force: Phrasebook | Glossary | None
    versions: list[link_documents.DocumentVersion]

    @property
    def current(self) -> link_documents.DocumentVersion | None:
        return next((v for v in self.versions if v.state == link_policy.IN_FORCE), None)

    @property
    def pending(self) -> list[link_documents.DocumentVersion]:
        return [v for v in self.versions if v.state == link_policy.PROPOSED]

    def view(self, *, content: bool = False) -> dict[str, Any]:
        current = self.current
        view: dict[str, Any] = {
            "document": self.document,
            "link_id": self.link_id,
            "link": self.link_name,
            "version": 0 if current is None else current.version,
            "digest": None if current is None else current.digest,
            "signed_by": None if current is None else current.view()["signed_by"],
            "versions": [v.view() for v in self.versions],
        }
        if content and self.in_force is not None:
            view["content"] = self.in_force.canonical()
        return view


def _document_name(document: str) -> str:
    if document not in DOCUMENTS:
        raise Refused(Reason.MALFORMED, f"document must be one of {list(DOCUMENTS)}")
    return document


class LanguageDesk:
    node: NodeRuntime

    def _link(self, name_or_id: str) -> Link:
        try:
            return find_link(self.node, name_or_id)
        except NodeError as exc:
            raise Refused(Reason.UNKNOWN_LINK, str(exc)) from None

    def document_state(self, link: str, document: str) -> DocumentState:
        name = _document_name(document)
        found = self._link(link)
        with self.node.reading() as session:
            in_force: Phrasebook | Glossary | None = (
                link_documents.phrasebook_in_force(session, found.id)
                if name == "phrasebook"
                else link_documents.glossary_in_force(session, found.id)
            )
            return DocumentState(
                name,
                found.id,
                found.name,
                in_force,
                link_documents.versions(session, found.id, name),
            )

    def phrasebook(self, link: str) -> Phrasebook | None:
        """The phrasebook in force on ``link`` (None while none is)."""
        book = self.document_state(link, "phrasebook").in_force
        return book if isinstance(book, Phrasebook) else None

    def glossary(self, link: str) -> Glossary | None:
        glossary = self.document_state(link, "glossary").in_force
        return glossary if isinstance(glossary, Glossary) else None

    def propose_document(
        self,
        link: str,
        document: Phrasebook | Glossary | None,
        who: Person | str,
        *,
        name: str = "phrasebook",
    ) -> link_documents.DocumentVersion:
        """Sign and send ``document`` (default: the shipped one of ``name``)."""
        if document is None:
            document = shipped_phrasebook() if name == "phrasebook" else shipped_glossary()
        name = "phrasebook" if isinstance(document, Phrasebook) else "glossary"
        found = self._link(link)
        with audited(self.node, actor_of(who), f"{name}.propose", found.name):
            require(who, Permission.MANAGE_LINKS)
            with self.node.transaction() as session:
                locked = lock_link(session, found.id)
                stamp = clock_ms()
                row = link_documents.propose(
                    session, self.node.identity, locked, document, now_ms=stamp
                )
                audit(
                    session,
                    actor=actor_of(who),
                    action=f"{name}.propose",
                    target=locked.name,
                    outcome="ok",
                    detail={"version": row.version, "digest": row.digest},
                    now=stamp,
                )
                return link_documents.version_of(row)

    def accept_document(
        self, link: str, document: str, version: int, who: Person | str
    ) -> link_documents.DocumentVersion:
        """Countersign the other side's proposal of ``version``: it comes into force."""
        name = _document_name(document)
        found = self._link(link)
        with audited(self.node, actor_of(who), f"{name}.accept", found.name):
            require(who, Permission.MANAGE_LINKS)
            with self.node.transaction() as session:
                locked = lock_link(session, found.id)
                stamp = clock_ms()
                row = link_documents.accept(
                    session, self.node.identity, locked, name, version, now_ms=stamp
                )
                audit(
                    session,
                    actor=actor_of(who),
                    action=f"{name}.accept",
                    target=locked.name,
                    outcome="ok",
                    detail={"version": version, "digest": row.digest},
                    now=stamp,
                )
                return link_documents.version_of(row)

    def send_agreed(
        self,
        link: str,
        entry: str,
        parameters: dict[str, Any],
        who: Person,
        *,
        ref: str | None = None,
    ) -> Message:
        """A message from an entry of the phrasebook in force, sent now."""
        require(who, Permission.SEND_MESSAGE)
        found = self._link(link)
        with self.node.transaction() as session:
            locked = lock_link(session, found.id)
            body = outgoing_body(
                session, locked, {"entry": entry, "parameters": parameters, "by": who.label}
            )
            return append_message(
                session,
                self.node.identity,
                locked,
                Outgoing(locked.id, body, Kind.AGREED_TEXT, ref),
                clock_ms(),
            )
