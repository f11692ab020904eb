"""The console as people use it: real Chromium against two real nodes.

Washington's duty officer works in English, Beijing's in Chinese. Everything a
person on one side does must appear on the other side's open page without a
reload, and end up as signed entries in both records.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from hotline.demo import add_demo_accounts, agree_policy
from hotline.node.message_text import MAX_TEXT_CHARS
from hotline.protocol.kinds import Kind
from tests.browser import chromium, screenshot
from tests.harness import LINK, Cluster, NodeHandle, inbound_texts, kinds_in_record, record

pytestmark = pytest.mark.browser

# The tone's beep count, as CSS can test it (data-beeps counts up from 1).
BEEPED = "body[data-beeps]:not([data-beeps='0'])"
BEEPED_TWICE = "body[data-beeps]:not([data-beeps='0']):not([data-beeps='1'])"
TIMEOUT_MS = 15_000


class Desks:
    """Two started nodes with console accounts (duty, principal, observer on each)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.passwords: dict[tuple[str, str], str] = {}
        for handle in cluster.nodes:
            for account in add_demo_accounts(handle.home):
                self.passwords[(account.party, account.username)] = account.password
        cluster.start()
        # What the console's Content-Security-Policy blocked, on any page of the test.
        self.violations: list[str] = []

    def log_in(self, page: Page, handle: NodeHandle, username: str) -> None:
        page.on("console", self._watch)
        page.goto(f"{handle.local_url}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", self.passwords[(handle.party, username)])
        page.click("button[type=submit]")
        page.wait_for_url(f"{handle.local_url}/")

    def _watch(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(message.text)

    def open_link(self, page: Page, handle: NodeHandle) -> None:
        page.goto(f"{handle.local_url}/links/{LINK}")
        page.wait_for_selector("#live[data-state=on]", timeout=TIMEOUT_MS)
        mark(page)


def mark(page: Page) -> None:
    """Tag the loaded document; ``kept`` tells whether it is still the same one."""
    page.evaluate("window.__sameDocument = true")


def kept(page: Page) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


@pytest.fixture(scope="module")
def launched_browser() -> Iterator[Browser]:
    with chromium() as launched:  # launching costs about 2 s: once for the module
        yield launched


@pytest.fixture
def browser(launched_browser: Browser) -> Iterator[Browser]:
    """The module's browser; what a test opened in it is closed after the test."""
    yield launched_browser
    for context in launched_browser.contexts:
        context.close()


@pytest.fixture
def desks(cluster: Cluster) -> Iterator[Desks]:
    made = Desks(cluster)
    yield made
    assert made.violations == [], "the console broke its own Content-Security-Policy"


@pytest.fixture
def sqlite_desks(tmp_path: Path) -> Iterator[Desks]:
    """For the refusal tests: the storage engine is not what they are about."""
    with Cluster(tmp_path, lambda _: None) as cluster:
        made = Desks(cluster)
        yield made
    assert made.violations == [], "the console broke its own Content-Security-Policy"


def test_call_declined_and_message_acknowledged_live(desks: Desks, browser: Browser) -> None:
    washington, beijing = desks.cluster.nodes
    w = browser.new_page(locale="en-US")
    b = browser.new_page(locale="zh-CN")
    desks.log_in(w, washington, "duty")
    assert w.title().startswith("Link board")
    desks.log_in(b, beijing, "duty")
    assert b.title().startswith("线路总览")
    assert "线路" in b.locator("table.board").inner_text()
    screenshot(w, "board-washington-en")
    desks.open_link(w, washington)
    desks.open_link(b, beijing)

    # Washington requests a call; Beijing's open page rings, with a repeating tone.
    w.fill("input[name=topic]", "Balloon over Montana")
    w.click("button.call-button")
    w.wait_for_selector("#callbar .call-out[data-state=ringing]", timeout=TIMEOUT_MS)
    desks.open_link(w, washington)
    b.wait_for_selector("#callbar [data-ringing-in]", timeout=TIMEOUT_MS)
    assert kept(b)
    assert b.locator("#alarm").is_visible()
    assert "Washington" in b.locator("#alarm").inner_text()
    # CSS, not a JavaScript predicate: the console's policy forbids evaluating strings.
    b.locator(BEEPED_TWICE).wait_for(state="attached", timeout=TIMEOUT_MS)
    assert b.evaluate("document.body.dataset.soundError") is None
    screenshot(b, "call-ringing-beijing-zh")

    # Beijing declines with an agreed reason; Washington sees it without reloading.
    b.select_option("#callbar select[name=reason]", "decline-in-writing")
    b.click("#callbar button.decline")
    outcome = w.locator("#callbar [data-state=declined]")
    outcome.wait_for(timeout=TIMEOUT_MS)
    assert kept(w)
    assert "declined" in outcome.inner_text()
    assert "Please send your message in writing." in outcome.inner_text()
    b.wait_for_url(re.compile(rf"/links/{LINK}$"))  # the decline brings Beijing back here
    b.locator("body[data-alarm='off']").wait_for(state="attached", timeout=TIMEOUT_MS)
    b.wait_for_selector("#live[data-state=on]", timeout=TIMEOUT_MS)
    mark(b)
    assert "请以书面形式发送贵方信息" in b.locator("#callbar [data-state=declined]").inner_text()
    screenshot(w, "call-declined-washington-en")

    # A message: shown on Beijing's screen live, "displayed" and "acknowledged"
    # (with the agreed holding reply) climb Washington's ladder live.
    text = "Request for information: <b>who</b> operates the balloon?"
    w.fill("#compose textarea", text)
    w.click("#compose button.send")
    w.wait_for_url(re.compile(rf"/links/{LINK}$"))
    mark(w)
    message_id = w.locator("article.msg-out").last.get_attribute("data-id")
    assert message_id
    row = f"#m-{message_id}"
    b.wait_for_selector(row, timeout=TIMEOUT_MS)
    assert kept(b)
    assert b.locator(f"{row} .text").inner_text() == text  # markup shown as text
    w.wait_for_selector(f"{row} [data-rung=delivered].done", timeout=TIMEOUT_MS)
    w.wait_for_selector(f"{row} [data-rung=displayed].done", timeout=TIMEOUT_MS)
    assert "Beijing duty officer" in w.locator(f"{row} [data-rung=displayed]").inner_text()
    assert kept(w)

    b.select_option(f"{row} select[name=minutes]", "240")
    b.click(f"{row} button.ack")
    w.wait_for_selector(f"{row} [data-rung=acknowledged].done", timeout=TIMEOUT_MS)
    assert kept(w)
    holding = w.locator(f"{row} .holding").inner_text()
    assert "Received. Your message is under review. We will respond by" in holding
    b.wait_for_selector(f"{row} .holding", timeout=TIMEOUT_MS)
    assert "已收到。贵方来文正在研究中" in b.locator(f"{row} .holding").inner_text()
    screenshot(w, "ladder-washington-en")
    screenshot(b, "conversation-beijing-zh")

    # The page after a reload is the page the live updates built.
    live_html = w.locator(row).inner_html()
    w.reload()
    assert w.locator(row).inner_html() == live_html

    # Both records hold every step, signed.
    for handle in (washington, beijing):
        kinds = kinds_in_record(handle)
        for kind in (
            Kind.CALL_REQUEST,
            Kind.CALL_DECLINE,
            Kind.MESSAGE,
            Kind.RECEIPT_DISPLAYED,
            Kind.RECEIPT_ACKNOWLEDGED,
        ):
            assert kind.value in kinds, (handle.party, kind)
    decline = [body for env, body in record(beijing) if env.header.kind is Kind.CALL_DECLINE]
    assert decline[0]["reason"] == "decline-in-writing"


def test_accepted_call_carries_session_text_and_history(
    sqlite_desks: Desks, browser: Browser
) -> None:
    washington, beijing = sqlite_desks.cluster.nodes
    w, b = browser.new_page(), browser.new_page()
    sqlite_desks.log_in(w, washington, "duty")
    sqlite_desks.log_in(b, beijing, "duty")
    sqlite_desks.open_link(w, washington)
    sqlite_desks.open_link(b, beijing)
    w.click("button.call-button")
    b.wait_for_selector("#callbar [data-ringing-in]", timeout=TIMEOUT_MS)
    b.click("#callbar button.accept")
    b.wait_for_url(re.compile(r"/calls/"), timeout=TIMEOUT_MS)
    b.wait_for_selector("#live[data-state=on]", timeout=TIMEOUT_MS)

    w.wait_for_selector("#callbar .call-out[data-state=accepted]", timeout=TIMEOUT_MS)
    w.click("#callbar a.button")
    w.wait_for_selector("#live[data-state=on]", timeout=TIMEOUT_MS)
    mark(w)
    mark(b)
    w.click(".session-form button[value=join]")
    b.wait_for_selector(".presence .person:has-text('Washington duty officer')", timeout=TIMEOUT_MS)
    w.fill(".session-form input[name=text]", "We see the object over Billings.")
    w.click(".session-form button[value=text]")
    b.wait_for_selector("#session-lines :text('We see the object over Billings.')")
    b.fill(".session-form input[name=text]", "收到，正在核实。")
    b.click(".session-form button[value=text]")
    w.wait_for_selector("#session-lines :text('收到，正在核实。')", timeout=TIMEOUT_MS)
    assert kept(w) and kept(b)
    screenshot(w, "call-session-washington-en")

    w.click("button[value=end]")
    b.wait_for_selector(".call-facts[data-state=ended]", timeout=TIMEOUT_MS)
    # Once it has ended, nobody is shown "in the session now".
    assert b.locator(".presence").count() == 0
    assert "Washington duty officer" in b.locator(".participants").inner_text()
    w.goto(f"{washington.local_url}/links/{LINK}/calls")
    history = w.locator("table.calls").inner_text()
    assert "Beijing duty officer" in history and "ended" in history
    assert "picked up: 1" in w.locator(".counts").inner_text()
    assert [k for k in kinds_in_record(beijing) if k == Kind.SESSION_TEXT.value]


def test_reply_waits_for_a_principal_then_answers(sqlite_desks: Desks, browser: Browser) -> None:
    washington, beijing = sqlite_desks.cluster.nodes
    w, duty, principal = browser.new_page(), browser.new_page(), browser.new_page()
    other_tab = browser.new_page()  # the duty officer's second console on the same link
    sqlite_desks.log_in(w, washington, "duty")
    sqlite_desks.log_in(duty, beijing, "duty")
    sqlite_desks.log_in(principal, beijing, "principal")
    sqlite_desks.log_in(other_tab, beijing, "duty")
    for page, handle in ((w, washington), (duty, beijing), (principal, beijing)):
        sqlite_desks.open_link(page, handle)
    w.fill("#compose textarea", "Please explain the object's purpose.")
    w.click("#compose button.send")
    w.wait_for_url(re.compile(rf"/links/{LINK}$"))
    mark(w)
    message_id = w.locator("article.msg-out").last.get_attribute("data-id")
    duty.wait_for_selector(f"#m-{message_id}", timeout=TIMEOUT_MS)

    duty.click(f"#m-{message_id} button.reply")
    duty.fill("#compose textarea", "该飞艇为民用飞艇。")
    duty.click("#compose button.send")
    duty.wait_for_selector(".draft-awaiting_approval", timeout=TIMEOUT_MS)
    principal.wait_for_selector(".draft-awaiting_approval", timeout=TIMEOUT_MS)
    screenshot(principal, "approval-beijing-zh")
    assert "该飞艇为民用飞艇" not in " ".join(inbound_texts(washington))

    # Sent back with a note: the author rewrites it in place, the note still in view.
    principal.fill(".draft-awaiting_approval input[name=note]", "请说明其用途。")
    principal.click(".draft-awaiting_approval button[value=reject]")
    duty.wait_for_selector(".draft-draft .note", timeout=TIMEOUT_MS)
    assert "请说明其用途" in duty.locator(".draft-draft .note").inner_text()
    sqlite_desks.open_link(other_tab, beijing)
    duty.click(".draft-draft details.edit summary")
    editor = duty.locator(".draft-draft details.edit textarea")
    assert editor.input_value() == "该飞艇为民用飞艇。"
    assert editor.get_attribute("maxlength") == str(MAX_TEXT_CHARS)
    editor.fill("该飞艇为民用气象研究飞艇。")
    screenshot(duty, "draft-edit-beijing-zh")
    duty.click(".draft-draft button.save")
    duty.wait_for_selector(
        ".draft-draft .text:has-text('该飞艇为民用气象研究飞艇')", timeout=TIMEOUT_MS
    )
    assert "请说明其用途" in duty.locator(".draft-draft .note").inner_text()
    # The other open console shows the new wording without a reload.
    other_tab.wait_for_selector(
        ".draft-draft .text:has-text('该飞艇为民用气象研究飞艇')", timeout=TIMEOUT_MS
    )
    assert kept(other_tab)
    assert "该飞艇为民用" not in " ".join(inbound_texts(washington))

    duty.click(".draft-draft button.submit")
    principal.wait_for_selector(
        ".draft-awaiting_approval .text:has-text('该飞艇为民用气象研究飞艇')", timeout=TIMEOUT_MS
    )
    principal.click(".draft-awaiting_approval button[value=approve]")
    w.wait_for_selector(f"#m-{message_id} [data-rung=answered].done", timeout=TIMEOUT_MS)
    w.wait_for_selector("article.msg-in:has-text('该飞艇为民用气象研究飞艇')", timeout=TIMEOUT_MS)
    assert kept(w)
    assert "approved by" in w.locator("article.msg-in").last.inner_text()
    assert "该飞艇为民用飞艇。" not in inbound_texts(washington)

    # A new message (not a reply) saved as a draft leaves when submitted: only
    # replies wait for a principal.
    duty.fill("#compose textarea", "详细情况随后告知。")
    duty.click("#compose button[value=draft]")
    duty.wait_for_selector(".draft-draft", timeout=TIMEOUT_MS)
    assert "详细情况随后告知" not in " ".join(inbound_texts(washington))
    duty.click(".draft-draft button.submit")
    w.wait_for_selector("article.msg-in:has-text('详细情况随后告知')", timeout=TIMEOUT_MS)
    assert kept(w)

    # A draft its author thinks better of is discarded: gone from both of their
    # consoles, and never sent.
    duty.fill("#compose textarea", "此稿作废。")
    duty.click("#compose button[value=draft]")
    other_tab.wait_for_selector(".draft-draft .text:has-text('此稿作废')", timeout=TIMEOUT_MS)
    duty.click(".draft-draft:has-text('此稿作废') button.discard")
    duty.wait_for_url(re.compile(rf"/links/{LINK}$"))
    other_tab.wait_for_selector(".draft-draft", state="detached", timeout=TIMEOUT_MS)
    # The URL is the same before and after: wait for the draft itself to go.
    duty.wait_for_selector(".draft", state="detached", timeout=TIMEOUT_MS)
    assert duty.locator(".draft").count() == 0
    assert "此稿作废" not in duty.locator("#drafts").inner_text()
    assert kept(other_tab)
    assert "此稿作废" not in " ".join(inbound_texts(washington))


def test_only_the_author_edits_or_discards_a_draft(sqlite_desks: Desks, browser: Browser) -> None:
    """Posted straight to the routes, not only hidden in the page: another operator,
    an observer, and the author's own empty or oversized text are refused."""
    _, beijing = sqlite_desks.cluster.nodes
    duty, principal, observer = browser.new_page(), browser.new_page(), browser.new_page()
    for page, username in ((duty, "duty"), (principal, "principal"), (observer, "observer")):
        sqlite_desks.log_in(page, beijing, username)
        sqlite_desks.open_link(page, beijing)
    duty.fill("#compose textarea", "原稿。")
    duty.click("#compose button[value=draft]")
    duty.wait_for_selector(".draft-draft", timeout=TIMEOUT_MS)
    draft_id = duty.locator(".draft-draft").get_attribute("data-draft")
    assert principal.locator(".draft").count() == 0  # someone else's draft is not shown
    base = f"{beijing.local_url}/drafts/{draft_id}"

    def post(page: Page, action: str, **form: str) -> tuple[int, str]:
        token = page.evaluate("document.body.dataset.csrf")
        answer = page.request.post(
            f"{base}/{action}",
            form={"csrf": token, "back": f"/links/{LINK}", **form},
            headers={"accept": "text/html"},
            max_redirects=0,
        )
        return answer.status, answer.text()

    status, text = post(principal, "save", text="别人改的。", lang="zh-Hans")
    assert status == 400 and "只有起草人可以修改、提交或放弃草稿" in text
    status, text = post(principal, "discard")
    assert status == 400 and "只有起草人可以修改、提交或放弃草稿" in text
    assert post(observer, "save", text="观察员改的。", lang="zh-Hans")[0] == 403
    assert post(observer, "discard")[0] == 403
    status, text = post(duty, "save", text="长" * (MAX_TEXT_CHARS + 1), lang="zh-Hans")
    assert status == 400 and "消息过长" in text
    status, text = post(duty, "save", text="  ", lang="zh-Hans")
    assert status == 400 and "请先撰写消息" in text
    forged = duty.request.post(f"{base}/discard", form={"back": f"/links/{LINK}"})
    assert forged.status == 403  # no CSRF token
    duty.reload()
    assert duty.locator(".draft-draft .text").inner_text() == "原稿。"
    assert duty.locator(f".draft-draft[data-draft='{draft_id}']").count() == 1

    status, _ = post(duty, "discard")
    assert status == 303
    status, text = post(duty, "save", text="复活。", lang="zh-Hans")
    assert status == 400 and "该事项已不在等待此步骤" in text
    duty.reload()
    assert duty.locator(".draft").count() == 0

    # A translator keeps their own drafts (save, edit, discard) but cannot submit them.
    translator = browser.new_page()
    sqlite_desks.log_in(translator, beijing, "translator")
    sqlite_desks.open_link(translator, beijing)
    translator.fill("#compose textarea", "译稿初版。")
    translator.click("#compose button[value=draft]")
    translator.wait_for_selector(".draft-draft", timeout=TIMEOUT_MS)
    assert translator.locator(".draft-draft button.submit").count() == 0
    translator.click(".draft-draft details.edit summary")
    translator.fill(".draft-draft details.edit textarea", "译稿修订版。")
    translator.click(".draft-draft details.edit button.save")
    translator.wait_for_selector(".draft-draft .text:has-text('译稿修订版')", timeout=TIMEOUT_MS)
    translated = translator.locator(".draft-draft").get_attribute("data-draft")
    base = f"{beijing.local_url}/drafts/{translated}"
    assert post(translator, "submit")[0] == 403
    assert translator.locator(".draft-draft .text").inner_text() == "译稿修订版。"
    translator.click(".draft-draft button.discard")
    translator.wait_for_selector(".draft", state="detached", timeout=TIMEOUT_MS)


def test_refusals_wrong_password_csrf_observer_oversized(
    sqlite_desks: Desks, browser: Browser
) -> None:
    washington, beijing = sqlite_desks.cluster.nodes
    page = browser.new_page()
    page.goto(f"{washington.local_url}/login")
    page.fill("input[name=username]", "duty")
    page.fill("input[name=password]", "not the password at all")
    with page.expect_response(
        lambda r: r.url.endswith("/login") and r.request.method == "POST"
    ) as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 401
    assert "Wrong name, password or code" in page.locator(".error").inner_text()
    assert page.context.cookies() and not any(
        c["name"] == "hotline_session" for c in page.context.cookies()
    )

    sqlite_desks.log_in(page, washington, "duty")
    sent_before = len(kinds_in_record(washington))
    # A post without the session's CSRF token (as a forged cross-site form would be).
    refused = page.request.post(
        f"{washington.local_url}/links/{LINK}/messages", form={"text": "forged", "lang": "en"}
    )
    assert refused.status == 403
    # An oversized message: a clear error, nothing written.
    sqlite_desks.open_link(page, washington)
    csrf = page.evaluate("document.body.dataset.csrf")
    too_long = page.request.post(
        f"{washington.local_url}/links/{LINK}/messages",
        form={"text": "x" * (MAX_TEXT_CHARS + 1), "lang": "en", "csrf": csrf},
        headers={"accept": "text/html"},
    )
    assert too_long.status == 400
    assert f"the limit is {MAX_TEXT_CHARS}" in too_long.text()
    assert len(kinds_in_record(washington)) == sent_before

    # An observer sees the link but cannot send, even by posting the form directly.
    observer = browser.new_page()
    sqlite_desks.log_in(observer, washington, "observer")
    sqlite_desks.open_link(observer, washington)
    assert observer.locator("#compose").count() == 0
    assert observer.locator("button.call-button").count() == 0
    token = observer.evaluate("document.body.dataset.csrf")
    forbidden = observer.request.post(
        f"{washington.local_url}/links/{LINK}/messages",
        form={"text": "observers may not send", "lang": "en", "csrf": token},
    )
    assert forbidden.status == 403
    call = observer.request.post(f"{washington.local_url}/links/{LINK}/calls", form={"csrf": token})
    assert call.status == 403
    assert len(kinds_in_record(washington)) == sent_before

    # Disabling the observer ends the open console's session: it goes to the login
    # page by itself and says why, instead of looking live when it no longer is.
    subprocess.run(
        [sys.executable, "-m", "hotline", "user", "disable", "observer",
         "--home", str(washington.home.path)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    observer.wait_for_url(re.compile(r"/login\?ended=1$"), timeout=TIMEOUT_MS)
    assert "Your session has ended" in observer.locator(".notice").inner_text()
    expired = page.request.post(  # the duty officer's session is still valid
        f"{washington.local_url}/messages/none/displayed",
        headers={"x-csrf-token": csrf, "x-hotline-fetch": "1"},
    )
    assert expired.status != 401

    # A supervisor finds all of this in the audit log: the refused login, the
    # forged post without its token, the observer's refused attempts.
    audit = browser.new_page()
    sqlite_desks.log_in(audit, washington, "supervisor")
    audit.click("nav a[href='/audit']")
    audit.wait_for_url(f"{washington.local_url}/audit")
    audit.select_option("select[name=outcome]", "refused")
    audit.click(".audit-filters button")
    audit.wait_for_url(re.compile(r"/audit\?.*outcome=refused"))
    shown = audit.locator("table.audit tbody").inner_text()
    # Actions in words (their codes kept for the filter), details as label: value, a
    # reason as its sentence with its code.
    assert "reason: Wrong name, password or code, or the account is locked. (bad_credentials)" in (
        shown
    )
    assert "form refused (wrong or missing token)" in shown and "page or action refused" in shown
    assert audit.locator("td.action[data-code='console.csrf']").count() >= 1
    assert audit.locator("td.action[data-code='console.forbidden']").count() >= 1
    assert audit.locator("table.audit tr.audit-ok").count() == 0
    screenshot(audit, "audit-washington-en")

    # Beijing's duty officer gets the same refusal in Chinese.
    zh = browser.new_page()
    sqlite_desks.log_in(zh, beijing, "duty")
    sqlite_desks.open_link(zh, beijing)
    zh_token = zh.evaluate("document.body.dataset.csrf")
    zh_long = zh.request.post(
        f"{beijing.local_url}/links/{LINK}/messages",
        form={"text": "长" * (MAX_TEXT_CHARS + 1), "lang": "zh-Hans", "csrf": zh_token},
        headers={"accept": "text/html"},
    )
    assert zh_long.status == 400 and "消息过长" in zh_long.text()


def test_emergency_needs_a_criterion_and_a_second_operator_then_rings(
    sqlite_desks: Desks, browser: Browser
) -> None:
    washington, beijing = sqlite_desks.cluster.nodes
    with washington.client() as w_api, beijing.client() as b_api:
        agree_policy(w_api, b_api, LINK)
        # Washington's escalation: an emergency not acknowledged within 2 s alerts the
        # duty officers.
        escalation = {
            "acknowledged": {
                "deadline_s": {"emergency": 2},
                "actions": [{"do": "alert", "role": "duty_officer"}],
            }
        }
        response = w_api.put(f"/api/v1/links/{LINK}/escalation", json=escalation)
        assert response.status_code == 200, response.text
    duty, supervisor, b = browser.new_page(), browser.new_page(), browser.new_page()
    sqlite_desks.log_in(duty, washington, "duty")
    sqlite_desks.log_in(supervisor, washington, "supervisor")
    sqlite_desks.log_in(b, beijing, "duty")
    for page, handle in ((duty, washington), (supervisor, washington), (b, beijing)):
        sqlite_desks.open_link(page, handle)
    assert "Policy version 1, signed by both sides" in duty.locator(".policy summary").inner_text()

    # Without an agreed criterion it is not an emergency: refused, with the offer to
    # send the same text as routine.
    duty.check("input[name=channel][value=emergency]")
    duty.fill("input[name=justification]", "Object over Montana")
    duty.fill("#compose textarea", "Please call us about the balloon.")
    duty.click("#compose button.send")
    assert "not an emergency under the link's policy" in duty.locator(".error").inner_text()
    assert "Please call us about the balloon." not in " ".join(inbound_texts(beijing))
    duty.click(".routine-offer button")
    b.wait_for_selector("article.msg-in:has-text('Please call us about the balloon.')")
    assert b.locator("#callbar [data-emergency-in]").count() == 0  # routine never rings

    # With a criterion and a justification it waits for a second operator.
    sqlite_desks.open_link(duty, washington)
    duty.check("input[name=channel][value=emergency]")
    duty.select_option("select[name=criterion]", "airspace-object")
    duty.fill("input[name=justification]", "High-altitude balloon over Montana")
    duty.fill("#compose textarea", "EMERGENCY: a balloon of yours is over Montana. Explain.")
    duty.click("#compose button.send")
    supervisor.wait_for_selector("#callbar .att-approval", timeout=TIMEOUT_MS)
    assert kept(supervisor)
    assert duty.locator("#callbar .att-approval").count() == 0  # not for one's own
    mine = duty.locator("#callbar .att-mine[data-state=awaiting_approval]")
    assert "Unexplained object in airspace" in mine.inner_text()
    screenshot(supervisor, "emergency-approval-washington-en")
    assert "balloon of yours" not in " ".join(inbound_texts(beijing))
    assert "Unexplained object in airspace" in supervisor.locator(".att-approval").inner_text()
    supervisor.click("#callbar .att-approval button[value=approve]")

    # It arrives marked emergency and rings Beijing until acknowledged.
    alarm = b.locator("#callbar [data-emergency-in]")
    alarm.wait_for(timeout=TIMEOUT_MS)
    assert kept(b)
    assert "空域内不明物体" in b.locator("#callbar .att-emergency").inner_text()
    b.locator(BEEPED).wait_for(state="attached", timeout=TIMEOUT_MS)
    row = b.locator("article.msg-emergency")
    row.wait_for(timeout=TIMEOUT_MS)
    assert "High-altitude balloon over Montana" in row.inner_text()
    screenshot(b, "emergency-ringing-beijing-zh")
    # Unacknowledged past its deadline: impossible to miss on Washington's console.
    overdue = duty.locator("#callbar .att-overdue")
    overdue.wait_for(timeout=TIMEOUT_MS)
    assert "not yet acknowledged" in overdue.inner_text()
    assert "waiting" in overdue.inner_text()
    duty.locator("#callbar .att-alert").first.wait_for(timeout=TIMEOUT_MS)
    screenshot(duty, "overdue-washington-en")
    row.locator("button.ack").click()
    b.locator("body[data-alarm='off']").wait_for(state="attached", timeout=TIMEOUT_MS)
    # The requester's notice goes once it has been sent.
    duty.locator("#callbar .att-mine").first.wait_for(state="detached", timeout=TIMEOUT_MS)
    emergencies = [body for env, body in record(beijing) if body.get("channel") == "emergency"]
    assert emergencies and emergencies[0]["criterion"] == "airspace-object"
    assert emergencies[0]["approved_by"].startswith("Washington supervisor")

    # Usage statistics keep emergency and routine apart.
    duty.goto(f"{washington.local_url}/links/{LINK}/stats")
    totals = duty.locator("table.stats tfoot").inner_text().split()
    assert totals[:3] == ["Total", "1", "0"]  # one emergency sent, none received
