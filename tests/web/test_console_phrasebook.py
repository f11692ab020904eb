"""Agreed texts at the console, in real Chromium against two real nodes: a Beijing
officer composes from an agreed entry in Chinese (search, fill, preview, send) and
the Washington officer reads it in English marked "agreed text"; glossary terms in
a message are highlighted with both sides' definitions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from hotline.node.desk.desk import Desk
from tests.browser import chromium, screenshot
from tests.harness import LINK, Cluster, NodeHandle, send, wait_until
from tests.web.test_console_browser import TIMEOUT_MS, Desks

pytestmark = pytest.mark.browser


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def desks(tmp_path: Path) -> Iterator[Desks]:
    """SQLite: storage is covered by tests/node/test_link_language.py on both engines."""
    with Cluster(tmp_path, lambda _: None) as cluster:
        made = Desks(cluster)
        yield made
    assert made.violations == [], "the console broke its own Content-Security-Policy"


def agree(proposer: NodeHandle, acceptor: NodeHandle, document: str) -> None:
    node_p, node_a = proposer.node(), acceptor.node()
    try:
        Desk(node_p).propose_document(LINK, None, "test", name=document)
        wait_until(
            lambda: bool(Desk(node_a).document_state(LINK, document).pending), what="proposal"
        )
        Desk(node_a).accept_document(LINK, document, 1, "test")
        wait_until(
            lambda: Desk(node_p).document_state(LINK, document).current is not None,
            what=f"{document} in force at the proposer",
        )
    finally:
        node_p.close()
        node_a.close()


def test_beijing_composes_an_agreed_text_and_washington_reads_it_in_english(
    desks: Desks, browser: Browser
) -> None:
    washington, beijing = desks.cluster.nodes
    agree(washington, beijing, "phrasebook")
    agree(beijing, washington, "glossary")
    w = browser.new_page(locale="en-US")
    b = browser.new_page(locale="zh-CN")
    desks.log_in(w, washington, "duty")
    desks.log_in(b, beijing, "duty")
    desks.open_link(w, washington)
    desks.open_link(b, beijing)

    # Beijing searches in Chinese, picks the entry, and fills its typed parameter.
    b.fill("#phrase-query", "答复")
    b.click("form.phrase-search button")
    b.click("a[data-entry=holding-respond-within]")
    b.fill("input[name='p.within']", "两小时")
    b.click("#phrase-entry button[name=preview]")
    error = b.locator("[data-param=within] .field-error")
    error.wait_for(timeout=TIMEOUT_MS)
    assert error.inner_text().strip()  # in Chinese, from the catalogue
    assert b.locator("#phrase-entry button.send").count() == 0  # nothing to send yet
    b.fill("input[name='p.within']", "PT2H")
    b.click("#phrase-entry button[name=preview]")
    preview = b.locator(".phrase-preview")
    preview.wait_for(timeout=TIMEOUT_MS)
    assert "已收到。我方将在2小时内答复。" in preview.locator("[data-lang=zh-Hans]").inner_text()
    assert "Received. We will respond within 2 hours." in preview.inner_text()
    screenshot(b, "phrasebook-compose-beijing-zh")
    b.click("#phrase-entry button.send")

    # Washington's open page shows it, in English, marked as an agreed text.
    agreed = w.locator("article.msg-in p.agreed")
    agreed.wait_for(timeout=TIMEOUT_MS)
    assert agreed.inner_text().strip() == "Received. We will respond within 2 hours."
    badge = w.locator("article.msg-in .badge.agreed-text")
    assert badge.inner_text().strip() == "agreed text"
    # Beijing's own copy reads in Chinese.
    b.goto(f"{beijing.local_url}/links/{LINK}")
    assert b.locator("article.msg-out p.agreed").inner_text().strip() == (
        "已收到。我方将在2小时内答复。"
    )
    assert b.locator("article.msg-out .badge.agreed-text").inner_text().strip() == "约定文本"

    # A glossary term in a free-text message: highlighted, both definitions on hover.
    with washington.client() as client:
        send(client, "We want no <b>crisis</b> over this balloon.")
    term = b.locator("article.msg-in span.term[data-term=crisis]")
    term.wait_for(timeout=TIMEOUT_MS)
    note = term.get_attribute("title") or ""
    assert "美方" in note and "中方" in note
    assert b.locator("article.msg-in b").count() == 0  # hostile markup stays text
    assert "<b>" in b.locator("article.msg-in p.text").inner_text()
    screenshot(b, "glossary-term-beijing-zh")
    screenshot(w, "agreed-text-washington-en")
