"""The console at 3 a.m.: nothing that needs a person goes unnoticed, and nothing
is signed that a person did not do (issue 17, part A).

Real Chromium against two real nodes: Washington's console in English, Beijing's
in Chinese, on a phone (390 x 844) and a desk screen (1280 x 800).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from hotline.node.desk.desk import Desk
from hotline.node.people import Person
from hotline.storage.people_models import Call
from tests.browser import screenshot
from tests.harness import LINK, Cluster, NodeHandle, send, wait_until
from tests.web.test_console_browser import BEEPED, TIMEOUT_MS, Desks
from tests.web.test_console_browser import browser as browser
from tests.web.test_console_browser import launched_browser as launched_browser

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 800}
# How long a negative check ("nothing was marked") watches: several times the
# console's one-second dwell.
QUIET_MS = 3_000

# A tab in the background of a window that is not focused, as the page sees it:
# the same two browser APIs a real background tab answers.
BACKGROUND_TAB = """
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true, get() { return window.__foreground ? "visible" : "hidden"; } });
Object.defineProperty(Document.prototype, "hidden", {
  configurable: true, get() { return !window.__foreground; } });
Document.prototype.hasFocus = function () { return Boolean(window.__foreground); };
"""


@pytest.fixture
def desks(tmp_path: Path) -> Iterator[Desks]:
    with Cluster(tmp_path, lambda _: None) as cluster:
        made = Desks(cluster)
        yield made
    assert made.violations == [], "the console broke its own Content-Security-Policy"


EVENT_STREAM = "**/console/events?*"


def request_call(handle: NodeHandle, topic: str, ring_ms: int = 60_000) -> str:
    """A call from this side's duty officer, as the console would ask for it."""
    with closing(handle.node()) as node:
        officer = Person("caller", f"{handle.party.title()} caller", "duty_officer")
        link = node.find_link(LINK)
        return Desk(node).request_call(link.id, officer, topic=topic, ring_ms=ring_ms).id


def send_emergency(handle: NodeHandle, text: str) -> str:
    """An emergency on the link's agreed criterion, approved by a second operator."""
    with closing(handle.node()) as node:
        desk = Desk(node)
        asks = Person("asks", f"{handle.party.title()} officer", "duty_officer")
        approves = Person("approves", f"{handle.party.title()} supervisor", "supervisor")
        activation = desk.activate_emergency(
            LINK, asks, criterion="airspace-object", justification="Balloon", text=text
        )
        if activation.message_id is None:
            activation = desk.decide_emergency(activation.id, approves, approve=True)
        assert activation.message_id is not None
        return activation.message_id


def call_row(handle: NodeHandle, call_id: str) -> Call | None:
    with closing(handle.node()) as node, node.reading() as session:
        return session.get(Call, call_id)


def send_many(handle: NodeHandle, texts: list[str]) -> None:
    with handle.client() as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda text: send(client, text), texts))


def displayed_ids(handle: NodeHandle) -> set[str]:
    with closing(handle.node()) as node:
        return {
            m.id
            for m in node.messages(LINK, direction="in", limit=100_000)
            if m.displayed_ms is not None
        }


def inbound_count(handle: NodeHandle) -> int:
    with closing(handle.node()) as node:
        return len(node.messages(LINK, direction="in", limit=100_000))


def on_screen(page: Page) -> set[str]:
    """Incoming messages inside the window, even in part. (A row marked displayed
    grows by its receipt's line, which moves the rows under it down a little: the
    half-on-screen rule is the page's, this is the test's outer bound.)"""
    found = page.evaluate(
        """() => Array.from(document.querySelectorAll("article.msg-in")).filter((m) => {
             const r = m.getBoundingClientRect();
             return r.bottom > 0 && r.top < innerHeight;
           }).map((m) => m.dataset.id)"""
    )
    return set(found)


