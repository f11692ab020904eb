"""``hotline phrasebook`` and ``hotline glossary`` as users run them (the installed
command in a process of its own): validation naming the entry and the field, diff,
export, and a version proposed on one node and countersigned on the other; then
``hotline inbox`` shows an agreed text in the reader's language with its badge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hotline.language.phrasebook import shipped_phrasebook
from tests.harness import LINK, Cluster, hotline, hotline_ok, wait_until


def exported(tmp_path: Path, name: str = "phrasebook") -> dict[str, Any]:
    target = tmp_path / f"{name}.json"
    if name == "phrasebook":
        hotline_ok("phrasebook", "export", "--out", target)
    else:
        hotline_ok("glossary", "export", "--out", target)
    document: dict[str, Any] = json.loads(target.read_text("utf-8"))
    return document


def entry_of(document: dict[str, Any], entry_id: str) -> dict[str, Any]:
    return next(e for e in document["entries"] if e["id"] == entry_id)


def write(tmp_path: Path, document: dict[str, Any], name: str) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    return path


def test_validate_refuses_a_phrasebook_naming_the_entry_and_the_field(tmp_path: Path) -> None:
    base = exported(tmp_path)
    good = write(tmp_path, base, "good.json")
    assert "110 entries" in hotline_ok("phrasebook", "validate", good).output

    missing = json.loads(json.dumps(base))
    del entry_of(missing, "decline-technical")["text"]["zh-Hans"]
    mismatch = json.loads(json.dumps(base))
    entry_of(mismatch, "holding-reply-v1")["text"]["en"] = "We will respond by {respond_at}."
    unknown_type = json.loads(json.dumps(base))
    entry_of(unknown_type, "holding-respond-within")["parameters"]["within"] = {"type": "mood"}
    duplicate = json.loads(json.dumps(base))
    duplicate["entries"].append(dict(entry_of(duplicate, "decline-in-writing")))
    cases = [
        (missing, ["decline-technical", "text.zh-Hans", "missing_language"]),
        (mismatch, ["holding-reply-v1", "text.en", "parameter_mismatch"]),
        (unknown_type, ["holding-respond-within", "parameters.within", "unknown_type"]),
        (duplicate, ["decline-in-writing", "duplicate_id"]),
    ]
    for number, (document, named) in enumerate(cases):
        ran = hotline("phrasebook", "validate", write(tmp_path, document, f"bad{number}.json"))
        assert ran.code == 1, str(ran)
        for word in named:
            assert word in ran.output, (word, str(ran))


def test_diff_names_what_changed_and_glossary_validates(tmp_path: Path) -> None:
    base = exported(tmp_path)
    changed = json.loads(json.dumps(base))
    changed["version"] = 2
    entry_of(changed, "decline-technical")["text"]["zh-Hans"] = "我方线路出现技术故障。"
    changed["entries"] = [e for e in changed["entries"] if e["id"] != "decline-in-writing"]
    ran = hotline_ok("phrasebook", "diff", "shipped", write(tmp_path, changed, "v2.json"))
    assert ran.json() == {
        "old_version": 1,
        "new_version": 2,
        "added": [],
        "removed": ["decline-in-writing"],
        "changed": {"decline-technical": ["text.zh-Hans"]},
        "document": [],
    }
    glossary = exported(tmp_path, "glossary")
    valid = hotline_ok("glossary", "validate", write(tmp_path, glossary, "g.json"))
    assert "28 terms" in valid.output
    glossary_2 = json.loads(json.dumps(glossary))
    glossary_2["version"] = 2
    glossary_2["terms"] = [t for t in glossary_2["terms"] if t["id"] != "crisis"]
    diff = hotline_ok("glossary", "diff", "shipped", write(tmp_path, glossary_2, "g2.json"))
    assert diff.json()["removed"] == ["crisis"] and diff.json()["new_version"] == 2
    crisis = next(t for t in glossary["terms"] if t["id"] == "crisis")
    del crisis["sides"]["cn"]["definition"]["en"]
    bad = hotline("glossary", "validate", write(tmp_path, glossary, "g-bad.json"))
    assert bad.code == 1 and "crisis" in bad.output and "sides.cn.definition.en" in bad.output


def test_propose_accept_and_read_an_agreed_text_in_the_inbox(cluster: Cluster) -> None:
    cluster.start()
    w_home, b_home = cluster.washington.home.path, cluster.beijing.home.path
    proposed = hotline_ok("phrasebook", "propose", LINK, "--home", w_home)
    assert shipped_phrasebook().digest() in proposed.output
    early = hotline("phrasebook", "accept", LINK, "1", "--home", w_home)
    assert early.code == 1 and "own_proposal" in early.output

    def pending_at_beijing() -> bool:
        shown = hotline_ok("phrasebook", "show", "--link", LINK, "--json", "--home", b_home)
        return any(v["state"] == "proposed" for v in shown.json()["versions"])

    wait_until(pending_at_beijing, what="the proposal at Beijing")
    accepted = hotline_ok("phrasebook", "accept", LINK, "1", "--home", b_home)
    assert "signed by washington and beijing" in accepted.output
    hotline_ok("glossary", "propose", LINK, "--home", w_home)

    def glossary_pending_at_beijing() -> bool:
        shown = hotline_ok("glossary", "show", "--link", LINK, "--json", "--home", b_home)
        return any(v["state"] == "proposed" for v in shown.json()["versions"])

    wait_until(glossary_pending_at_beijing, what="the glossary proposal at Beijing")
    agreed = hotline_ok("glossary", "accept", LINK, "1", "--home", b_home)
    assert "signed by washington and beijing" in agreed.output

    with cluster.beijing.client() as b:
        sent = b.post(
            f"/api/v1/links/{LINK}/messages",
            json={"entry": "holding-respond-within", "parameters": {"within": 7200}},
        )
        assert sent.status_code == 201, sent.text

    def inbox(lang: str) -> str:
        return hotline_ok("inbox", "--lang", lang, "--home", w_home, columns=250).output

    wait_until(lambda: "agreed text" in inbox("en"), what="the agreed text at Washington")
    assert "[agreed text] Received. We will respond within 2 hours." in inbox("en")
    assert "[约定文本] 已收到。我方将在2小时内答复。" in inbox("zh-Hans")
    shown = hotline_ok("phrasebook", "show", "--link", LINK, "--home", w_home)
    assert "version 1 in force" in shown.output and "countersigned by beijing" in shown.output
