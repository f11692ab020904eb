"""``hotline demo``: two real nodes on loopback replay the 2023 balloon incident.

Each node runs as its own ``hotline serve`` process. The link is set up through
the real invite / accept / complete path; messages go through each node's local
API; arrival and receipts are read back from each node's local API.
"""

from __future__ import annotations

import collections
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from ..accounts.roles import Role
from ..accounts.service import AccountService
from ..language.glossary import Glossary
from ..node.home import NodeHome, init_node
from ..node.service import Node
from ..protocol.bundle import compare_bundles, read_bundle, verify_bundle
from . import language

console = Console(highlight=False)
PARTIES = ("washington", "beijing")
# What each console calls the parties, as an operator sets it ('hotline names set').
PARTY_NAMES = {
    "washington": {"en": "Washington", "zh-Hans": "华盛顿"},
    "beijing": {"en": "Beijing", "zh-Hans": "北京"},
}


_PORTS_RANDOM = random.SystemRandom()
_RECENT_PORTS: collections.deque[int] = collections.deque(maxlen=64)


def free_port() -> int:
    """A free port to listen on, below the kernel's range for outgoing connections
    (32768 and up by default): a port from that range, which binding port 0 gives, can
    be taken by any outgoing connection between this check and the node's bind.
    ``HOTLINE_PORT_RANGE`` (e.g. ``20000-25999``) narrows the choice, so that
    programs picking ports side by side (the test suite's workers) never pick the
    same one between the check and the bind. Nor does one program pick a port it
    handed out recently: the caller may not have bound it yet."""
    low, high = _port_range()
    for _ in range(200):
        # Not the module-level generator: a test framework may seed and replay it.
        port = _PORTS_RANDOM.randint(low, high)
        if port in _RECENT_PORTS:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _RECENT_PORTS.append(port)
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_range() -> tuple[int, int]:
    low, _, high = os.environ.get("HOTLINE_PORT_RANGE", "20000-32000").partition("-")
    try:
        first, last = int(low), int(high)
    except ValueError:
        raise ValueError(f"HOTLINE_PORT_RANGE must be FIRST-LAST, not {low}-{high}") from None
    if not 1024 <= first <= last <= 65535:
        raise ValueError(f"HOTLINE_PORT_RANGE {first}-{last} is not a range of ports")
    return first, last


@dataclass
class RunningNode:
    party: str
    home: NodeHome
    process: subprocess.Popen[bytes]
    local_url: str
    token: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.local_url,
            headers={"authorization": f"Bearer {self.token}"},
            timeout=10.0,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def create_node(base: Path, party: str) -> NodeHome:
    return init_node(base / party, party, peer_port=free_port(), local_port=free_port())


def start_node(home: NodeHome, log_path: Path, *, timeout_s: float = 20) -> RunningNode:
    config = home.load_config()
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "hotline", "serve", "--home", str(home.path), "--verbose"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    node = RunningNode(
        config.party,
        home,
        process,
        f"http://{config.local_host}:{config.local_port}",
        home.api_token(),
    )
    deadline = time.monotonic() + timeout_s
    with node.client() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{config.party} exited; see {log_path}")
            try:
                if client.get("/healthz").status_code == 200:
                    return node
            except httpx.TransportError:
                time.sleep(0.05)
    node.stop()
    raise RuntimeError(f"{config.party} did not start within {timeout_s:g} s; see {log_path}")


def link_nodes(inviter: NodeHome, acceptor: NodeHome, name: str, purpose: str, base: Path) -> None:
    """The real out-of-band path: invitation file, fingerprint check, acceptance file."""
    a, b = Node(inviter), Node(acceptor)
    try:
        _, invitation_text = a.create_invitation(name, purpose, valid_hours=1)
        (base / "invitation.hotline").write_text(invitation_text)
        preview = b.preview_invitation((base / "invitation.hotline").read_text())
        read_aloud = a.identity.public.fingerprint
        if preview.inviter.identity.fingerprint != read_aloud:
            raise RuntimeError("fingerprint mismatch")
        _, acceptance_text = b.accept_invitation(invitation_text)
        (base / "acceptance.hotline").write_text(acceptance_text)
        a.complete_link((base / "acceptance.hotline").read_text())
        console.print(
            f"Link [bold]{name}[/] set up out of band; fingerprints checked:\n"
            f"  {a.party:<11} {a.identity.public.fingerprint}\n"
            f"  {b.party:<11} {b.identity.public.fingerprint}"
        )
    finally:
        a.close()
        b.close()


