"""Local API for a link's agreed phrasebook and glossary (mounted by :mod:`.local_api`).

``GET /api/v1/links/{link}/phrasebook`` (``/glossary``): the version in force, who
signed it, every version proposed, and with ``?content=true`` the document itself.
``POST …/phrasebook/proposals`` proposes the shipped phrasebook (or, with a body,
the document given: the form of ``hotline phrasebook export``); ``POST
…/phrasebook/{version}/accept`` countersigns the other side's proposal.
``GET …/phrasebook/search?q=`` searches the phrasebook in force (words in either
language, pinyin), and ``GET …/phrasebook/entries/{entry}`` shows one entry with
its parameters. A message from an entry is sent by ``POST …/messages`` with
``{"entry", "parameters"}``; message views carry ``agreed`` (its exact text in every
language) when they are agreed texts.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, Path, Query

from ..errors import Reason
from ..language.errors import InvalidDocument, LanguageError
from ..language.glossary import Glossary, parse_glossary
from ..language.phrasebook import Entry, Phrasebook, parse_phrasebook
from ..node.desk.desk import Desk
from ..node.language.agreed_messages import refused_from
from ..node.refusals import Refused
from ..node.service import Node

ACTOR = "api"
SEARCH_LIMIT = 20  # entries a search answers, best first
Version = Annotated[int, Path(ge=1, le=2**31)]


def entry_view(entry: Entry, book: Phrasebook) -> dict[str, Any]:
    return {
        "id": entry.id,
        "category": entry.category,
        "category_names": dict(book.categories[entry.category].names),
        "parameters": {name: kind.declaration() for name, kind in entry.parameters.items()},
        "text": dict(entry.text),
    }


def parse_document(name: str, document: Any) -> Phrasebook | Glossary:
    try:
        return parse_phrasebook(document) if name == "phrasebook" else parse_glossary(document)
    except InvalidDocument as exc:
        first = exc.problems[0]
        raise Refused(
            Reason(first.reason.value), "; ".join(str(p) for p in exc.problems[:20])
        ) from None


def language_router(node: Node, dependencies: list[Any]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", dependencies=dependencies)
    desk = Desk(node)

    async def run(call: Any) -> Any:
        return await to_thread.run_sync(call)

    for name in ("phrasebook", "glossary"):
        _document_routes(router, desk, name)

    def book_of(link: str) -> Phrasebook:
        book = desk.phrasebook(link)
        if book is None:
            raise Refused(
                Reason.PHRASEBOOK_NOT_IN_FORCE, f"no phrasebook is in force on link {link}"
            )
        return book

    @router.get("/links/{link}/phrasebook/search")
    async def search(
        link: str,
        q: Annotated[str, Query(max_length=200)] = "",
    ) -> dict[str, Any]:
        book = await run(lambda: book_of(link))
        hits = book.search(q, SEARCH_LIMIT) if q.strip() else []
        return {
            "version": book.version,
            "entries": [{**entry_view(h.entry, book), "score": h.score} for h in hits],
        }

    @router.get("/links/{link}/phrasebook/entries/{entry}")
    async def entry(link: str, entry: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        book = await run(lambda: book_of(link))
        try:
            found = book.entry(entry)
        except LanguageError as exc:
            raise refused_from(exc) from None
        return {"version": book.version, **entry_view(found, book)}

    return router


def _document_routes(router: APIRouter, desk: Desk, name: str) -> None:
    """State, propose and accept for ``name`` (literal paths: no catch-all)."""

    async def run(call: Any) -> Any:
        return await to_thread.run_sync(call)

    @router.get(f"/links/{{link}}/{name}", name=f"{name}_state")
    async def state(link: str, content: bool = False) -> dict[str, Any]:
        found = await run(lambda: desk.document_state(link, name))
        return dict(found.view(content=content))

    @router.post(f"/links/{{link}}/{name}/proposals", status_code=201, name=f"{name}_propose")
    async def propose(link: str, given: Annotated[Any, Body()] = None) -> dict[str, Any]:
        parsed = None if given is None else parse_document(name, given)
        version = await run(lambda: desk.propose_document(link, parsed, ACTOR, name=name))
        return dict(version.view())

    @router.post(f"/links/{{link}}/{name}/{{version}}/accept", name=f"{name}_accept")
    async def accept(link: str, version: Version) -> dict[str, Any]:
        accepted = await run(lambda: desk.accept_document(link, name, version, ACTOR))
        return dict(accepted.view())
