"""Every page of the console on phones (360 x 740, 390 x 844), a desk (1280 x 800)
and a wall display (2560 x 1440), in English (Washington) and Chinese (Beijing),
light and dark: nothing wider than the
screen, and axe-core (served from this repository, tests/vendor) finds no serious
or critical accessibility violation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import screenshot
from tests.harness import LINK, Cluster, NodeHandle, send, wait_until
from tests.web.test_console_browser import Desks
from tests.web.test_console_browser import launched_browser as launched_browser

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent.parent / "vendor" / "axe-core" / "axe.min.js"
SIZES = {"small-phone": (360, 740), "phone": (390, 844), "desk": (1280, 800), "wall": (2560, 1440)}
# Every size once and both themes twice, for each party (the themes share the layout).
LOOKS = [
    ("phone", "dark"),
    ("desk", "light"),
    ("small-phone", "light"),
    ("wall", "dark"),
]
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3)
      .map((n) => n.target.join(" ") + " :: " + n.failureSummary) }));
}"""


@pytest.fixture(scope="module")
def desks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desks]:
    """One pair of nodes for the module, with traffic both ways in both languages."""
    with Cluster(tmp_path_factory.mktemp("screens"), lambda _: None) as cluster:
        made = Desks(cluster)
        washington, beijing = cluster.nodes
        with washington.client() as client:
            for i in range(3):
                send(client, f"Request for information {i}: who operates the balloon?")
        with beijing.client() as client:
            send(client, "已收到贵方来文，正在研究中。")
            send(client, "该飞艇为民用气象研究飞艇，因不可抗力偏离航线。")
        for handle in cluster.nodes:
            wait_until(lambda h=handle: _outbox_empty(h), what="traffic delivered")
        yield made
        assert made.violations == [], "the console broke its own Content-Security-Policy"


def _outbox_empty(handle: NodeHandle) -> bool:
    with handle.client() as client:
        links = client.get("/api/v1/status").json().get("links", [])
    return all(link.get("outbox_depth", 1) == 0 for link in links)


def pages_of(handle: NodeHandle) -> list[tuple[str, str]]:
    base = handle.local_url
    return [
        ("board", f"{base}/"),
        ("conversation", f"{base}/links/{LINK}"),
        ("needs-action", f"{base}/links/{LINK}?show=action"),
        ("search", f"{base}/links/{LINK}/search?q=balloon"),
        ("search-zh", f"{base}/links/{LINK}/search?q=%E6%B0%94%E8%B1%A1"),
        ("calls", f"{base}/links/{LINK}/calls"),
        ("stats", f"{base}/links/{LINK}/stats"),
        ("forbidden", f"{base}/audit"),  # the duty officer may not read the audit log
        ("not-found", f"{base}/links/no-such-link"),
    ]


def check(page: Page, name: str, width: int) -> list[str]:
    """What is wrong with the page as it stands: too wide, or axe's findings."""
    problems = []
    scroll_width = int(page.evaluate("document.documentElement.scrollWidth"))
    if scroll_width > width:
        problems.append(f"{name}: {scroll_width} px wide on a {width} px screen")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    problems.extend(f"{name}: {json.dumps(v, ensure_ascii=False)}" for v in found)
    return problems


@pytest.mark.parametrize(("size", "scheme"), LOOKS)
@pytest.mark.parametrize("party", ["washington", "beijing"])
def test_every_page_fits_and_passes_axe(
    desks: Desks, launched_browser: Browser, party: str, size: str, scheme: str
) -> None:
    handle = next(h for h in desks.cluster.nodes if h.party == party)
    width, height = SIZES[size]
    locale = "zh-CN" if party == "beijing" else "en-US"
    context = launched_browser.new_context(
        viewport={"width": width, "height": height}, locale=locale, color_scheme=scheme
    )
    try:
        page = context.new_page()
        page.goto(f"{handle.local_url}/login")
        problems = check(page, "login", width)
        desks.log_in(page, handle, "duty")
        for name, url in pages_of(handle):
            page.goto(url)
            page.wait_for_load_state("load")
            problems.extend(check(page, name, width))
            if name in ("board", "conversation"):
                screenshot(page, f"{name}-{party}-{size}-{scheme}")
        # The console's own Chinese font, served by the node (no CDN), with its licence.
        loaded = page.evaluate(
            "document.fonts.load('16px \"Hotline Noto Sans SC\"', '值班员').then((f) => f.length)"
        )
        assert loaded == 1
        licence = page.request.get(f"{handle.local_url}/static/fonts/LICENSE-NotoSansCJK.txt")
        assert licence.ok and "Open Font License" in licence.text()
        # The audit log, for the supervisor.
        supervisor = context.new_page()
        desks.log_in(supervisor, handle, "supervisor")
        supervisor.goto(f"{handle.local_url}/audit")
        problems.extend(check(supervisor, "audit", width))
    finally:
        context.close()
    assert problems == []
