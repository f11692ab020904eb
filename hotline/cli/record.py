"""The record and the log: export a link's record, verify bundles offline, read the
audit log."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..accounts.results import PAGE_LIMIT as AUDIT_LIMIT
from .context import DEFAULT_HOME, HomeOption, JsonOption, open_accounts, open_node
from .errors import about
from .inputs import actor, read_bytes
from .output import (
    EXIT_BUNDLE_INVALID,
    EXIT_RECORDS_DISAGREE,
    cell,
    cells,
    fail,
    note,
    out,
    print_json,
    print_table,
    say,
    table,
    when,
)

if TYPE_CHECKING:
    from rich.text import Text

    from ..accounts.results import AuditEntry
    from ..protocol.bundle import Bundle
    from ..protocol.record import RecordSummary

# Below this many columns the eight columns of the table fold every word, so each
# entry is printed on its own lines instead.
AUDIT_TABLE_WIDTH = 120


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
    from ..files import write_private_file

    node = open_node(home)
    bundle = node.export(link, with_payloads=not without_payloads)
    try:
        write_private_file(output, bundle.to_json().encode())
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    node.audit_export(bundle, file=str(output), payloads=not without_payloads, actor=actor())
    say(
        "exported {entries} entries of link {link} to {output} (mode 0600)",
        entries=len(bundle.entries),
        link=link,
        output=output,
    )


def load_bundle(path: Path) -> Bundle:
    from ..protocol.bundle import read_bundle

    data = read_bytes(path)
    with about(f"{path}: ", code=EXIT_BUNDLE_INVALID):
        return read_bundle(data)


def verified(path: Path) -> tuple[Bundle, RecordSummary]:
    """The bundle in ``path`` and what it holds; the command ends unless it verifies."""
    from ..protocol.bundle import verify_bundle

    bundle = load_bundle(path)
    summary, fault = verify_bundle(bundle)
    if fault is not None:
        fail(f"{path}: {fault.describe()}", EXIT_BUNDLE_INVALID)
    return bundle, summary


def verify(
    bundle_file: Annotated[Path, typer.Argument(help="A bundle written by 'hotline export'.")],
    against: Annotated[
        Path | None, typer.Option(help="The other party's bundle: check that both agree.")
    ] = None,
) -> None:
    """Verify a bundle offline: signatures, chains, sequence, references, payloads."""
    from ..protocol.bundle import compare_bundles
    from ..protocol.policy import agreements_in_record

    bundle, summary = verified(bundle_file)
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
    for text in notes:
        say("  policy entry {note}", note=text)
    if against is None:
        return
    other, other_summary = verified(against)
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
    as_json: JsonOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """The audit log, newest first: logins, console actions and account changes."""
    from ..accounts.audit import AuditFilterError, audit_filter

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
    if out().width < AUDIT_TABLE_WIDTH:
        _print_audit_lines(entries)
    else:
        _print_audit_table(entries)
    if len(entries) == limit:
        note(f"more entries may be older: --before {entries[-1].id}")


def _audit_outcome(outcome: str) -> Text:
    return cell(outcome, style="" if outcome == "ok" else "red")


def _audit_detail(detail: object) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True)


def _print_audit_lines(entries: list[AuditEntry]) -> None:
    from rich.padding import Padding
    from rich.text import Text

    for e in entries:
        out().print(
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
            out().print(
                Padding(cell("  ".join(extra)), (0, 0, 0, 4), expand=False), overflow="fold"
            )


def _print_audit_table(entries: list[AuditEntry]) -> None:
    from rich import box

    rows = table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    rows.add_column("id", no_wrap=True)
    rows.add_column("time (UTC)", no_wrap=True)
    for column in ("user", "action", "target", "outcome", "address"):
        rows.add_column(column, overflow="fold", min_width=4)
    rows.add_column("detail", overflow="fold", min_width=20)
    for e in entries:
        rows.add_row(
            *cells(e.id, when(e.at_ms), e.username or "—", e.action, e.target or "—"),
            _audit_outcome(e.outcome),
            *cells(e.address or "—", _audit_detail(e.detail)),
        )
    print_table(rows)
