"""Setting up links out of band: invite, accept, complete; and the list of links."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .context import DEFAULT_HOME, HomeOption, JsonOption, desk_on, open_node, open_runtime
from .errors import about
from .inputs import actor, check_writable, digits, json_file, read_text, write_text
from .output import (
    EXIT_NOT_CONFIRMED,
    EXIT_USAGE,
    cell,
    fail,
    print_json,
    print_table,
    say,
    table,
    when,
)

YesOption = Annotated[bool, typer.Option("--yes", help="Do not ask (needs --fingerprint).")]


def invite(
    name: Annotated[str, typer.Argument(help="Link name, e.g. 'defence'.")],
    purpose: Annotated[str, typer.Option(help="What the link is for.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="Invitation file to write.")],
    valid_hours: Annotated[float, typer.Option(help="Hours until the invitation expires.")] = 24,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Write a signed invitation file to hand to the other party out of band."""
    node = open_node(home)
    invitation, text = node.create_invitation(name, purpose, valid_hours=valid_hours)
    write_text(output, text)
    say(
        "Invitation {id} for link [bold]{name}[/] written to {output}",
        id=invitation.id,
        name=name,
        output=output,
    )
    say("Expires {expires}. Our fingerprint, to read aloud:", expires=when(invitation.expires_ms))
    say("  [bold]{fingerprint}[/]", fingerprint=node.identity.public.fingerprint)


def confirm_fingerprint(
    given: str | None, yes: bool, actual: str, *, verb: str, declined: str
) -> None:
    """The fingerprint read aloud must match ``actual``: as given, or as the operator
    confirms at a prompt; otherwise the command ends: do not ``verb`` it."""
    if given is not None:
        if digits(given) != digits(actual):
            fail(
                f"the fingerprint does not match the one read aloud: do not {verb}",
                EXIT_NOT_CONFIRMED,
            )
    elif yes:
        fail("--yes needs --fingerprint, so that the fingerprint is still checked", EXIT_USAGE)
    elif not typer.confirm("Does this match the fingerprint read aloud by the other party?"):
        fail(declined, EXIT_NOT_CONFIRMED)


def accept(
    invitation_file: Annotated[Path, typer.Argument(help="The invitation received.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="Acceptance file to write.")],
    fingerprint: Annotated[
        str | None,
        typer.Option(
            help="The inviter's fingerprint as read aloud; skips the prompt if it matches."
        ),
    ] = None,
    yes: YesOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Verify an invitation, confirm the fingerprint, and write the acceptance file."""
    node = open_node(home)
    text = read_text(invitation_file)
    with about("invitation refused: "):
        invitation = node.preview_invitation(text)
    inviter = invitation.inviter.identity
    say(
        "Invitation from [bold]{party}[/] for link [bold]{link}[/]",
        party=inviter.party,
        link=invitation.link_name,
    )
    say("Purpose: {purpose}", purpose=invitation.purpose)
    say("Endpoints: {endpoints}", endpoints=", ".join(invitation.inviter.endpoints))
    say("Fingerprint: [bold]{fingerprint}[/]", fingerprint=inviter.fingerprint)
    confirm_fingerprint(
        fingerprint, yes, inviter.fingerprint, verb="accept", declined="not accepted"
    )
    check_writable(output)  # before the invitation is used up
    with about("invitation refused: "):
        link, acceptance = node.accept_invitation(text)
    write_text(output, acceptance)
    say("Link [bold]{name}[/] with {peer} is set up here.", name=link.name, peer=link.peer_party)
    say(
        "Send {output} to {peer}; they complete it with 'hotline link complete'.",
        output=output,
        peer=link.peer_party,
    )
    say(
        "Our fingerprint, to read aloud: [bold]{fingerprint}[/]",
        fingerprint=node.identity.public.fingerprint,
    )


def complete(
    acceptance_file: Annotated[Path, typer.Argument(help="The acceptance received.")],
    fingerprint: Annotated[
        str | None, typer.Option(help="The acceptor's fingerprint as read aloud.")
    ] = None,
    yes: YesOption = False,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="JSON policy fields for version 1 (default: the standard policy)."
        ),
    ] = None,
    no_policy: Annotated[
        bool, typer.Option("--no-policy", help="Do not propose policy version 1 now.")
    ] = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Complete a link from the other party's acceptance of our invitation, and propose
    the link's policy version 1 for the other party to countersign."""
    from ..protocol.policy_edits import check_first_version

    node = open_node(home)
    desk = desk_on(node)
    text = read_text(acceptance_file)
    with about("acceptance refused: "):
        acceptance = node.preview_acceptance(text)
    acceptor = acceptance.acceptor.identity
    say(
        "Acceptance from [bold]{party}[/], fingerprint [bold]{fingerprint}[/]",
        party=acceptor.party,
        fingerprint=acceptor.fingerprint,
    )
    confirm_fingerprint(
        fingerprint, yes, acceptor.fingerprint, verb="complete", declined="not completed"
    )
    changes = json_file(policy_file) if policy_file is not None else {}
    if changes and not no_policy:
        with about(f"{policy_file}: ", "; the link is not completed"):
            check_first_version(acceptance.invitation_id, changes)
    with about("acceptance refused: "):
        link = node.complete_link(text)
    say("Link [bold]{name}[/] with {peer} is complete.", name=link.name, peer=link.peer_party)
    if no_policy:
        return
    with about("policy version 1 not proposed: "):
        proposed = desk.propose_policy(link.name, changes, actor())
    say(
        "Proposed policy version {version}; it reaches {peer} over the link while both nodes "
        "are serving ('hotline serve'), and {peer} countersigns it with "
        "'hotline policy accept {name} {version}'.",
        version=proposed.version,
        peer=link.peer_party,
        name=link.name,
    )


def list_links(home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """List this node's links."""
    from ..node.linking import all_links
    from ..protocol.keys import fingerprint as fp
    from ..web.views import link_view

    links = all_links(open_runtime(home))
    if as_json:
        print_json([link_view(link) for link in links])
        return
    rows = table("name", "peer", "purpose", "role", "sent", "received", "peer fingerprint")
    for link in links:
        rows.add_row(
            cell(link.name),
            cell(link.peer_party),
            cell(link.purpose),
            cell(link.role),
            cell(link.own_seq),
            cell(link.peer_seq),
            cell(fp(link.peer_signing_key, link.peer_encryption_key)),
        )
    print_table(rows)
