"""The ``hotline`` command line: a package that only talks.

Each module holds the commands of one area (``node``, ``links``, ``messages``,
``rules``, ``paths``, ``record``, ``users``); this one composes them into the Typer
app in the order ``--help`` lists them. The node's work is done by the node, the
accounts and the protocol; a command reads its arguments, calls them and prints.

Two rules keep the command line quick to start and easy to change:

- **Imports on use.** At start-up only typer and these modules' light parts load;
  a command imports the node, the database layer, the web server or rich's tables
  inside its function, when it runs (a test checks that ``import hotline.cli``
  loads none of them).
- **One error boundary.** Refusals rise out of the commands to
  :class:`hotline.cli.errors.Boundary`, which prints their detail and code and
  exits 1. Exit codes are listed in :mod:`hotline.cli.output` (and the README).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import typer

from . import links, messages, node, paths, record, rules, users
from .errors import Boundary
from .language import glossary_app, phrasebook_app
from .output import InertFormatter, log_to_stderr

__all__ = ["InertFormatter", "app", "main"]

app = typer.Typer(
    cls=Boundary,
    help="Hotline: sovereign nodes exchanging signed, encrypted messages with a provable record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for command in (
    node.init,
    node.serve,
    node.fingerprint,
    node.certificate,
    paths.heartbeats,
    messages.send,
    messages.inbox,
    node.status,
    record.export,
    record.verify,
    node.demo,
    messages.stats,
    rules.overdue,
    rules.alerts,
):
    app.command()(command)
app.command("audit")(record.audit_log)


def _group(name: str, help: str, commands: dict[str, Callable[..., None]]) -> None:
    group = typer.Typer(help=help, no_args_is_help=True)
    for command_name, function in commands.items():
        group.command(command_name)(function)
    app.add_typer(group, name=name)


_group(
    "link",
    "Set up links with other parties, out of band.",
    {
        "invite": links.invite,
        "accept": links.accept,
        "complete": links.complete,
        "list": links.list_links,
        "paths": paths.link_paths,
        "add-path": paths.link_add_path,
        "add-relay": paths.link_add_relay,
        "tests": rules.link_tests,
        "confirm-test": rules.link_confirm_test,
    },
)
_group(
    "user",
    "Operator console accounts: add, list, disable, passwords, TOTP.",
    {
        "add": users.add,
        "list": users.list_users,
        "update": users.update,
        "disable": users.disable,
        "enable": users.enable,
        "password": users.password,
        "totp": users.totp,
    },
)
_group(
    "policy",
    "The link's policy, signed by both parties: show, propose, accept.",
    {"show": rules.policy_show, "propose": rules.policy_propose, "accept": rules.policy_accept},
)
_group(
    "escalation",
    "This node's escalation of silence on a link: show, set.",
    {"show": rules.escalation_show, "set": rules.escalation_set},
)
_group(
    "names",
    "What people here call each party, by language: show, set.",
    {"show": node.names_show, "set": node.names_set},
)
_group(
    "relay",
    "Serve as a relay for other parties' links (ciphertext only).",
    {"add": paths.relay_add, "list": paths.relay_list},
)
app.add_typer(phrasebook_app, name="phrasebook")
app.add_typer(glossary_app, name="glossary")


def main() -> None:
    """The ``hotline`` command."""
    log_to_stderr("%(levelname)s %(name)s: %(message)s", logging.WARNING)
    # A refused request is the command's error, which the boundary prints: not twice.
    logging.getLogger("hotline.rules").setLevel(logging.ERROR)
    try:
        app()
    finally:
        # At exit the interpreter's last garbage collection walks every object the
        # libraries made at import (about a second on a slow machine, for every
        # command and every node stop). Nothing among them needs it: the node
        # closes its database before this, and the rest is freed with the process.
        gc.freeze()
