"""Three hosts in network namespaces for failover tests and the failover benchmark.

washington and beijing each run in their own namespace with two veth pairs
between them (two paths); geneva, in a third namespace, relays the link and is
wired to each of them by one more veth pair. Every node is a real
``python -m hotline serve`` process started with ``ip netns exec``. The test
process reaches the nodes' databases directly (SQLite files on the shared file
system), never their sockets: the namespaces have no route to it.

Cuts:

* :meth:`Topology.link_down` sets washington's end of a path down (no carrier,
  the route goes away: the kernel refuses at once);
* :meth:`Topology.blackhole` makes beijing drop everything it would send to
  washington's address on that path, so washington's packets arrive and nothing
  answers (a silent path).

Needs root (``ip netns add``). :func:`available` says whether it works here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from hotline.node.home import NodeHome, init_node
from hotline.node.service import Node
from hotline.transport.tls import certificate_fingerprint

LINK = "defence"
PEER_PORT = 7443
LOCAL_PORT = 7080
# path n (1, 2) between washington and beijing: 10.201.n.1 (washington), 10.201.n.2 (beijing)
# relay legs: 10.201.3.1 washington, 10.201.3.2 geneva; 10.201.4.1 beijing, 10.201.4.2 geneva
PATHS = (1, 2)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def available() -> str | None:
    """None if network namespaces can be made here, else the reason they cannot."""
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    name = f"hlprobe-{uuid.uuid4().hex[:6]}"
    try:
        _ip("netns", "add", name)
    except (subprocess.CalledProcessError, OSError) as exc:
        return f"'ip netns add' failed: {getattr(exc, 'stderr', b'') or exc!r}"
    _ip("netns", "del", name)
    return None


@dataclass
class NetnsNode:
    party: str
    namespace: str
    home: NodeHome
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        assert self.process is None or self.process.poll() is not None
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.namespace,
                sys.executable,
                "-m",
                "hotline",
                "serve",
                "--home",
                str(self.home.path),
                "--verbose",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.party} exited:\n{self.log_path.read_text()[-3000:]}")
            if self._listening():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.party} did not start:\n{self.log_path.read_text()[-3000:]}")

    def _listening(self) -> bool:
        """Both listeners are up: read the process's own namespace's socket table."""
        assert self.process is not None
        try:
            table = Path(f"/proc/{self.process.pid}/net/tcp").read_text()
        except OSError:
            return False
        ports = {
            int(cols[1].rsplit(":", 1)[1], 16)
            for cols in (line.split() for line in table.splitlines()[1:])
            if cols[3] == "0A"  # LISTEN
        }
        return {PEER_PORT, LOCAL_PORT} <= ports

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def node(self) -> Node:
        return Node(self.home)


@dataclass
class Topology:
    base: Path
    relay: bool = True
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    namespaces: list[str] = field(default_factory=list)
    nodes: dict[str, NetnsNode] = field(default_factory=dict)
    link_id: str = ""

    def ns(self, party: str) -> str:
        return f"hl-{party[:3]}-{self.tag}"

    # Set-up -----------------------------------------------------------------

    def create(self) -> None:
        """Namespaces, veths and addresses; nodes initialised, linked and (with a
        relay) configured on all three sides. Call :meth:`destroy` in any case."""
        parties = ["washington", "beijing"] + (["geneva"] if self.relay else [])
        for party in parties:
            name = self.ns(party)
            _ip("netns", "add", name)
            self.namespaces.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        w, b = self.ns("washington"), self.ns("beijing")
        for n in PATHS:
            self._veth(w, f"p{n}", f"10.201.{n}.1", b, f"p{n}", f"10.201.{n}.2")
        if self.relay:
            g = self.ns("geneva")
            self._veth(w, "rl", "10.201.3.1", g, "rw", "10.201.3.2")
            self._veth(b, "rl", "10.201.4.1", g, "rb", "10.201.4.2")
        homes = {
            "washington": self._init(
                "washington", [f"https://10.201.{n}.1:{PEER_PORT}" for n in PATHS]
            ),
            "beijing": self._init("beijing", [f"https://10.201.{n}.2:{PEER_PORT}" for n in PATHS]),
        }
        if self.relay:
            homes["geneva"] = self._init(
                "geneva", [f"https://10.201.3.2:{PEER_PORT}", f"https://10.201.4.2:{PEER_PORT}"]
            )
        for party, home in homes.items():
            self.nodes[party] = NetnsNode(party, self.ns(party), home, self.base / f"{party}.log")
        self.link_id = self._link(homes["washington"], homes["beijing"])
        if self.relay:
            self._configure_relay(homes)

    def _veth(self, ns_a: str, dev_a: str, addr_a: str, ns_b: str, dev_b: str, addr_b: str) -> None:
        tmp_a, tmp_b = f"v{uuid.uuid4().hex[:8]}", f"v{uuid.uuid4().hex[:8]}"
        _ip("link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
        _ip("link", "set", tmp_a, "netns", ns_a)
        _ip("link", "set", tmp_b, "netns", ns_b)
        for ns, tmp, dev, addr in ((ns_a, tmp_a, dev_a, addr_a), (ns_b, tmp_b, dev_b, addr_b)):
            _ip("-n", ns, "link", "set", tmp, "name", dev)
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")

    def _init(self, party: str, endpoints: list[str]) -> NodeHome:
        return init_node(
            self.base / party,
            party,
            peer_host="0.0.0.0",
            peer_port=PEER_PORT,
            local_port=LOCAL_PORT,
            endpoints=endpoints,
        )

    def _link(self, inviter: NodeHome, acceptor: NodeHome) -> str:
        a, b = Node(inviter), Node(acceptor)
        try:
            invitation, text = a.create_invitation(LINK, "Defence ministries' crisis link")
            _, acceptance = b.accept_invitation(text)
            a.complete_link(acceptance)
            return invitation.id
        finally:
            a.close()
            b.close()

    def _configure_relay(self, homes: dict[str, NodeHome]) -> None:
        relay_der = homes["geneva"].certificate_der()
        relay_fp = certificate_fingerprint(relay_der)
        legs = {"washington": ("10.201.3.1", "10.201.3.2"), "beijing": ("10.201.4.1", "10.201.4.2")}
        geneva = Node(homes["geneva"])
        try:
            for party, (own, relay_addr) in legs.items():
                der = homes[party].certificate_der()
                geneva.add_relay_route(
                    self.link_id,
                    party,
                    certificate=der,
                    fingerprint=certificate_fingerprint(der),
                    endpoints=[f"https://{own}:{PEER_PORT}"],
                )
                node = Node(homes[party])
                try:
                    node.add_relay_path(
                        LINK,
                        f"https://{relay_addr}:{PEER_PORT}",
                        certificate=relay_der,
                        fingerprint=relay_fp,
                    )
                finally:
                    node.close()
        finally:
            geneva.close()

    def start(self) -> None:
        for node in self.nodes.values():
            node.launch()
        for node in self.nodes.values():
            node.wait_ready()

    def destroy(self) -> None:
        for node in self.nodes.values():  # all at once: each may take its 2 s grace
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes.values():
            node.stop()
        for name in self.namespaces:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        self.namespaces.clear()

    # Cuts -------------------------------------------------------------------

    def link_down(self, path: int) -> None:
        _ip("-n", self.ns("washington"), "link", "set", f"p{path}", "down")

    def link_up(self, path: int) -> None:
        _ip("-n", self.ns("washington"), "link", "set", f"p{path}", "up")

    def blackhole(self, path: int) -> None:
        _ip("-n", self.ns("beijing"), "route", "add", "blackhole", f"10.201.{path}.1/32")

    def unblackhole(self, path: int) -> None:
        _ip("-n", self.ns("beijing"), "route", "del", "blackhole", f"10.201.{path}.1/32")
