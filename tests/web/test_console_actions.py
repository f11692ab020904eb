"""Actions first, in real Chromium against two real nodes, on a phone (390 x 844)
and a desk (1280 x 800): the conversation opens at the first message that needs
the operator, acknowledging one or many happens in place (no reload, no jump to the
top), "next unanswered" and the filter reach every unanswered message however many
arrive, search finds English and Chinese text in the database, and the main actions
have keyboard shortcuts listed on the page."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser import screenshot
from tests.harness import LINK, send
from tests.web.test_console_browser import Desks, kept, mark
from tests.web.test_console_browser import browser as browser
from tests.web.test_console_browser import desks as desks
from tests.web.test_console_browser import launched_browser as launched_browser
from tests.web.test_console_browser import sqlite_desks as sqlite_desks

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
SIZES = {"phone": (390, 844), "desk": (1280, 800)}
BACKLOG = 60  # more than a page (50): ten unanswered would fall onto "older"


def open_page(browser: Browser, size: str, locale: str) -> Page:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    return context.new_page()


def send_backlog(client: httpx.Client, count: int, text: str = "Routine report {i}") -> list[str]:
    return [send(client, text.format(i=i))["id"] for i in range(1, count + 1)]


def wait_for(what: str, check: object, timeout_s: float = 20) -> None:
    """Poll ``check`` (a callable) from Python: the console's policy forbids the page
    evaluating strings, which ``wait_for_function`` would need."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def focused_id(page: Page) -> str | None:
    value = page.evaluate("document.activeElement && document.activeElement.dataset.id")
    return str(value) if value else None


def in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    height = page.viewport_size["height"] if page.viewport_size else 800
    return box is not None and box["y"] + box["height"] > 0 and box["y"] < height


def backlog_on_beijing(
    desks: Desks, browser: Browser, size: str, locale: str
) -> tuple[list[str], Page]:
    """Washington sends BACKLOG messages; Beijing's duty officer opens the link once
    the board counts them all. Their ids, oldest first, and the page."""
    washington, beijing = desks.cluster.nodes
    with washington.client() as client:
        ids = send_backlog(client, BACKLOG)
    page = open_page(browser, size, locale)
    desks.log_in(page, beijing, "duty")
    wait_for("the backlog to arrive", lambda: _unanswered_on_board(page) == BACKLOG)
    desks.open_link(page, beijing)
    return ids, page


@pytest.mark.parametrize("size", list(SIZES))
def test_opens_at_first_unanswered_and_acknowledges_in_place(
    sqlite_desks: Desks, browser: Browser, size: str
) -> None:
    washington = sqlite_desks.cluster.washington
    ids, b = backlog_on_beijing(sqlite_desks, browser, size, "zh-CN")

    # The oldest unanswered message (which a 50-message page would leave on "older")
    # is on the first screen, focused, and the page says how many wait.
    assert b.locator(f"#waiting #m-{ids[0]}[data-needs='1']").count() == 1
    assert focused_id(b) == ids[0]
    assert in_view(b, f"#m-{ids[0]}")
    assert str(BACKLOG) in b.locator("#needs-count").inner_text()
    assert "条消息待处理" in b.locator("#needs-count").inner_text()
    assert b.locator("#shortcuts").count() == 1  # the shortcuts are listed
    screenshot(b, f"actions-first-beijing-zh-{size}")

    # Acknowledge in place: no reload, the row turns done, focus moves on to the
    # next one that needs action, and the page did not jump to the top.
    b.click(f"#m-{ids[0]} button.ack")
    b.wait_for_selector(f"#m-{ids[0]}:not([data-needs])", timeout=TIMEOUT_MS)
    b.wait_for_selector(f"#m-{ids[0]} [data-rung=acknowledged].done", timeout=TIMEOUT_MS)
    assert kept(b)
    wait_for("focus on the next", lambda: focused_id(b) == ids[1])
    assert in_view(b, f"#m-{ids[1]}")
    assert str(BACKLOG - 1) in b.locator("#needs-count").inner_text()

    # Keyboard: "a" acknowledges the current message, "n" goes to the next unanswered.
    b.keyboard.press("a")
    b.wait_for_selector(f"#m-{ids[1]}:not([data-needs])", timeout=TIMEOUT_MS)
    wait_for("focus on the third", lambda: focused_id(b) == ids[2])
    b.keyboard.press("n")
    assert focused_id(b) == ids[3]
    b.keyboard.press("k")
    assert focused_id(b) == ids[2]
    assert kept(b)

    # All the rest at once, with one holding reply.
    b.check("#pick-all")
    b.select_option("#bulk select[name=hours]", "4")
    b.click("#bulk button.ack-many")
    b.wait_for_selector("#needs-count[data-total='0']", timeout=TIMEOUT_MS * 2)
    assert b.locator("article.msg[data-needs]").count() == 0
    assert "没有待处理" in b.locator("#needs-count").inner_text()
    assert kept(b)
    holding = b.locator(f"#m-{ids[-1]} .holding").inner_text()
    assert "已收到" in holding

    # Washington's ladder shows every one acknowledged, and nothing waits there.
    w = open_page(browser, size, "en-US")
    sqlite_desks.log_in(w, washington, "duty")
    sqlite_desks.open_link(w, washington)
    done = "article.msg-out [data-rung=acknowledged].done"
    wait_for("Washington's ladder", lambda: w.locator(done).count() == 50)
    assert "Nothing needs action" in w.locator("#needs-count").inner_text()


def _unanswered_on_board(page: Page) -> int:
    page.goto(page.url)
    cell = page.locator("[data-unanswered]").first
    return int(cell.get_attribute("data-unanswered") or 0) if cell.count() else 0