def test_displayed_only_for_messages_on_screen_in_a_focused_window(
    desks: Desks, browser: Browser
) -> None:
    """500 messages arrive; a background tab marks none of them, and the console in
    front marks exactly those a person could see, no others."""
    washington, beijing = desks.cluster.nodes
    send_many(washington, [f"Situation report {n}" for n in range(500)])
    send_many(beijing, [f"情况通报 {n}" for n in range(20)])
    wait_until(lambda: inbound_count(beijing) == 500, timeout=120, what="500 messages")
    wait_until(lambda: inbound_count(washington) == 20, timeout=60, what="20 messages")

    # Washington's console (English) in a background tab: nothing is marked.
    hidden_context = browser.new_context(locale="en-US", viewport=DESK)
    hidden_context.add_init_script(BACKGROUND_TAB)
    hidden = hidden_context.new_page()
    desks.log_in(hidden, washington, "duty")
    desks.open_link(hidden, washington)
    assert hidden.locator("article.msg-in").count() == 20
    hidden.locator("article.msg-in").last.scroll_into_view_if_needed()
    assert on_screen(hidden)
    hidden.wait_for_timeout(QUIET_MS)
    assert displayed_ids(washington) == set()
    # Brought to the front: what is on screen is marked, once seen for a moment.
    hidden.evaluate(
        "window.__foreground = true; document.dispatchEvent(new Event('visibilitychange'))"
    )
    wait_until(lambda: bool(displayed_ids(washington)), what="displayed after focus")
    hidden.wait_for_timeout(QUIET_MS)
    assert displayed_ids(washington) <= on_screen(hidden)

    # Beijing's console (Chinese) on a phone, in front: only what is on screen.
    phone = browser.new_page(locale="zh-CN", viewport=PHONE)
    desks.log_in(phone, beijing, "duty")
    desks.open_link(phone, beijing)
    rendered = phone.locator("article.msg-in").count()
    assert rendered > 1
    wait_until(lambda: bool(displayed_ids(beijing)), what="displayed on the phone")
    phone.wait_for_timeout(QUIET_MS)
    marked = displayed_ids(beijing)
    visible = on_screen(phone)
    assert marked and marked <= visible, (len(marked), len(visible))
    assert len(marked) < rendered < 500
    # The rows say so too, in Chinese, and the others still wait.
    phone.reload()
    phone.wait_for_selector("#live[data-state=on]", timeout=TIMEOUT_MS)
    assert phone.locator("article.msg-in[data-displayed='1']").count() == len(marked)
    screenshot(phone, "displayed-on-screen-beijing-zh-phone")
    # Scrolling the next message into view marks it after the dwell, not before.
    unseen = phone.locator("article.msg-in[data-displayed='0']").first
    unseen_id = unseen.get_attribute("data-id")
    assert unseen_id and unseen_id not in marked
    unseen.scroll_into_view_if_needed()
    wait_until(lambda: unseen_id in displayed_ids(beijing), what="the scrolled-to message")