def wait_for(
    client: httpx.Client, message_id: str, rung: str, timeout: float = 15
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/messages/{message_id}")
        if response.status_code == 200:
            view: dict[str, Any] = response.json()
            if view["ladder"].get(rung) is not None:
                return view
        time.sleep(0.005)
    raise TimeoutError(f"{message_id} did not reach '{rung}' within {timeout} s")


def agree_policy(inviter: httpx.Client, acceptor: httpx.Client, link: str) -> None:
    """Version 1 of the link's policy (the defaults), proposed by the inviter and
    countersigned by the acceptor: the emergency channel opens."""
    inviter.post(f"/api/v1/links/{link}/policy/proposals", json={}).raise_for_status()
    deadline = time.monotonic() + 15
    while not acceptor.get(f"/api/v1/links/{link}/policy").json()["versions"]:
        if time.monotonic() > deadline:
            raise TimeoutError("the policy proposal did not arrive")
        time.sleep(0.05)
    acceptor.post(f"/api/v1/links/{link}/policy/1/accept").raise_for_status()
    while inviter.get(f"/api/v1/links/{link}/policy").json()["version"] != 1:
        if time.monotonic() > deadline:
            raise TimeoutError("the policy was not countersigned")
        time.sleep(0.05)
    console.print(f"Policy version 1 of link [bold]{link}[/] signed by both sides.")


@dataclass(frozen=True)
class DemoAccount:
    party: str
    username: str
    password: str
    role: Role
    language: str


# Who sits at each console in the demo: (username, role, shown name).
DEMO_PEOPLE = (
    ("duty", Role.DUTY_OFFICER, "Duty officer"),
    ("principal", Role.PRINCIPAL, "Principal"),
    ("supervisor", Role.SUPERVISOR, "Supervisor"),
    ("translator", Role.TRANSLATOR, "Translator"),
    ("observer", Role.OBSERVER, "Observer"),
)
PARTY_LOCALE = {"washington": ("en", "America/New_York"), "beijing": ("zh-Hans", "Asia/Shanghai")}


def add_demo_accounts(home: NodeHome) -> list[DemoAccount]:
    """Console accounts for the demo, each with a fresh random password."""
    from ..storage.database import make_engine, make_sessionmaker, upgrade

    config = home.load_config()
    language, zone = PARTY_LOCALE.get(config.party, ("en", "UTC"))
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        accounts = AccountService(make_sessionmaker(engine), party=config.party)
        made = []
        for username, role, shown in DEMO_PEOPLE:
            password = secrets.token_urlsafe(12)
            accounts.add_user(
                username,
                password,
                role=role,
                display_name=f"{config.party.title()} {shown.lower()}",
                language=language,
                timezone=zone,
                actor="demo",
            )
            made.append(DemoAccount(config.party, username, password, role, language))
        return made
    finally:
        engine.dispose()


def run_demo(
    directory: Path | None = None, *, keep_running: bool = True, models: Path | None = None
) -> int:
    """Replay the script; then, unless ``keep_running`` is off, keep both nodes and
    their consoles up until interrupted. ``models``: installed translation models (a toy
    stand-in is built without)."""
    script = json.loads(files("hotline.demo").joinpath("balloon.json").read_text())
    base = Path(directory or tempfile.mkdtemp(prefix="hotline-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    console.rule(f"[bold]{script['title']}")
    homes = {party: create_node(base, party) for party in PARTIES}
    link = script["link"]
    link_nodes(homes["washington"], homes["beijing"], link["name"], link["purpose"], base)
    accounts = [a for p in PARTIES for a in add_demo_accounts(homes[p])]
    installed = language.prepare_models(base, models, console)
    for home in homes.values():
        language.configure_translation(home, installed)
        for party, names in PARTY_NAMES.items():
            for lang, name in names.items():
                home.set_party_name(party, lang, name)
    nodes = {p: start_node(homes[p], base / f"{p}.log") for p in PARTIES}
    try:
        clients = {p: nodes[p].client() for p in PARTIES}
        agree_policy(clients["washington"], clients["beijing"], link["name"])
        glossary = language.agree_documents(
            clients["washington"], clients["beijing"], link["name"], console
        )
        steps = _replay(clients, link["name"], script["messages"])
        for step in steps:
            step.view = clients[step.sender].get(f"/api/v1/messages/{step.message_id}").json()
        _print_timeline(steps, glossary)
        ok = _export_and_verify(clients, link["name"], base)
        console.print(f"\nData, logs and exported records: {base}")
        if keep_running and ok:
            # Handlers first, then the invitation to press Ctrl-C: an interrupt that
            # comes at once still ends the demo cleanly (SIGTERM too).
            stop = threading.Event()
            for number in (signal.SIGINT, signal.SIGTERM):
                signal.signal(number, lambda *_: stop.set())
            _print_consoles(nodes, homes, accounts)
            while not stop.wait(0.5):
                pass
        return 0 if ok else 1
    finally:
        for node in nodes.values():
            node.stop()


def _replay(clients: dict[str, httpx.Client], link: str, items: list[dict[str, Any]]) -> list[Step]:
    """Send each message of the script, time its way to the other side and back, and
    follow how it was understood there."""
    steps: list[Step] = []
    for item in items:
        sender = item["from"]
        receiver = next(p for p in PARTIES if p != sender)
        ref = steps[item["reply_to"]].message_id if "reply_to" in item else None
        started = time.perf_counter()
        response = clients[sender].post(
            f"/api/v1/links/{link}/messages", json=language.message_request(item, ref)
        )
        response.raise_for_status()
        committed = time.perf_counter()
        message_id = response.json()["id"]
        wait_for(clients[receiver], message_id, "received")
        arrived = time.perf_counter()
        wait_for(clients[sender], message_id, "delivered")
        receipted = time.perf_counter()
        step = Step(item, sender, receiver, message_id, started, committed, arrived, receipted)
        step.understanding = language.follow(clients, item, sender, receiver, message_id)
        steps.append(step)
    return steps


@dataclass
class Step:
    item: dict[str, Any]
    sender: str
    receiver: str
    message_id: str
    started: float
    committed: float
    arrived: float
    receipted: float
    view: dict[str, Any] | None = None
    understanding: language.Understanding | None = None


def _print_timeline(steps: list[Step], glossary: Glossary) -> None:
    console.print()
    console.rule("Timeline / 时间线")
    terms_shown: set[str] = set()
    for number, step in enumerate(steps, 1):
        item = step.item
        label = item.get("label") or item.get("subject")
        console.print(
            f"[bold]#{number}  {item['scenario_time']}  {step.sender} → {step.receiver}[/]"
            + (f"  [yellow]{escape(label)}[/]" if label else "")
        )
        assert step.understanding is not None and step.view is not None
        if step.understanding.agreed is not None:
            _print_agreed(step.understanding.agreed, glossary, terms_shown)
        else:
            _print_free_text(step, glossary, terms_shown)
        ladder, created = step.view["ladder"], step.view["created_ms"]
        rungs = []
        for rung in ("transmitted", "delivered", "displayed", "acknowledged", "answered"):
            at = ladder.get(rung)
            rungs.append(f"{rung} +{at - created} ms" if at is not None else f"[dim]{rung} —[/]")
        console.print("    ladder: " + " → ".join(rungs))
        console.print(
            f"    measured: durable in {(step.committed - step.started) * 1000:.1f} ms, "
            f"stored by {step.receiver} in {(step.arrived - step.started) * 1000:.1f} ms, "
            f"signed receipt back in {(step.receipted - step.started) * 1000:.1f} ms"
        )
    console.print(
        "[dim]Ladder times are relative to each message's own timestamp. 'displayed' and "
        "'acknowledged' come from people at a console (not part of this demo); 'answered' "
        "is set by the reply that references the message. Scenario times are the incident's; "
        "measured times are this machine's. Glossary terms are in reverse video.[/]"
    )


def _print_text(text: str, glossary: Glossary, terms_shown: set[str], indent: str) -> None:
    marked, terms = language.highlighted(text, glossary)
    console.print(f"{indent}{marked}", soft_wrap=False)
    for term in terms:
        if term not in terms_shown:
            terms_shown.add(term)
            for line in language.term_lines(glossary, term):
                console.print(f"{indent}  [dim]▸[/] {line}")


def _print_agreed(agreed: dict[str, Any], glossary: Glossary, terms_shown: set[str]) -> None:
    console.print(
        f"    [green]\\[agreed text / 约定文本][/] {agreed['entry']}, "
        f"phrasebook version {agreed['version']}"
    )
    for lang, text in agreed["rendered"].items():
        console.print(f"    {lang}:", end=" ")
        _print_text(text, glossary, terms_shown, "")


def _print_free_text(step: Step, glossary: Glossary, terms_shown: set[str]) -> None:
    item, found = step.item, step.understanding
    assert found is not None and found.draft is not None
    console.print(f"    [dim]free text ({item['lang']}) / 自由文本[/]")
    _print_text(item["text"], glossary, terms_shown, "    ")
    draft = found.draft
    console.print(
        f"    {step.receiver} reads / {step.receiver} 读到: [dim]{language.badge(draft)}[/]"
    )
    if draft["text"]:
        console.print(f"      {escape(draft['text'])}", soft_wrap=False)
    if found.verified is not None:
        console.print(f"    then / 随后: [green]{language.badge(found.verified)}[/]")
        _print_text(found.verified["text"], glossary, terms_shown, "      ")
    if found.understood is not None:
        english, chinese = language.LANGUAGE_NAMES.get(
            found.understood["target"], (found.understood["target"],) * 2
        )
        console.print(
            f"    {step.sender} sees how it was understood / {step.sender} 看到对方的理解: "
            f"rendered in {english} as / 译为{chinese}: “{escape(found.understood['text'])}” "
            f"(verified by {found.understood['verified_by']})",
            soft_wrap=False,
        )


def _print_consoles(
    nodes: dict[str, RunningNode], homes: dict[str, NodeHome], accounts: list[DemoAccount]
) -> None:
    console.print()
    console.rule("Consoles")
    for party in PARTIES:
        console.print(f"[bold]{party}[/]: console {nodes[party].local_url}/")
        console.print(f"  local API token in {homes[party].token_path}")
        for account in (a for a in accounts if a.party == party):
            console.print(
                f"  {account.username:<10} {account.password:<18} "
                f"{account.role.value.replace('_', ' ')} ({account.language})"
            )
    console.print(
        "Log in as washington's duty officer and beijing's duty officer in two browser "
        "windows: request a call, answer it, send and acknowledge messages.\n"
        "These passwords are random for this run. Both nodes keep running; "
        "press Ctrl-C to stop (or run 'hotline demo --once' to exit after the script)."
    )


def _export_and_verify(clients: dict[str, httpx.Client], link: str, base: Path) -> bool:
    paths = {}
    for party, client in clients.items():
        response = client.get(f"/api/v1/links/{link}/export")
        response.raise_for_status()
        paths[party] = base / f"{party}-record.json"
        paths[party].write_text(response.text)
    ok = True
    bundles = {}
    for party, path in paths.items():
        bundle = read_bundle(path.read_bytes())
        summary, fault = verify_bundle(bundle)
        bundles[party] = bundle
        if fault:
            console.print(f"[red]✗ {party}'s record: {fault.describe()}")
            ok = False
        else:
            console.print(
                f"[green]✓[/] {party}'s record verifies offline: {summary.entries} entries "
                f"({summary.receipts} receipts), every signature, chain link and payload digest"
            )
    agreement = compare_bundles(bundles["washington"], bundles["beijing"])
    if agreement.agree:
        console.print("[green]✓[/] both records hold exactly the same signed entries")
    else:
        console.print(f"[red]✗ records disagree: {agreement}")
        ok = False
    return ok


__all__ = ["DemoAccount", "add_demo_accounts", "agree_policy", "run_demo"]
