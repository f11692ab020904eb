"""Every response of the local listener carries a strict Content-Security-Policy and
the headers that keep pages unframed, unsniffed and unreferred (real node, HTTP)."""

from __future__ import annotations

import httpx

from hotline.demo import add_demo_accounts
from tests.harness import Cluster
from tests.web.test_console_audit import Console


def assert_strict(response: httpx.Response) -> None:
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no inline script, no other origin
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_pages_fragments_files_and_the_api_carry_the_headers(cluster: Cluster) -> None:
    washington = cluster.washington
    passwords = {a.username: a.password for a in add_demo_accounts(washington.home)}
    cluster.start()
    console = Console(washington)
    try:
        assert_strict(console.get("/login"))
        assert console.log_in("duty", passwords["duty"]).status_code == 200
        for path in ("/", "/links/defence/calls", "/static/console.js", "/static/console.css"):
            response = console.get(path)
            assert response.status_code == 200, path
            assert_strict(response)
        forbidden = console.get("/audit")  # an error page too
        assert forbidden.status_code == 403
        assert_strict(forbidden)
        with washington.client() as api:
            assert_strict(api.get("/healthz"))
            assert_strict(api.get("/api/v1/links"))
    finally:
        console.close()
