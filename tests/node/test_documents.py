"""The documents and the code, kept together (as Datasette checks its settings and
hooks against its docs): every metric the node exports and every event it writes
is in docs/operations.md, with the right type, and nothing documented is missing
from the code. Refusal codes are held the same way by test_error_table.py.

Pure and fast: the metrics are read from the real collectors, built without a node."""

from __future__ import annotations

import ast
import re
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from hotline.node.events import EVENT_TYPES, record_event
from hotline.node.metrics import NodeMetrics
from hotline.node.rules.metrics import RulesCollector
from hotline.transport.limits import PeerLimits
from hotline.web.peer_listener import PeerListener

if TYPE_CHECKING:
    from hotline.node.service import Node

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
OPERATIONS = DOCS / "operations.md"

# A table row naming a metric and its type: | `hotline_x_total{link}` | counter | ...
METRIC_ROW = re.compile(
    r"^\| `(hotline_[a-z_]+)(?:\{[a-z_,]*\})?` \| (counter|gauge|histogram) \|", re.M
)
EVENT_ROW = re.compile(r"^\| `([a-z_]+\.[a-z_]+)` \|", re.M)
# What Prometheus shows of a family: its samples' suffixes.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created", ""),
}


def code_metrics() -> dict[str, str]:
    """Each metric the node exports, as its documentation names it (a counter with
    ``_total``), with its type: from the very collectors ``hotline serve`` registers."""
    registry = NodeMetrics(lambda: 0.0).registry
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    PeerListener(context, PeerLimits(), registry)
    families = [*registry.collect(), *RulesCollector(cast("Node", None)).describe()]
    found: dict[str, str] = {}
    for family in families:
        name = family.name + ("_total" if family.type == "counter" else "")
        assert name not in found, f"{name} is registered twice"
        found[name] = family.type
    return found


def documented_metrics(path: Path) -> dict[str, str]:
    rows = METRIC_ROW.findall(path.read_text())
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), f"a metric has two rows in {path.name}"
    return dict(rows)


