"""Console benchmark: two real nodes on loopback and a real Chromium.

to_screen: a message sent through washington's local API (timed from the moment
the send returns, i.e. committed on washington) until its row exists in the
conversation page that beijing's duty officer has open — delivery, the SSE note
(which carries the rendered row for the link on screen) and the DOM insert — over N
sequential messages. Browser and
benchmark read the same system clock.

conversation_load: the conversation view of a link holding 10,000 messages,
from navigation start to the load event, over M loads (the page shows the newest
50 and pages back with a cursor).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from playwright.sync_api import Page, sync_playwright

from bench.stats import summary
from hotline.demo import RunningNode, add_demo_accounts, create_node, link_nodes, start_node
from hotline.node.delivery.outgoing import Outgoing
from hotline.node.home import NodeHome
from hotline.node.service import Node

LINK = "bench"
CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# Records, in the page, the wall-clock time at which each message row appears.
OBSERVER = """
window.__seen = {};
new MutationObserver((changes) => {
  const at = performance.timeOrigin + performance.now();
  for (const change of changes) for (const node of change.addedNodes) {
    if (node.nodeType === 1 && node.matches("article.msg") && !(node.dataset.id in window.__seen)) {
      window.__seen[node.dataset.id] = at;
    }
  }
}).observe(document.getElementById("messages"), { childList: true });
"""
# Records, in the page, when each message's "acknowledged" rung first shows done.
ACK_OBSERVER = """
window.__acked = {};
new MutationObserver((changes) => {
  const at = performance.timeOrigin + performance.now();
  for (const change of changes) for (const node of change.addedNodes) {
    if (node.nodeType === 1 && node.matches("article.msg")
        && node.querySelector("[data-rung=acknowledged].done")
        && !(node.dataset.id in window.__acked)) {
      window.__acked[node.dataset.id] = at;
    }
  }
}).observe(document.getElementById("messages"), { childList: true });
"""
# Records, in the page, when each acknowledge button is clicked.
CLICK_OBSERVER = """
window.__clicked = {};
document.addEventListener("click", (event) => {
  const article = event.target.closest("article.msg");
  if (article) window.__clicked[article.dataset.id] = performance.timeOrigin + performance.now();
}, true);
"""
SEARCHES = ("logistics", "Backlog message 4242:", "message 77", "no such words", "后勤", "ROUTINE")


def prefill(home: NodeHome, count: int) -> None:
    """``count`` messages committed on washington before the nodes start (group commits)."""
    node = Node(home)
    try:
        for start in range(0, count, 500):
            batch = [
                Outgoing(LINK, {"text": f"Backlog message {i}: routine logistics.", "lang": "en"})
                for i in range(start, min(count, start + 500))
            ]
            node.send_many(batch)
    finally:
        node.close()


def log_in(page: Page, node: RunningNode, password: str) -> None:
    page.goto(f"{node.local_url}/login")
    page.fill("input[name=username]", "duty")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{node.local_url}/")


def wait_delivered(client: httpx.Client, count: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status = client.get("/api/v1/status").json()
        if all(link.get("outbox_depth", 1) == 0 for link in status.get("links", [])):
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"{count} messages not delivered within {timeout} s")


def measure(nodes: dict[str, RunningNode], passwords: dict[str, str], args: Any) -> dict[str, Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # Conversation view with the backlog, on washington's console.
            loader = browser.new_page()
            log_in(loader, nodes["washington"], passwords["washington"])
            loads = []
            rows = 0
            for _ in range(args.loads):
                loader.goto(f"{nodes['washington'].local_url}/links/{LINK}")
                timing = loader.evaluate(
                    "(() => { const t = performance.getEntriesByType('navigation')[0];"
                    " return [t.responseStart - t.startTime, t.loadEventEnd - t.startTime]; })()"
                )
                loads.append((float(timing[0]), float(timing[1])))
                rows = loader.locator("article.msg").count()
            # Live arrival on beijing's console.
            screen = browser.new_page()
            log_in(screen, nodes["beijing"], passwords["beijing"])
            screen.goto(f"{nodes['beijing'].local_url}/links/{LINK}")
            screen.wait_for_selector("#live[data-state=on]")
            screen.evaluate(OBSERVER)
            to_screen = []
            with nodes["washington"].client() as client:
                for i in range(args.warmup + args.messages):
                    response = client.post(
                        f"/api/v1/links/{LINK}/messages",
                        json={"text": f"Live message {i}", "lang": "en"},
                    )
                    response.raise_for_status()
                    committed = time.time() * 1000
                    message_id = response.json()["id"]
                    screen.wait_for_selector(f"#m-{message_id}", state="attached")
                    seen = float(screen.evaluate(f"window.__seen['{message_id}']"))
                    if i >= args.warmup:
                        to_screen.append(seen - committed)
            acks = ack_in_place(nodes, screen, browser, passwords, args.acks)
            searches = search_times(loader, nodes["washington"], args.searches)
        finally:
            browser.close()
    return {
        "to_screen_ms": summary(to_screen),
        "ack_in_place_ms": summary(acks),
        "search_ms": summary(searches),
        "conversation_load_ms": summary([total for _, total in loads]),
        "conversation_first_byte_ms": summary([first for first, _ in loads]),
        "conversation": {"messages_on_link": args.backlog, "rows_rendered": rows},
    }


def ack_in_place(
    nodes: dict[str, RunningNode], screen: Page, browser: Any, passwords: dict[str, str], count: int
) -> list[float]:
    """Beijing acknowledges on its open page; washington's open page shows the rung."""
    watcher = browser.new_page()
    log_in(watcher, nodes["washington"], passwords["washington"])
    watcher.goto(f"{nodes['washington'].local_url}/links/{LINK}")
    watcher.wait_for_selector("#live[data-state=on]")
    watcher.evaluate(ACK_OBSERVER)
    screen.goto(f"{nodes['beijing'].local_url}/links/{LINK}")
    screen.wait_for_selector("#live[data-state=on]")
    screen.evaluate(CLICK_OBSERVER)
    waiting = screen.locator("#messages article.msg[data-needs='1']").evaluate_all(
        "(all) => all.map((a) => a.dataset.id)"
    )
    times = []
    for message_id in list(reversed(waiting))[:count]:
        screen.click(f"#m-{message_id} button.ack")
        watcher.wait_for_selector(
            f"#m-{message_id} [data-rung=acknowledged].done", state="attached"
        )
        clicked = float(screen.evaluate(f"window.__clicked['{message_id}']"))
        shown = float(watcher.evaluate(f"window.__acked['{message_id}']"))
        times.append(shown - clicked)
    return times


