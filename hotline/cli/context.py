"""How a command finds its node: the data directory, the node, its accounts, its desk.

Each opener imports the node (the database layer and the rest) when called, not when
the command line starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..accounts.service import AccountService
    from ..node.desk.desk import Desk
    from ..node.runtime import NodeRuntime
    from ..node.service import Node

HomeOption = Annotated[
    Path,
    typer.Option(
        "--home", "-H", envvar="HOTLINE_HOME", help="The node's data directory.", show_default=True
    ),
]
DEFAULT_HOME = Path("hotline-data")
JsonOption = Annotated[bool, typer.Option("--json")]


def open_node(home: Path) -> Node:
    from ..node.home import NodeHome
    from ..node.service import Node

    return Node(NodeHome(home))


def open_runtime(home: Path) -> NodeRuntime:
    """The node's unit of work without the façade's operations, for a command that only
    reads through the module that owns what it reads (links, paths, the policy): the
    façade imports delivery, the record and the language documents, which cost such a
    command more than its own work."""
    from ..node.home import NodeHome
    from ..node.runtime import NodeRuntime

    return NodeRuntime(NodeHome(home))


def open_desk(home: Path) -> Desk:
    return desk_on(open_node(home))


def desk_on(node: Node) -> Desk:
    """The desk over ``node``, for a command that also calls the node itself."""
    from ..node.desk.desk import Desk

    return Desk(node)


@contextmanager
def open_accounts(home: Path) -> Iterator[AccountService]:
    """The node's accounts, on its database brought to the newest schema."""
    from ..accounts.service import AccountService
    from ..node.home import NodeHome
    from ..storage.database import make_engine, make_sessionmaker, upgrade

    config = NodeHome(home).load_config()
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        yield AccountService(make_sessionmaker(engine), party=config.party)
    finally:
        engine.dispose()
