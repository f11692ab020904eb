"""Translation on two real nodes: machine drafts on arrival, the translator's queue, the signed
verified rendering that travels back to the sender, and a dispute that alerts the translator.

Washington reads English and translates with CTranslate2 (the tiny model built here, zh-Hans
to en); Beijing reads Chinese and its only provider, a LibreTranslate server, is unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.accounts.roles import Role
from hotline.accounts.service import AccountService
from hotline.demo.tiny_model import TINY_MODEL_NAME, build_tiny_model
from hotline.protocol.kinds import Kind
from tests.conftest import DatabaseFactory
from tests.harness import (
    Cluster,
    NodeHandle,
    hotline_ok,
    kinds_in_record,
    record,
    send,
    wait_until,
)
from tests.language.libretranslate_server import refused_url

PASSWORD = "a long enough passphrase 1"
RENDERED = "请确认贵方飞机在另行通知前远离该区域。"
CHINESE = "我们已收到你方消息，正在研究。请确认收到本消息。"
ENGLISH = "Please confirm that your aircraft will keep clear of the area until further notice."


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    build_tiny_model(directory / "zh-Hans-en")
    return directory


@pytest.fixture
def translating(tmp_path: Path, database: DatabaseFactory, models: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path, database.url_for) as cluster:
        configure(
            cluster.washington,
            {"reading": ["en"], "providers": [{"kind": "ctranslate2", "models": str(models)}]},
        )
        configure(
            cluster.beijing,
            {
                "reading": ["zh-Hans"],
                "providers": [{"kind": "libretranslate", "url": refused_url(), "timeout_s": 2}],
            },
        )
        for handle, who in ((cluster.washington, "wtrans"), (cluster.beijing, "btrans")):
            add_user(handle, who, Role.TRANSLATOR)
        add_user(cluster.washington, "wofficer", Role.DUTY_OFFICER)
        add_user(cluster.beijing, "bofficer", Role.DUTY_OFFICER)
        cluster.start()
        yield cluster


def configure(handle: NodeHandle, translation: dict[str, Any]) -> None:
    handle.home.set_translation(translation)


def add_user(handle: NodeHandle, username: str, role: Role) -> None:
    node = handle.node()
    try:
        AccountService(node.sessions, party=node.party).add_user(
            username, PASSWORD, role=role, display_name=username.title(), actor="test"
        )
    finally:
        node.close()


def translations(handle: NodeHandle, message_id: str) -> list[dict[str, Any]]:
    with handle.client() as client:
        response = client.get(f"/api/v1/messages/{message_id}/translations")
    response.raise_for_status()
    return list(response.json()["translations"])


def rendering(handle: NodeHandle, message_id: str, side: str) -> dict[str, Any] | None:
    found = [t for t in translations(handle, message_id) if t["side"] == side]
    return found[0] if found else None


def settled(handle: NodeHandle, message_id: str, side: str, state: str) -> dict[str, Any]:
    def reached() -> bool:
        found = rendering(handle, message_id, side)
        return found is not None and found["state"] == state

    wait_until(reached, what=f"{handle.party}: {side} rendering of {message_id} {state}")
    found = rendering(handle, message_id, side)
    assert found is not None
    return found


def queue(handle: NodeHandle) -> list[dict[str, Any]]:
    with handle.client() as client:
        response = client.get("/api/v1/translations/queue")
    response.raise_for_status()
    return list(response.json()["queue"])


def test_free_text_is_machine_translated_verified_and_understood_by_the_sender(
    translating: Cluster,
) -> None:
    washington, beijing = translating.nodes
    with beijing.client() as client:
        sent = send(client, CHINESE, lang="zh-Hans")
    draft = settled(washington, sent["id"], "ours", "machine")
    assert draft["target"] == "en" and draft["source"] == "zh-Hans"
    assert draft["text"]
    machine = draft["provenance"]["machine"]
    assert machine["model"] == TINY_MODEL_NAME and machine["kind"] == "ctranslate2"
    assert [item["message"] for item in queue(washington)] == [sent["id"]]

    with washington.client() as client:
        response = client.post(
            f"/api/v1/messages/{sent['id']}/translations/verify",
            json={
                "target": "en",
                "text": "We received your message and are studying it.",
                "by": "wtrans",
            },
        )
    assert response.status_code == 200, response.text
    verified = response.json()
    assert verified["state"] == "verified" and verified["verified_by"] == "Wtrans (translator)"
    assert verified["to_verified_ms"] >= 0
    assert verified["provenance"]["verified"]["edited"] is True
    assert verified["provenance"]["machine"]["model"] == TINY_MODEL_NAME
    assert queue(washington) == []

    understood = settled(beijing, sent["id"], "theirs", "verified")
    assert understood["text"] == "We received your message and are studying it."
    assert understood["verified_by"] == "Wtrans (translator)"
    assert understood["entry"] == verified["entry"]
    # The rendering is a signed entry of Washington's chain, bound to Beijing's message.
    bound = [
        (envelope.header.ref, body)
        for envelope, body in record(beijing)
        if envelope.header.kind is Kind.TRANSLATION
    ]
    [(ref, body)] = bound
    assert ref == sent["id"] and body["text"] == understood["text"]

    with beijing.client() as client:
        response = client.post(
            f"/api/v1/messages/{sent['id']}/translations/dispute",
            json={"target": "en", "note": "We asked for confirmation too.", "by": "bofficer"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["disputed_by"] == "Bofficer (duty officer)"

    def alerted() -> bool:
        with washington.client() as client:
            alerts = client.get("/api/v1/alerts").json()
        return any(a["kind"] == "translation_disputed" for a in alerts)

    wait_until(alerted, what="Washington's translators alerted of the dispute")
    with washington.client() as client:
        alerts = client.get("/api/v1/alerts").json()
    [alert] = [a for a in alerts if a["kind"] == "translation_disputed"]
    assert alert["target_role"] == "translator" and alert["message_id"] == sent["id"]
    assert "We asked for confirmation too." in alert["text"]
    assert [item["message"] for item in queue(washington)] == [sent["id"]]
    assert kinds_in_record(washington).count(Kind.TRANSLATION.value) == 2


def test_text_in_an_unexpected_language_is_routed_by_detection(translating: Cluster) -> None:
    washington, beijing = translating.nodes
    with beijing.client() as client:
        # Marked English, written in Chinese: the zh-Hans -> en model still takes it.
        sent = send(client, CHINESE, lang="en")
    draft = settled(washington, sent["id"], "ours", "machine")
    assert draft["source"] == "zh-Hans"
    assert draft["provenance"]["machine"]["model"] == TINY_MODEL_NAME


def test_a_failing_provider_leaves_the_original_readable_marked_not_translated(
    translating: Cluster,
) -> None:
    washington, beijing = translating.nodes
    with washington.client() as client:
        sent = send(client, ENGLISH, lang="en")
    none = settled(beijing, sent["id"], "ours", "none")
    assert none["reason"] == "unavailable" and none["text"] is None
    with beijing.client() as client:
        original = client.get(f"/api/v1/messages/{sent['id']}").json()
    assert original["body"]["text"] == ENGLISH
    # The translator renders it from the original, and the sender sees how it was understood.
    [item] = queue(beijing)
    assert item["original"] == ENGLISH and item["translation"]["state"] == "none"
    with beijing.client() as client:
        response = client.post(
            f"/api/v1/messages/{sent['id']}/translations/verify",
            json={"target": "zh-Hans", "text": RENDERED, "by": "btrans"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["provenance"]["verified"]["edited"] is True
    understood = settled(washington, sent["id"], "theirs", "verified")
    assert understood["text"] == RENDERED
    # The inbox shows both: Beijing's rendering with its badge, and how Washington was read.
    shown = hotline_ok("inbox", "--home", beijing.home.path, columns=200)
    assert "verified by Btrans (translator)" in shown.output
    [listed] = [
        m
        for m in hotline_ok("inbox", "--json", "--home", beijing.home.path).json()
        if m["id"] == sent["id"]
    ]
    assert listed["translations"][0]["text"] == RENDERED
    told = hotline_ok("inbox", "--home", washington.home.path, columns=200)
    assert "rendered in zh-Hans as, verified by Btrans (translator)" in told.output


def test_only_a_translator_verifies_and_only_incoming_free_text(translating: Cluster) -> None:
    washington, beijing = translating.nodes
    with beijing.client() as client:
        sent = send(client, CHINESE, lang="zh-Hans")
    wait_until(lambda: rendering(washington, sent["id"], "ours") is not None, what="draft")
    with washington.client() as client:
        by_officer = client.post(
            f"/api/v1/messages/{sent['id']}/translations/verify",
            json={"target": "en", "text": "Received.", "by": "wofficer"},
        )
        assert by_officer.status_code == 403
        assert by_officer.json()["code"] == "forbidden"
        own = send(client, ENGLISH, lang="en")
        on_own = client.post(
            f"/api/v1/messages/{own['id']}/translations/verify",
            json={"target": "en", "text": "Received.", "by": "wtrans"},
        )
        assert on_own.status_code == 404 or on_own.json()["code"] == "unknown_message"
        nothing_to_dispute = client.post(
            f"/api/v1/messages/{own['id']}/translations/dispute",
            json={"target": "zh-Hans", "note": "", "by": "wofficer"},
        )
        assert nothing_to_dispute.json()["code"] == "unknown_message"
    assert rendering(washington, sent["id"], "ours")["state"] != "verified"  # type: ignore[index]