@pytest.mark.parametrize("size", list(SIZES))
def test_filter_pages_through_every_unanswered(
    sqlite_desks: Desks, browser: Browser, size: str
) -> None:
    ids, w = backlog_on_beijing(sqlite_desks, browser, size, "en-US")
    w.click("#filter-action")
    w.wait_for_url("**?show=action")
    shown = w.locator("#messages article.msg").evaluate_all("(all) => all.map((a) => a.dataset.id)")
    assert shown == ids[:50]  # oldest first
    w.click("a[href*='cursor=']")
    shown = w.locator("#messages article.msg").evaluate_all("(all) => all.map((a) => a.dataset.id)")
    assert shown == ids[50:]
    # "Next unanswered" past the last one on the page wraps to the first.
    mark(w)
    assert focused_id(w) == ids[50]
    for expected in [*ids[51:], ids[50]]:
        w.click("#next-unanswered")
        assert focused_id(w) == expected
    assert kept(w)


def test_reply_and_approval_in_place(sqlite_desks: Desks, browser: Browser) -> None:
    washington, beijing = sqlite_desks.cluster.nodes
    with washington.client() as client:
        (question,) = send_backlog(client, 1, "Please explain the object's purpose.")
    duty = open_page(browser, "phone", "zh-CN")
    principal = open_page(browser, "desk", "zh-CN")
    sqlite_desks.log_in(duty, beijing, "duty")
    sqlite_desks.log_in(principal, beijing, "principal")
    sqlite_desks.open_link(duty, beijing)
    sqlite_desks.open_link(principal, beijing)
    duty.wait_for_selector(f"#m-{question}", timeout=TIMEOUT_MS)
    duty.keyboard.press("r")  # the page opened at the question: reply to it
    duty.fill("#compose textarea", "该飞艇为民用飞艇。")
    duty.click("#compose button.send")
    duty.wait_for_selector(".draft-awaiting_approval", timeout=TIMEOUT_MS)
    assert "批准" in duty.locator("#action-status").inner_text()
    assert kept(duty)
    principal.wait_for_selector(".draft-awaiting_approval", timeout=TIMEOUT_MS)
    principal.click(".draft-awaiting_approval button[value=approve]")
    principal.wait_for_selector(f"#m-{question} [data-rung=answered].done", timeout=TIMEOUT_MS)
    assert principal.locator(".draft-awaiting_approval").count() == 0
    assert kept(principal)
    duty.wait_for_selector(f"#m-{question} [data-rung=answered].done", timeout=TIMEOUT_MS)
    assert kept(duty)

    # In Chinese: the people in receipts with their role from its code, the audit
    # log's actions and details from the catalogue (no codes, no JSON), full-width
    # colons.
    # "Displayed" is signed once the message has been on a screen in a focused window
    # for a moment (displayed.js), not when it is rendered: the duty officer's, or the
    # principal's (both had it open), whoever saw it first.
    duty.bring_to_front()
    duty.wait_for_selector(f"#m-{question} [data-rung=displayed].done", timeout=TIMEOUT_MS)
    ladder = duty.locator(f"#m-{question} [data-rung=displayed]").inner_text()
    assert re.search(r"Beijing (duty officer（值班员）|principal（负责人）)", ladder), ladder
    assert "(duty officer)" not in ladder and "(principal)" not in ladder
    supervisor = open_page(browser, "phone", "zh-CN")
    sqlite_desks.log_in(supervisor, beijing, "supervisor")
    supervisor.goto(f"{beijing.local_url}/audit")
    audit = supervisor.locator("table.audit tbody").inner_text()
    assert "批准答复" in audit and "撰写消息" in audit and "登录" in audit
    for code in ("draft.approve", "message.compose", "login", "{", '"'):
        assert code not in audit, code
    assert supervisor.locator("td.action[data-code='draft.approve']").count() == 1


def test_search_finds_english_and_chinese_paged(desks: Desks, browser: Browser) -> None:
    """On SQLite and PostgreSQL: the server searches the link's messages."""
    washington, beijing = desks.cluster.nodes
    with washington.client() as client:
        send_backlog(client, 25, "Weather balloon report {i}")
        send_backlog(client, 3, "关于气球的第{i}号说明")
        send_backlog(client, 5, "Unrelated logistics {i} 100%_done")
    b = open_page(browser, "phone", "zh-CN")
    desks.log_in(b, beijing, "duty")
    wait_for("the messages to arrive", lambda: _unanswered_on_board(b) == 33)
    desks.open_link(b, beijing)
    b.keyboard.press("/")
    b.keyboard.type("气球")
    b.keyboard.press("Enter")
    b.wait_for_url("**/search?q=*")
    texts = b.locator("#results article.msg .text").all_inner_texts()
    assert texts == [f"关于气球的第{i}号说明" for i in (3, 2, 1)]  # newest first

    w = open_page(browser, "desk", "en-US")
    desks.log_in(w, washington, "duty")
    w.goto(f"{washington.local_url}/links/{LINK}/search?q=BALLOON")
    assert w.locator("#results article.msg").count() == 20
    assert "Results 1–20" in w.locator("#search-summary").inner_text()
    w.click("a[rel=next]")
    assert w.locator("#results article.msg").count() == 5
    assert w.locator("a[rel=next]").count() == 0
    # LIKE's wildcards in the query are plain characters.
    w.goto(f"{washington.local_url}/links/{LINK}/search?q=%25_d")
    assert w.locator("#results article.msg").count() == 5
    w.goto(f"{washington.local_url}/links/{LINK}/search?q=%25%25")
    assert w.locator("#results article.msg").count() == 0
    assert "No message" in w.locator("#search-summary").inner_text()
