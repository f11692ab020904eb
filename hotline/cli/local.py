"""A small client of the node's local API, for commands that only read what a serving
node can tell: it needs nothing but the standard library, so a command that asks a
serving node starts in a fraction of the time one that opens the database takes. (Its
HTTP client is imported when a command asks, not when the command line starts.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The node's files, as hotline.node.home names them (a test checks they agree).
CONFIG_FILE = "node.json"
TOKEN_FILE = "api.token"
# Seconds to wait for a serving node's answer before reading the database instead.
TIMEOUT_S = 10.0


def _address(config: dict[str, Any]) -> tuple[str, int] | None:
    host, port = config.get("local_host", "127.0.0.1"), config.get("local_port")
    if not isinstance(host, str) or not isinstance(port, int) or port <= 0:
        return None
    # A listener on every address answers on loopback.
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host), port


def ask_serving_node(home: Path, path: str) -> Any | None:
    """GET ``path`` from the local API of the node in ``home`` and return the JSON it
    answers; None when it cannot answer (not serving, another program on its port, no
    node there, a refusal): the caller then reads the database itself."""
    import http.client

    try:
        config = json.loads((home / CONFIG_FILE).read_text())
        token = (home / TOKEN_FILE).read_text().strip()
    except (OSError, ValueError):
        return None
    address = _address(config) if isinstance(config, dict) else None
    if address is None:
        return None
    connection = http.client.HTTPConnection(*address, timeout=TIMEOUT_S)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    if response.status != 200:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    # A listener on that port that speaks for another party is not this node.
    if isinstance(answer, dict) and answer.get("party", config.get("party")) != config.get("party"):
        return None
    return answer