def section(text: str, heading: str) -> str:
    """From ``heading`` to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = text.index(f"\n{heading}\n")
    rest = text[start + len(heading) + 2 :]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, re.M)]
    return rest[: min(ends, default=len(rest))]


def test_operations_lists_every_metric_the_node_exports_with_its_type() -> None:
    code = code_metrics()
    documented = documented_metrics(OPERATIONS)
    assert sorted(set(code) - set(documented)) == [], "exported but not in operations.md"
    assert sorted(set(documented) - set(code)) == [], "in operations.md but not exported"
    assert documented == code
    assert len(code) >= 20  # the collectors above were all read


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_metric_table_in_the_docs_names_a_metric_of_that_type(path: Path) -> None:
    code = code_metrics()
    documented = documented_metrics(path)
    assert {name: code.get(name) for name in documented} == documented


@pytest.mark.parametrize(
    "path", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name
)
def test_every_metric_named_in_the_docs_text_exists(path: Path) -> None:
    """Alert rules and prose too: ``hotline_heartbeat_rtt_seconds_bucket`` is a sample
    of an exported histogram; a renamed metric would leave a dead name here."""
    samples = set()
    for name, type_ in code_metrics().items():
        base = name.removesuffix("_total") if type_ == "counter" else name
        samples |= {base + suffix for suffix in SUFFIXES[type_]}
    named = set(re.findall(r"\bhotline_[a-z_]+\b", path.read_text()))
    assert sorted(named - samples) == []


def test_operations_lists_every_event_type_and_only_those() -> None:
    events = section(OPERATIONS.read_text(), "### Events / 事件")
    documented = EVENT_ROW.findall(events)
    assert len(documented) == len(set(documented)), "an event has two rows"
    assert sorted(EVENT_TYPES - set(documented)) == [], "written but not documented"
    assert sorted(set(documented) - EVENT_TYPES) == [], "documented but never written"


def test_each_event_row_says_when_in_english_and_chinese() -> None:
    events = section(OPERATIONS.read_text(), "### Events / 事件")
    rows = [line for line in events.splitlines() if EVENT_ROW.match(line)]
    assert len(rows) == len(EVENT_TYPES)
    for row in rows:
        name, english, chinese = (cell.strip() for cell in row.strip("|").split("|"))
        assert re.search(r"[a-z]{3}", english), name
        assert re.search(r"[\u4e00-\u9fff]", chinese), name


def test_the_event_writer_refuses_a_type_not_in_the_registry() -> None:
    with Session(create_engine("sqlite://")) as session:
        with pytest.raises(ValueError, match=r"unknown event type 'message\.teleported'"):
            record_event(session, "message.teleported", {}, link_id=None, now_ms=0)
        assert "hotline.pending_events" not in session.info


def _event_types_written(tree: ast.AST) -> tuple[set[str], set[str]]:
    """String literals the node passes as an event's type: the second argument of a
    call to a function whose name ends in ``event`` (``record_event``, ``_event``,
    ``call_event``...), or the first item of a ``(type, data)`` pair appended to
    ``events``; and the constant prefixes of f-strings in those places."""
    literals: set[str] = set()
    prefixes: set[str] = set()

    def take(node: ast.expr) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            literals.add(node.value)
        elif isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
            prefixes.add(str(node.values[0].value))
        elif isinstance(node, ast.IfExp):
            take(node.body)
            take(node.orelse)

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name.endswith("event") and len(node.args) >= 2:
            take(node.args[1])
        if name == "append" and isinstance(func, ast.Attribute) and node.args:
            owner = func.value
            owner_name = getattr(owner, "attr", getattr(owner, "id", ""))
            pair = node.args[0]
            if owner_name == "events" and isinstance(pair, ast.Tuple) and pair.elts:
                take(pair.elts[0])
    return literals, prefixes


def test_every_event_type_the_code_writes_is_registered() -> None:
    literals: set[str] = set()
    prefixes: set[str] = set()
    for path in sorted((ROOT / "hotline").rglob("*.py")):
        found, starts = _event_types_written(ast.parse(path.read_text(), str(path)))
        literals |= found
        prefixes |= starts
    assert len(literals) >= 30  # the scan sees the writers
    assert sorted(literals - EVENT_TYPES) == []
    # f"call.{call.state}", f"emergency.{activation.state}": each family registered
    assert prefixes == {"call.", "emergency."}
    assert all(any(t.startswith(p) for t in EVENT_TYPES) for p in prefixes)


def test_every_benchmark_has_its_line_in_the_readme_and_its_row_in_results() -> None:
    """A benchmark one can run (``python -m bench.NAME``) is listed in the README's
    Performance section and in bench/RESULTS.md's table of how to run each."""
    runnable = sorted(
        path.stem
        for path in (ROOT / "bench").glob("*.py")
        if 'if __name__ == "__main__"' in path.read_text()
    )
    assert len(runnable) >= 8
    performance = section((ROOT / "README.md").read_text(), "## Performance")
    how_to_run = section((ROOT / "bench" / "RESULTS.md").read_text(), "## Running the benchmarks")
    for name in runnable:
        assert f"`bench.{name}`" in performance, name
        assert f"python -m bench.{name}" in how_to_run, name


def test_operations_lists_every_table_and_only_those() -> None:
    """The tables an operator backs up and inspects are the ones the migrations make."""
    import hotline.storage.translation_models  # noqa: F401  (registers its table)
    from hotline.storage.models import Base

    text = OPERATIONS.read_text(encoding="utf-8")
    start = text.index("Tables (")
    listing = text[start : text.index("plus Alembic", start)]
    assert set(re.findall(r"`([a-z_]+)`", listing)) == set(Base.metadata.tables)
    count = re.match(r"Tables \((\d+)\)", listing)
    assert count is not None and int(count.group(1)) == len(Base.metadata.tables)
