"""Translation at the console, in real Chromium against two real nodes.

Beijing's duty officer writes in Chinese; Washington's console shows the machine draft beside the
original, live; Washington's translator verifies it from the queue; the badge changes live on
Washington's console, and Beijing's shows how it was understood, and can say it is not what
Beijing meant, which alerts Washington's translator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from hotline.demo.tiny_model import TINY_MODEL_NAME
from tests.browser import chromium, screenshot
from tests.harness import LINK, Cluster
from tests.language.test_node_translation import CHINESE, configure, models  # noqa: F401
from tests.web.test_console_browser import TIMEOUT_MS, Desks, kept, mark

pytestmark = pytest.mark.browser

VERIFIED = "We have received your message and are studying it. Please confirm receipt."


@pytest.fixture
def desks(tmp_path: Path, models: Path) -> Iterator[Desks]:  # noqa: F811
    with Cluster(tmp_path, lambda _: None) as cluster:
        configure(
            cluster.washington,
            {"reading": ["en"], "providers": [{"kind": "ctranslate2", "models": str(models)}]},
        )
        configure(cluster.beijing, {"reading": ["zh-Hans"], "providers": []})
        made = Desks(cluster)
        yield made
    assert made.violations == [], "the console broke its own Content-Security-Policy"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_a_free_text_message_is_verified_and_the_badges_change_live(
    desks: Desks, browser: Browser
) -> None:
    washington, beijing = desks.cluster.nodes
    w = browser.new_page(locale="en-US")
    translator = browser.new_page(locale="en-US")
    b = browser.new_page(locale="zh-CN")
    desks.log_in(w, washington, "duty")
    desks.log_in(translator, washington, "translator")
    desks.log_in(b, beijing, "duty")
    desks.open_link(w, washington)
    desks.open_link(b, beijing)
    translator.goto(f"{washington.local_url}/translations")
    translator.wait_for_selector("#live[data-state=on]", timeout=TIMEOUT_MS)
    assert "Nothing awaits verification." in translator.locator("#translation-queue").inner_text()

    # Beijing writes in Chinese; Washington's open page shows the machine draft beside it.
    b.fill("#compose textarea", CHINESE)
    b.click("#compose button.send")
    b.wait_for_url(re.compile(rf"/links/{LINK}$"))
    mark(b)
    message_id = b.locator("article.msg-out").last.get_attribute("data-id")
    assert message_id
    row = f"#m-{message_id}"
    draft = w.locator(f"{row} .translation [data-state=machine]")
    draft.wait_for(timeout=TIMEOUT_MS)
    assert kept(w)
    assert w.locator(f"{row} .original .text").inner_text() == CHINESE
    badge = draft.locator(".badge.machine").inner_text()
    assert "machine translation (unverified)" in badge and TINY_MODEL_NAME in badge

    # The translator's queue filled live; they correct the draft and sign it.
    item = translator.locator(f"#t-{message_id}")
    item.wait_for(timeout=TIMEOUT_MS)
    assert CHINESE in item.locator(".original").inner_text()
    assert TINY_MODEL_NAME in item.locator(".badge.machine").inner_text()
    item.locator("textarea[name=text]").fill(VERIFIED)
    item.locator("button.accept").click()
    translator.wait_for_url(re.compile(r"/translations$"))
    assert translator.locator(f"#t-{message_id}").count() == 0
    mark(translator)

    # Washington's badge changes live; Beijing sees how it was understood, in Chinese.
    verified = w.locator(f"{row} .translation [data-state=verified]")
    verified.wait_for(timeout=TIMEOUT_MS)
    assert kept(w)
    assert verified.locator(".text").inner_text() == VERIFIED
    assert "verified by Washington translator (translator)" in verified.inner_text()
    assert "after arrival" in verified.inner_text()
    understood = b.locator(f"{row} .translation [data-state=understood]")
    understood.wait_for(timeout=TIMEOUT_MS)
    assert kept(b)
    assert "对方的理解" in understood.inner_text()
    assert f"译为英文： “{VERIFIED}”" in understood.inner_text()
    screenshot(w, "translation-verified-washington-en")
    screenshot(b, "translation-understood-beijing-zh")

    # Beijing says it is not what it meant: Washington's translator is alerted, live.
    understood.locator("input[name=note]").fill("我们还请求贵方确认收到。")
    understood.locator("button").click()
    b.wait_for_url(re.compile(rf"/links/{LINK}$"))
    disputed = b.locator(f"{row} .translation .badge.disputed")
    disputed.wait_for(timeout=TIMEOUT_MS)
    assert "您已标明此译文并非本意" in disputed.inner_text()
    alert = translator.locator("#callbar [data-alert]")
    alert.wait_for(timeout=TIMEOUT_MS)
    assert "我们还请求贵方确认收到。" in alert.inner_text()
    translator.locator(f"#t-{message_id}").wait_for(timeout=TIMEOUT_MS)
    assert kept(translator)
    w.locator(f"{row} .translation .badge.disputed").wait_for(timeout=TIMEOUT_MS)
    screenshot(translator, "translation-disputed-washington-en")