def test_a_dead_stream_is_loud_the_console_polls_and_calls_still_ring(
    desks: Desks, browser: Browser
) -> None:
    """Both consoles lose their event stream (every attempt refused on the way): a
    banner says so at once and how long ago the node was last heard; the page
    polls instead, so a call still rings, on the board and on a 403 page, with the
    tab's title and icon counting it; a missed call stays until someone saw it."""
    washington, beijing = desks.cluster.nodes
    w = browser.new_page(locale="en-US", viewport=DESK)
    b = browser.new_page(locale="zh-CN", viewport=PHONE)
    w.goto(f"{washington.local_url}/login")
    assert w.locator("#live").count() == 0  # no "Live updates: …" before anyone signs in
    for page, handle in ((w, washington), (b, beijing)):
        page.route(EVENT_STREAM, lambda route: route.abort())
        desks.log_in(page, handle, "duty")
    for page in (w, b):
        banner = page.locator("#connection[data-state=polling]")
        banner.wait_for(timeout=TIMEOUT_MS)
        assert page.locator("#live[data-state=on]").count() == 0
    assert "Connection lost" in w.locator("#connection").inner_text()
    assert "Checking every 5 s" in w.locator("#connection").inner_text()
    assert "连接中断" in b.locator("#connection").inner_text()
    assert b.title().startswith("线路总览")

    # A call rings Beijing's phone through the fallback: alarm, tone, title, icon.
    call_id = request_call(washington, "Balloon over Montana", ring_ms=6_000)
    b.locator("#callbar [data-ringing-in]").wait_for(timeout=TIMEOUT_MS)
    assert b.locator("#alarm").is_visible()
    b.locator(BEEPED).wait_for(state="attached", timeout=TIMEOUT_MS)
    assert b.title().startswith("(1) 1 振铃中")
    icon = b.locator("#favicon").get_attribute("href") or ""
    assert icon.startswith("data:image/png;base64,")
    assert b.locator("#connection").is_visible()
    screenshot(b, "dead-stream-ringing-beijing-zh-phone")

    # Nobody answers: the missed call stays on the board and in the bar until seen.
    b.locator(f"#callbar [data-missed-call='{call_id}']").wait_for(timeout=TIMEOUT_MS)
    b.reload()
    missed = b.locator(f"#callbar [data-missed-call='{call_id}']")
    assert "未接来电" in missed.inner_text()
    assert b.locator("td.missed[data-missed='1']").count() == 1
    assert "未接来电" in b.locator("table.board thead").inner_text()
    missed.locator("button").click()
    b.wait_for_url(f"{beijing.local_url}/")
    assert b.locator("[data-missed-call]").count() == 0
    assert b.locator("td.missed[data-missed]").count() == 0
    seen = call_row(beijing, call_id)
    assert seen is not None and seen.seen_by == "Beijing duty officer (duty officer)"

    # Washington's duty officer on a page refused to them (the audit log): the
    # navigation stays, and a call rings there too, with the stream still dead.
    refused = w.goto(f"{washington.local_url}/audit")
    assert refused is not None and refused.status == 403
    assert w.locator("nav a[href='/']").count() == 1
    w.locator("#connection[data-state=polling]").wait_for(timeout=TIMEOUT_MS)
    request_call(beijing, "气球")
    w.locator("#callbar [data-ringing-in]").wait_for(timeout=TIMEOUT_MS)
    assert w.locator("#alarm").is_visible()
    w.locator(BEEPED).wait_for(state="attached", timeout=TIMEOUT_MS)
    assert w.title().startswith("(1) 1 ringing")
    screenshot(w, "dead-stream-ringing-on-403-washington-en")

    # The stream comes back: the banner goes by itself.
    w.unroute(EVENT_STREAM)
    w.locator("#live[data-state=on]").wait_for(timeout=TIMEOUT_MS)
    w.locator("#connection").wait_for(state="hidden", timeout=TIMEOUT_MS)


