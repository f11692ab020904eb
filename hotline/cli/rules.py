"""A link's rules: its policy (signed by both parties), this node's escalation of
silence, link tests, and what waits past its deadline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .context import DEFAULT_HOME, HomeOption, JsonOption, open_desk, open_runtime
from .errors import about
from .inputs import actor, json_file
from .output import cells, print_json, print_table, say, table, when

if TYPE_CHECKING:
    from ..node.rules.policy import PolicyState
    from ..protocol.policy import Policy

LinkArgument = Annotated[str, typer.Argument(help="Link name.")]


def policy_show(
    link: LinkArgument, as_json: JsonOption = False, home: HomeOption = DEFAULT_HOME
) -> None:
    """The policy in force (signed by both parties) and every version proposed.

    A proposal travels over the link: until both nodes are serving, the other party
    has not received it (this command says so)."""
    from ..node.linking import find_link
    from ..node.rules.policy import policy_state

    node = open_runtime(home)
    found = find_link(node, link)
    state, peer = policy_state(node, found), found.peer_party
    if as_json:
        print_json(state.view())
        return
    policy = state.in_force
    if policy is None:
        say("[bold]{name}[/]: no policy in force (emergency channel closed)", name=state.link_name)
    else:
        agreement = state.agreement
        assert agreement is not None  # in force means signed by both
        say(
            "[bold]{name}[/]: policy version {version} in force, signed by {proposer} and "
            "{acceptor}",
            name=state.link_name,
            version=policy.version,
            proposer=agreement.proposer.party,
            acceptor=agreement.acceptor.party,
        )
        for line in policy_lines(policy):
            say("  {line}", line=line)
    for version in state.versions:
        if version.state not in ("proposed", "refused"):
            continue
        say(
            "Version {version} {state} by {party} at {at}{reason}",
            version=version.version,
            state=version.state,
            party=version.proposed_by,
            at=when(version.proposed_ms),
            reason=f" ({version.refusal})" if version.refusal else "",
        )
        if version.state == "proposed" and version.policy is not None:
            before = set(policy_lines(policy)) if policy is not None else set()
            for line in policy_lines(version.policy):
                say("  {marker}{line}", marker="  " if line in before else "+ ", line=line)
    _policy_next_step(state, peer)


def _policy_next_step(state: PolicyState, peer: str) -> None:
    """What happens next: whose signature a proposal waits for, and that proposals
    travel over the link, so only between serving nodes."""
    name = state.link_name
    if not state.versions:
        say(
            "No proposal has arrived from {peer} yet. Proposals travel over the link: "
            "{peer}'s proposal arrives once both nodes are serving ('hotline serve'); "
            "then countersign it with 'hotline policy accept {name} VERSION'. "
            "To propose one from here instead: 'hotline policy propose {name}'.",
            peer=peer,
            name=name,
        )
    for version in state.pending:
        if version.proposed_by == peer:
            say(
                "To put version {version} in force: 'hotline policy accept {name} {version}'.",
                version=version.version,
                name=name,
            )
        else:
            say(
                "Version {version} waits for {peer} to countersign it; it reaches {peer} "
                "over the link while both nodes are serving ('hotline serve').",
                version=version.version,
                peer=peer,
            )


def policy_lines(policy: Policy) -> list[str]:
    """The policy as lines to read before signing (a proposal's changed lines get '+')."""
    lines = [f"purpose: {policy.purpose}", f"languages: {', '.join(policy.languages)}"]
    for criterion in policy.criteria:
        labels = " / ".join(criterion.labels[lang] for lang in policy.languages)
        lines.append(f"criterion {criterion.id}: {labels}")
    for name, times in policy.channels.items():
        lines.append(
            f"{name}: acknowledge within {times.acknowledge_s} s, answer within {times.answer_s} s"
        )
    lines += [
        f"two-person rule for emergency activations: {policy.two_person_rule}",
        f"displayed receipts shared: {policy.share_displayed}",
        f"replies need approval: {policy.replies_need_approval}",
        f"link test every {policy.link_test.interval_s} s (0: none), "
        f"confirm within {policy.link_test.confirm_s} s",
    ]
    return lines


def policy_propose(
    link: LinkArgument,
    file: Annotated[
        Path | None, typer.Option("--file", help="JSON object of the policy fields to change.")
    ] = None,
    purpose: Annotated[str | None, typer.Option(help="What the link is for.")] = None,
    two_person_rule: Annotated[
        bool | None,
        typer.Option(
            "--two-person-rule/--no-two-person-rule",
            help="Emergency activations need a second operator.",
            show_default=False,
        ),
    ] = None,
    share_displayed: Annotated[
        bool | None,
        typer.Option(
            "--share-displayed/--no-share-displayed",
            help="Send 'displayed' receipts.",
            show_default=False,
        ),
    ] = None,
    replies_need_approval: Annotated[
        bool | None,
        typer.Option(
            "--replies-need-approval/--no-replies-need-approval",
            help="Replies wait for a principal's approval.",
            show_default=False,
        ),
    ] = None,
    link_test_interval: Annotated[
        int | None, typer.Option(help="Seconds between link tests (0: none).")
    ] = None,
    link_test_confirm: Annotated[
        int | None, typer.Option(help="Seconds the other side has to confirm a test.")
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Propose the next policy version: the one in force with these changes. It is in
    force once the other party countersigns it ('hotline policy accept')."""
    from ..protocol.policy_edits import with_link_test

    desk = open_desk(home)
    changes: dict[str, object] = dict(json_file(file)) if file is not None else {}
    for key, value in (
        ("purpose", purpose),
        ("two_person_rule", two_person_rule),
        ("share_displayed", share_displayed),
        ("replies_need_approval", replies_need_approval),
    ):
        if value is not None:
            changes[key] = value
    if link_test_interval is not None or link_test_confirm is not None:
        changes = with_link_test(
            changes,
            desk.policy(link).in_force,
            interval_s=link_test_interval,
            confirm_s=link_test_confirm,
        )
    proposed = desk.propose_policy(link, changes, actor())
    say(
        "Proposed policy version {version} on {link}; it reaches the other party over the "
        "link while both nodes are serving, and is in force once they run "
        "'hotline policy accept {link} {version}'.",
        version=proposed.version,
        link=link,
    )


def policy_accept(
    link: LinkArgument,
    version: Annotated[int, typer.Argument(help="The proposed version to countersign.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Countersign the other party's proposed policy version: it comes into force.

    The proposal must have arrived: it travels over the link once both nodes are
    serving ('hotline policy show' says whether it has)."""
    waiting = (
        "; a proposal arrives over the link once both nodes are serving "
        f"('hotline serve'): 'hotline policy show {link}' lists those that have"
    )
    with about(hints={"no_proposal": waiting}):
        accepted = open_desk(home).accept_policy(link, version, actor())
    say("Policy version {version} on {link} is in force.", version=accepted.version, link=link)


def escalation_show(link: LinkArgument, home: HomeOption = DEFAULT_HOME) -> None:
    """This node's escalation policy for the link, as JSON."""
    print_json({"link": link, "policy": open_desk(home).escalation(link)})


def escalation_set(
    link: LinkArgument,
    file: Annotated[Path, typer.Option("--file", help="JSON escalation policy.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Replace the link's escalation policy (checked first; nothing changes if refused)."""
    document = json_file(file)
    stored = open_desk(home).set_escalation(link, document, actor())
    say("Escalation policy for {link} set: rungs {rungs}.", link=link, rungs=", ".join(stored))


def link_tests(
    link: LinkArgument, as_json: JsonOption = False, home: HomeOption = DEFAULT_HOME
) -> None:
    """Link tests sent and received on the link, newest first."""
    from ..node.rules.link_tests import test_view

    views = [test_view(t) for t in open_desk(home).link_tests(link)]
    if as_json:
        print_json(views)
        return
    rows = table("id", "dir", "state", "sent", "deadline", "confirmed", "by")
    for v in views:
        rows.add_row(
            *cells(
                v["id"],
                "→" if v["direction"] == "out" else "←",
                v["state"],
                when(v["sent_ms"]),
                when(v["deadline_ms"]),
                when(v["confirmed_ms"]),
                v["confirmed_by"] or "",
            )
        )
    print_table(rows)


def link_confirm_test(
    test_id: Annotated[str, typer.Argument(help="The id of the other side's link test.")],
    by: Annotated[str | None, typer.Option(help="Who confirms (default: the OS user).")] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Confirm the other side's link test: a person is at the desk."""
    test = open_desk(home).confirm_link_test(test_id, by or actor())
    say("Confirmed link test {id}.", id=test.id)


def overdue(as_json: JsonOption = False, home: HomeOption = DEFAULT_HOME) -> None:
    """Our messages and link tests waiting past their deadlines, most urgent first."""
    items = [item.view() for item in open_desk(home).overdue()]
    if as_json:
        print_json(items)
        return
    rows = table("link", "id", "channel", "awaiting", "waiting", "overdue by", "steps")
    for i in items:
        rows.add_row(
            *cells(
                i["link_name"],
                i["id"],
                i["channel"],
                i["awaiting"],
                f"{i['waiting_ms'] // 1000} s",
                f"{i['overdue_ms'] // 1000} s",
                i["steps"],
            )
        )
    print_table(rows)


def alerts(as_json: JsonOption = False, home: HomeOption = DEFAULT_HOME) -> None:
    """Open console alerts (escalations, alternate links, missed link tests)."""
    from ..node.rules.alerts import alert_view

    views = [alert_view(a) for a in open_desk(home).alerts()]
    if as_json:
        print_json(views)
        return
    for v in views:
        say(
            "#{id} {at} → {target}: {text}",
            id=v["id"],
            at=when(v["created_ms"]),
            target=v["target_user"] or v["target_role"] or "everyone",
            text=v["text"],
        )
