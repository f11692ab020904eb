"""``hotline phrasebook …`` and ``hotline glossary …``: check, show, compare and export
the documents, and propose or countersign a version for a link.

A document is read from a path: a phrasebook directory (``index.json`` and one file
per category, as shipped), or one JSON document (what ``export`` writes, and the
glossary's file); ``shipped`` names the one that ships with Hotline. ``propose`` and
``accept`` act on the node in ``--home`` as the policy commands do: the proposal is
committed at once and travels over the link while both nodes are serving.

Heavy modules (the node, the database) are imported inside the commands.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from .output import err, out, shown

if TYPE_CHECKING:
    from ..language.glossary import Glossary
    from ..language.phrasebook import Phrasebook
    from ..node.desk.desk import Desk

HomeOption = Annotated[
    Path,
    typer.Option(
        "--home", "-H", envvar="HOTLINE_HOME", help="The node's data directory.", show_default=True
    ),
]
DEFAULT_HOME = Path("hotline-data")
SHIPPED = "shipped"
SourceArgument = Annotated[
    str, typer.Argument(help="A directory or JSON file, or 'shipped' (the one Hotline ships).")
]


def _say(template: str, /, **values: object) -> None:
    text = template.format_map({k: shown(v) for k, v in values.items()})
    out().print(text, soft_wrap=True)


def _fail(message: str) -> NoReturn:
    err().print(f"[bold red]error:[/] {shown(message)}", soft_wrap=True)
    raise typer.Exit(1)


def _json(value: object) -> None:
    from ..untrusted import inert_json

    out().print(inert_json(value), soft_wrap=True, markup=False)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


# Reading documents --------------------------------------------------------------------


def load(name: str, source: str) -> Phrasebook | Glossary:
    """The phrasebook or glossary at ``source``; exits naming every problem if invalid."""
    from ..language.errors import InvalidDocument
    from ..language.glossary import parse_glossary, shipped_glossary
    from ..language.phrasebook import load_phrasebook, parse_phrasebook, shipped_phrasebook
    from ..language.versioned import read_json

    try:
        if source == SHIPPED:
            return shipped_phrasebook() if name == "phrasebook" else shipped_glossary()
        path = Path(source)
        if path.is_dir():
            if name != "phrasebook":
                _fail(f"{path} is a directory: a glossary is one JSON file")
            index = read_json(_read(path / "index.json"), "index.json")
            categories = index.get("categories", []) if isinstance(index, dict) else []
            files = {
                str(c.get("id")): read_json(_read(path / f"{c.get('id')}.json"), f"{c.get('id')}")
                for c in categories
                if isinstance(c, dict)
            }
            return load_phrasebook(index, files)
        document = read_json(_read(path), path.name)
        return parse_phrasebook(document) if name == "phrasebook" else parse_glossary(document)
    except InvalidDocument as exc:
        for problem in exc.problems:
            err().print(
                shown(f"{problem.where}: {problem.field}: {problem.reason}: {problem.detail}"),
                soft_wrap=True,
            )
        _fail(f"{source}: not a valid {name} ({len(exc.problems)} problem(s), listed above)")


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}")


def document_form(document: Phrasebook | Glossary) -> dict[str, Any]:
    """One JSON document (the form ``validate`` and ``propose --file`` read)."""
    from ..language.canonical import glossary_document, phrasebook_document
    from ..language.phrasebook import Phrasebook

    canonical = document.canonical()
    if isinstance(document, Phrasebook):
        return phrasebook_document(canonical)
    return glossary_document(canonical)


def _desk(home: Path) -> Desk:
    from ..node.desk.desk import Desk
    from ..node.home import NodeError
    from ..node.service import Node

    try:
        return Desk(Node(_node_home(home)))
    except NodeError as exc:
        _fail(str(exc))


def _node_home(home: Path) -> Any:
    from ..node.home import NodeHome

    return NodeHome(home)


def _in_force(name: str, link: str, home: Path) -> Phrasebook | Glossary:
    desk = _desk(home)
    try:
        found = desk.document_state(link, name).in_force
    finally:
        desk.node.close()
    if found is None:
        _fail(f"no {name} is in force on link {link}: 'hotline {name} propose {link}' first")
    return found


# The commands, the same for both documents ------------------------------------------


def _summary(name: str, document: Phrasebook | Glossary) -> dict[str, Any]:
    from ..language.phrasebook import Phrasebook

    items = document.entries if isinstance(document, Phrasebook) else document.terms
    return {
        "document": name,
        "id": document.id,
        "version": document.version,
        "languages": list(document.languages),
        "entries" if name == "phrasebook" else "terms": len(items),
        "digest": document.digest(),
    }


class _Commands:
    """The commands of one document (``phrasebook`` or ``glossary``), the same for both."""

    def __init__(self, name: str) -> None:
        self.name = name

    def validate(self, source: SourceArgument) -> None:
        """Check a document; every problem is named by entry (or term) and field."""
        _say("{line}", line=_line(_summary(self.name, load(self.name, source))))

    def show(
        self,
        source: SourceArgument = SHIPPED,
        link: Annotated[
            str | None, typer.Option("--link", help="The version in force on this link.")
        ] = None,
        item: Annotated[
            str | None, typer.Option("--entry", "--term", help="Show one entry (or term).")
        ] = None,
        as_json: bool = typer.Option(False, "--json"),
        home: HomeOption = DEFAULT_HOME,
    ) -> None:
        """A document (default: the shipped one), or the versions agreed on a link."""
        if link is not None:
            _show_link(self.name, link, home, as_json)
            return
        document = load(self.name, source)
        if item is not None:
            canonical = document.canonical()["entries" if self.name == "phrasebook" else "terms"]
            if item not in canonical:
                _fail(f"no {'entry' if self.name == 'phrasebook' else 'term'} {item!r}")
            _json({"id": item, **canonical[item]})
            return
        summary = _summary(self.name, document)
        if as_json:
            _json(summary)
        else:
            _say("{line}", line=_line(summary))

    def diff(self, old: SourceArgument, new: SourceArgument) -> None:
        """What changed between two versions, entry by entry and field by field."""
        from ..language import glossary, phrasebook

        before, after = load(self.name, old), load(self.name, new)
        if self.name == "phrasebook":
            d: Any = phrasebook.diff(before, after)  # type: ignore[arg-type]
            changed = {c.id: list(c.fields) for c in d.changed}
        else:
            d = glossary.diff(before, after)  # type: ignore[arg-type]
            changed = {c.id: list(c.fields) for c in d.changed}
        _json(
            {
                "old_version": d.old_version,
                "new_version": d.new_version,
                "added": list(d.added),
                "removed": list(d.removed),
                "changed": changed,
                "document": list(d.document),
            }
        )

    def propose(
        self,
        link: Annotated[str, typer.Argument(help="Link name.")],
        file: Annotated[
            str, typer.Option("--file", help="The document to propose (default: shipped).")
        ] = SHIPPED,
        home: HomeOption = DEFAULT_HOME,
    ) -> None:
        """Sign a version and send it whole to the other party to countersign."""
        from ..errors import Refused
        from ..protocol.errors import ProtocolError

        document = load(self.name, file)
        desk = _desk(home)
        try:
            row = desk.propose_document(link, document, _actor(), name=self.name)
        except (Refused, ProtocolError) as exc:
            _fail(str(exc))
        finally:
            desk.node.close()
        _say(
            "Proposed {name} version {version} (SHA-256 {digest}) on {link}; it comes into "
            "force when the other party runs 'hotline {name} accept {link} {version}'.",
            name=self.name,
            version=row.version,
            digest=row.digest,
            link=link,
        )

    def accept(
        self,
        link: Annotated[str, typer.Argument(help="Link name.")],
        version: Annotated[int, typer.Argument(help="The proposed version to countersign.")],
        home: HomeOption = DEFAULT_HOME,
    ) -> None:
        """Countersign the other party's proposed version: it comes into force."""
        from ..errors import Refused

        desk = _desk(home)
        try:
            row = desk.accept_document(link, self.name, version, _actor())
        except Refused as exc:
            _fail(str(exc))
        finally:
            desk.node.close()
        _say(
            "{name} version {version} (SHA-256 {digest}) on {link} is in force, signed by "
            "{proposer} and {acceptor}.",
            name=self.name.capitalize(),
            version=row.version,
            digest=row.digest,
            link=link,
            proposer=row.proposed_by,
            acceptor=row.accepted_by,
        )

    def export(
        self,
        source: SourceArgument = SHIPPED,
        link: Annotated[
            str | None, typer.Option("--link", help="The version in force on this link.")
        ] = None,
        output: Annotated[Path | None, typer.Option("--out", "-o", help="File to write.")] = None,
        home: HomeOption = DEFAULT_HOME,
    ) -> None:
        """One JSON document (to edit, validate and propose)."""
        document = _in_force(self.name, link, home) if link is not None else load(self.name, source)
        text = json.dumps(document_form(document), ensure_ascii=False, indent=2) + "\n"
        if output is None:
            _json(document_form(document))
            return
        output.write_text(text, "utf-8")
        _say(
            "Wrote {name} version {version} to {path}",
            name=self.name,
            version=document.version,
            path=output,
        )


