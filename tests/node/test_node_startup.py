"""A node starts without what only a rare path needs: the Chinese script tables (a text
detected as Chinese loads them), the translation providers (a node configured with one
loads it) and a WebSocket implementation (no endpoint is one). The suite starts hundreds
of nodes; here only what a fresh process has loaded once the node is built is checked."""

from __future__ import annotations

from pathlib import Path

from hotline.demo import free_port
from hotline.node.home import init_node
from tests.harness import loaded_by

LATE = (
    "hanzidentifier",
    "hotline.language.translation.ct2",
    "hotline.language.translation.libretranslate",
    "websockets",
    "alembic",
)

PROBE = """
import sys
from pathlib import Path
from hotline.node.home import NodeHome
from hotline.web.server import NodeServer

server = NodeServer(NodeHome(Path(sys.argv[1])))
for listener in (server.peer_server, server.local_server):
    listener.config.load()  # what uvicorn does as it starts serving
server.node.close()
"""


def test_a_built_node_has_not_loaded_what_it_loads_on_first_use(tmp_path: Path) -> None:
    home = init_node(
        tmp_path / "w", "washington", peer_port=free_port(), local_port=free_port()
    ).path
    assert loaded_by(PROBE, LATE, str(home))[1] == []