# Stand-ins for the desktop's notifications (which a headless browser cannot show):
# they record what the page asked to show, with the permission already granted.
NOTIFICATIONS = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push({ title, body: (options || {}).body || "" }); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
  close() {}
};
"""


def luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(page: Page, selector: str) -> float:
    """The WCAG contrast of an element's text against its own background."""
    found: list[str] = []

    def read() -> bool:
        # A live refresh may replace the element while it is read: read it again.
        colours = page.locator(selector).first.evaluate(
            "(e) => { if (!e.isConnected) return null;"
            " const s = getComputedStyle(e); return [s.color, s.backgroundColor]; }"
        )
        if not colours or not all(colours):
            return False
        found[:] = colours
        return True

    wait_until(read, what=f"the colours of {selector}")
    light, dark = sorted((luminance(c) for c in found), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_deadlines_follow_the_policy_principals_hear_of_replies_and_ladders_are_compact(
    desks: Desks, browser: Browser
) -> None:
    from hotline.demo import agree_policy

    washington, beijing = desks.cluster.nodes
    with washington.client() as w_api, beijing.client() as b_api:
        agree_policy(w_api, b_api, LINK)
        question = send(w_api, "Please explain the object's purpose.")
    emergency = {"id": send_emergency(washington, "A balloon of yours is over Montana.")}
    wait_until(lambda: inbound_count(beijing) == 2, what="both messages")

    # Beijing's duty officer on a phone: the emergency's holding reply offers the
    # policy's hour by default, not a day, and the acknowledgement's deadline shows.
    duty = browser.new_page(locale="zh-CN", viewport=PHONE)
    desks.log_in(duty, beijing, "duty")
    desks.open_link(duty, beijing)
    urgent = duty.locator(f"#m-{emergency['id']}")
    assert urgent.locator("select[name=minutes]").input_value() == "60"
    assert "按政策要求" in urgent.locator("select[name=minutes] option:checked").inner_text()
    assert "5 分钟" in urgent.locator(".due").inner_text()
    routine = duty.locator(f"#m-{question['id']}")
    assert routine.locator("select[name=minutes]").input_value() == str(7 * 24 * 60)

    # A reply that needs a principal: the principal's console, in a background tab,
    # says so in the attention bar, in the tab's title and on the desktop.
    principal_context = browser.new_context(locale="zh-CN", viewport=DESK)
    principal_context.add_init_script(BACKGROUND_TAB + NOTIFICATIONS)
    principal = principal_context.new_page()
    desks.log_in(principal, beijing, "principal")
    routine.locator("button.reply").click()
    duty.fill("#compose textarea", "该飞艇为民用气象研究飞艇。")
    duty.click("#compose button.send")
    duty.wait_for_selector(".draft-awaiting_approval", timeout=TIMEOUT_MS)
    assert contrast(duty, ".draft-awaiting_approval .badge") >= 4.5
    waiting = principal.locator("#callbar [data-reply-approval]")
    waiting.wait_for(timeout=TIMEOUT_MS)
    assert "等待您审批" in waiting.inner_text()
    assert "待审批" in principal.title()
    notes = principal.evaluate("window.__notes")
    # The unacknowledged emergency was announced once when the tab opened; the
    # reply now, once.
    assert [n["title"] for n in notes] == ["紧急", "等待您审批"], notes
    assert "defence" in notes[1]["body"]
    screenshot(principal, "reply-awaiting-approval-beijing-zh")
    waiting.locator("a.button").click()
    principal.click(".draft-awaiting_approval button[value=approve]")

    # The emergency acknowledged with the policy's hour; Beijing's duty officer sees
    # the deadline in local time and UTC.
    urgent.locator("button.ack").click()
    duty.wait_for_selector(f"#m-{emergency['id']} .respond-by", timeout=TIMEOUT_MS)
    assert "UTC" in duty.locator(f"#m-{emergency['id']} .respond-by").inner_text()

    # Washington's console (English, desk): the answer names the person and the
    # message it answers by number; the ladder is one compact line of ticks.
    w = browser.new_page(locale="en-US", viewport=DESK)
    desks.log_in(w, washington, "duty")
    desks.open_link(w, washington)
    answer = w.locator("article.msg-in:has-text('该飞艇为民用气象研究飞艇')")
    answer.wait_for(timeout=TIMEOUT_MS)
    header = answer.locator("header").inner_text()
    assert "Beijing duty officer (duty officer)" in header
    assert f"in reply to #{question['seq']}" in header
    sent = w.locator(f"#m-{question['id']}")
    sent.locator("[data-rung=answered].done").wait_for(timeout=TIMEOUT_MS)
    ladder = sent.locator("ol.ladder")
    rung = sent.locator("[data-rung=transmitted]")
    screenshot(w, "compact-ladder-washington-en")
    assert ladder.bounding_box()["height"] < 2 * rung.bounding_box()["height"]  # type: ignore[index]
    assert rung.inner_text().startswith("✓")
    assert "UTC" in (rung.get_attribute("title") or "")
    assert "not yet" in sent.locator("[data-rung=acknowledged]").inner_text()
    assert contrast(w, f"#m-{question['id']} .rung.done") >= 4.5
    assert contrast(w, f"#m-{question['id']} .rung.waiting") >= 4.5
    sent.locator("details.times summary").click()
    assert "UTC" in sent.locator("details.times dl").inner_text()
    held = w.locator(f"#m-{emergency['id']} .holding")
    held.wait_for(timeout=TIMEOUT_MS)
    assert "Respond by" in held.inner_text() and "UTC" in held.inner_text()
    screenshot(w, "compact-ladder-washington-en")