def make_app(name: str) -> typer.Typer:
    what = "agreed texts" if name == "phrasebook" else "shared terms"
    app = typer.Typer(
        help=f"The {name} ({what}): validate, show, diff, propose, accept, export.",
        no_args_is_help=True,
    )
    commands = _Commands(name)
    app.command("validate")(commands.validate)
    app.command("show")(commands.show)
    app.command("diff")(commands.diff)
    app.command("propose")(commands.propose)
    app.command("accept")(commands.accept)
    app.command("export")(commands.export)
    return app


def _line(summary: dict[str, Any]) -> str:
    count = summary.get("entries", summary.get("terms"))
    unit = "entries" if "entries" in summary else "terms"
    return (
        f"{summary['document']} {summary['id']} version {summary['version']}: valid, "
        f"{count} {unit} in {', '.join(summary['languages'])}; SHA-256 {summary['digest']}"
    )


def _show_link(name: str, link: str, home: Path, as_json: bool) -> None:
    from ..errors import Refused

    desk = _desk(home)
    try:
        state = desk.document_state(link, name)
    except Refused as exc:
        _fail(str(exc))
    finally:
        desk.node.close()
    if as_json:
        _json(state.view())
        return
    current = state.current
    if current is None:
        _say("{link}: no {name} in force", link=state.link_name, name=name)
    else:
        _say(
            "{link}: {name} version {version} in force (SHA-256 {digest}), proposed by "
            "{proposer}, countersigned by {acceptor}",
            link=state.link_name,
            name=name,
            version=current.version,
            digest=current.digest,
            proposer=current.proposed_by,
            acceptor=current.accepted_by,
        )
    for v in state.versions:
        _say(
            "  version {version}: {state}, proposed by {proposer}{accepted}{refusal}",
            version=v.version,
            state=v.state,
            proposer=v.proposed_by,
            accepted=f", countersigned by {v.accepted_by}" if v.accepted_by else "",
            refusal=f" ({v.refusal})" if v.refusal else "",
        )


def inbox_text(view: dict[str, Any], lang: str) -> str:
    """A message's text for ``hotline inbox``: an agreed text in ``lang`` with its
    badge, free text as it came."""
    agreed = view.get("agreed")
    if isinstance(agreed, dict):
        rendered = agreed.get("rendered")
        if isinstance(rendered, dict) and rendered:
            text = rendered.get(lang) or next(iter(rendered.values()))
            badge = "约定文本" if lang.startswith("zh") else "agreed text"
            return f"[{badge}] {text}"
        return f"[agreed text?] {agreed.get('entry')} v{agreed.get('version')}"
    return str(view["body"].get("text", ""))


phrasebook_app = make_app("phrasebook")
glossary_app = make_app("glossary")
