"""Parties by the names people use, in each console's language: set with
``hotline names set`` (the installed command), shown on the board, the conversation,
the call bar and the page title; unnamed, a party's identifier is capitalised."""

from __future__ import annotations

import re
from pathlib import Path

from tests.harness import LINK, Cluster, hotline_ok, send, wait_until
from tests.web.test_console_audit import duty_consoles, request_call


def test_each_console_names_the_parties_in_its_language(tmp_path: Path) -> None:
    with Cluster(tmp_path, lambda _: None) as cluster:
        washington, beijing = cluster.nodes
        home = ("--home", str(beijing.home.path))
        hotline_ok("names", "set", "washington", "zh-Hans", "华盛顿", *home)
        hotline_ok("names", "set", "beijing", "zh-Hans", "北京", *home)
        with duty_consoles(cluster) as (w, b):
            with washington.client() as api:
                send(api, "Request for information: who operates the balloon?")
            request_call(w, "Balloon")
            wait_until(lambda: "Balloon" in b.get("/fragments/calls").text, what="the call")

            board, conversation = b.get("/").text, b.get(f"/links/{LINK}").text
            calls = b.get("/fragments/calls").text
            for shown in (board, conversation, calls):
                assert "华盛顿" in shown
                assert not re.search(r">\s*washington\s*<", shown)
            assert re.search(r"<title>[^<]*北京</title>", conversation)
            sender = r'<span class="sender"><bdi class="outside">华盛顿</bdi>'
            assert re.search(sender, conversation)
            # Washington set no names: identifiers, capitalised, in English.
            english = w.get(f"/links/{LINK}").text
            assert 'with <bdi class="outside">Beijing</bdi>' in english
            assert re.search(r"<title>[^<]*Washington</title>", english)