def search_times(page: Page, node: RunningNode, count: int) -> list[float]:
    times = []
    for i in range(count):
        query = SEARCHES[i % len(SEARCHES)]
        page.goto(f"{node.local_url}/links/{LINK}/search?q={quote(query)}")
        timing = page.evaluate(
            "(() => { const t = performance.getEntriesByType('navigation')[0];"
            " return t.loadEventEnd - t.startTime; })()"
        )
        times.append(float(timing))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=30)
    parser.add_argument("--acks", type=int, default=40)
    parser.add_argument("--searches", type=int, default=60)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(json.dumps({"error": f"Chromium not found at {CHROMIUM}"}))
        return 2
    base = Path(tempfile.mkdtemp(prefix="hotline-bench-console-"))
    homes = {p: create_node(base, p) for p in ("washington", "beijing")}
    link_nodes(homes["washington"], homes["beijing"], LINK, "benchmark", base)
    passwords = {
        party: next(a.password for a in add_demo_accounts(home) if a.username == "duty")
        for party, home in homes.items()
    }
    started = time.monotonic()
    prefill(homes["washington"], args.backlog)
    prefill_s = time.monotonic() - started
    # A node with the backlog takes longer to start on a busy machine.
    nodes = {p: start_node(homes[p], base / f"{p}.log", timeout_s=180) for p in homes}
    try:
        with nodes["washington"].client() as client:
            delivered_s = wait_delivered(client, args.backlog, 900)
        result = measure(nodes, passwords, args)
        result["setup"] = {
            "backlog_committed_s": round(prefill_s, 1),
            "backlog_delivered_s": round(delivered_s, 1),
            "storage": "SQLite WAL, synchronous=FULL",
            "cpus": os.cpu_count(),
        }
        print(json.dumps(result))
        return 0
    finally:
        for node in nodes.values():
            node.stop()


if __name__ == "__main__":
    sys.exit(main())
