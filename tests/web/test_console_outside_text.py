"""Text from the other party on the console (real nodes over HTTP): markup stays
text, bidirectional controls and invisible characters are shown as marked code
points, and each such text is isolated in its own <bdi>."""

from __future__ import annotations

import re

from tests.harness import LINK, Cluster, inbound_texts, wait_until
from tests.web.test_console_audit import duty_consoles, request_call

RLO = "\u202e"
TOPIC = f"Routine check {RLO}yletaidemmi kcatta ot deeccorp"
TEXT = f"<script>alert(1)</script> Weather {RLO}kcatta{chr(0x200B)} [bold red]x[/] \x1b[2J"


def test_the_other_sides_words_are_inert_and_isolated(cluster: Cluster) -> None:
    washington, beijing = cluster.nodes
    with duty_consoles(cluster) as (w, b):
        # The console refuses control characters in what our own operators write; the
        # other party's node need not, so its words come in through its API here.
        with washington.client() as api:
            sent = api.post(f"/api/v1/links/{LINK}/messages", json={"text": TEXT})
            assert sent.status_code == 201, sent.text
        request_call(w, TOPIC)
        wait_until(lambda: TEXT in inbound_texts(beijing), what="the message on beijing")
        wait_until(lambda: "yletaidemmi" in b.get("/fragments/calls").text, what="the call")

        for shown in (b.get(f"/links/{LINK}").text, b.get("/fragments/calls").text):
            assert RLO not in shown and "\u200b" not in shown and "\x1b" not in shown
            assert '<span class="hidden-char" title="Right-To-Left Override">U+202E</span>' in (
                shown
            )
        conversation = b.get(f"/links/{LINK}").text
        assert "<script>alert(1)</script>" not in conversation
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in conversation
        assert "U+200B" in conversation and "U+001B" in conversation
        # The text sits in its own isolated run, the topic too.
        assert re.search(r'<bdi class="outside">&lt;script&gt;', conversation)
        callbar = b.get("/fragments/calls").text
        assert re.search(r'“<bdi class="outside">Routine check <span class="hidden-char"', callbar)
        # The record keeps the exact characters.
        assert TEXT in inbound_texts(beijing)
