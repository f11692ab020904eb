"""The demo's language steps: translation configured on both nodes, the phrasebook and
glossary agreed on the link, and each message's understanding followed and shown.

Everything goes through the same paths a person or a program uses: the nodes' local API
(propose / countersign, send, verify) and ``node.json``'s ``translation`` section. Without a
real model installed (``--models`` or ``HOTLINE_MODELS``), machine translation runs on a toy
stand-in built on the spot (:mod:`.tiny_model`), and the demo says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from ..language.canonical import glossary_document
from ..language.glossary import Glossary, parse_glossary
from ..node.home import NodeHome

TOY_MODEL_NAME = "toy-stand-in (random weights)"
READING = {"washington": "en", "beijing": "zh-Hans"}
TRANSLATOR = "translator"  # the demo's translator account on each side (see DEMO_PEOPLE)
DOCUMENTS = ("phrasebook", "glossary")
LANGUAGE_NAMES = {"en": ("English", "英文"), "zh-Hans": ("Chinese", "中文")}


def prepare_models(base: Path, models: Path | None, console: Console) -> Path:
    """The directory of installed models; without one, a toy stand-in built here."""
    if models is not None:
        console.print(
            f"Machine translation: CTranslate2 with the models installed in {models}\n"
            f"机器翻译：CTranslate2，使用 {models} 中安装的模型"
        )
        return models
    from .tiny_model import build_tiny_model

    built = base / "models"
    build_tiny_model(built / "zh-Hans-en", manifest={"name": TOY_MODEL_NAME})
    build_tiny_model(built / "en-zh-Hans", manifest={"name": TOY_MODEL_NAME}, reverse=True)
    console.print(
        "[yellow]Machine translation: no real model is installed, so this demo uses a TOY "
        "STAND-IN built just now (a one-layer model with random weights): its drafts are "
        "gibberish; it only shows where a real engine's draft appears and how a translator "
        "verifies it.[/]\n"
        "  To install a real model (OPUS-MT, converted once on a machine with internet), see "
        "docs/language.md, 'Converting and installing an OPUS-MT model'; then run "
        "'hotline demo --models DIR' (or set HOTLINE_MODELS=DIR).\n"
        "[yellow]机器翻译：未安装真实模型，本演示使用刚刚生成的玩具替代模型（单层、随机权重）：其译稿"
        "毫无意义，仅用于展示真实引擎的译稿出现在何处、译员如何核实。[/]\n"
        "  安装真实模型（OPUS-MT，在有互联网的机器上转换一次）见 docs/language.md"
        "“转换并安装 OPUS-MT 模型”；\n  然后运行 'hotline demo --models 目录'"
        "（或设置 HOTLINE_MODELS=目录）。"
    )
    return built


def configure_translation(home: NodeHome, models: Path) -> None:
    """The node reads its party's language and translates with CTranslate2 from ``models``."""
    home.set_translation(
        {
            "reading": [READING.get(home.load_config().party, "en")],
            "providers": [{"kind": "ctranslate2", "models": str(models)}],
        }
    )


def _until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def agree_documents(
    inviter: httpx.Client, acceptor: httpx.Client, link: str, console: Console
) -> Glossary:
    """Version 1 of the shipped phrasebook and glossary, proposed by the inviter and
    countersigned by the acceptor (``hotline phrasebook propose`` / ``accept``); returns
    the glossary in force, read back from the link and checked against its digest."""
    for name in DOCUMENTS:
        _agree(inviter, acceptor, link, name, console)
    state = acceptor.get(f"/api/v1/links/{link}/glossary", params={"content": "true"}).json()
    glossary = parse_glossary(glossary_document(state["content"]))
    if glossary.digest() != state["digest"]:
        raise RuntimeError("the glossary in force does not match its signed digest")
    return glossary


def _agree(
    inviter: httpx.Client, acceptor: httpx.Client, link: str, name: str, console: Console
) -> None:
    proposed = inviter.post(f"/api/v1/links/{link}/{name}/proposals")
    proposed.raise_for_status()
    version = proposed.json()["version"]
    state = f"/api/v1/links/{link}/{name}"
    _until(
        lambda: any(
            v["version"] == version and v["state"] == "proposed"
            for v in acceptor.get(state).json()["versions"]
        ),
        f"the {name} proposal did not arrive",
    )
    acceptor.post(f"{state}/{version}/accept").raise_for_status()
    _until(
        lambda: inviter.get(state).json()["version"] == version,
        f"the {name} was not countersigned",
    )
    agreed = acceptor.get(state).json()
    console.print(
        f"{name.title()} version {version} of link [bold]{link}[/] signed by both sides "
        f"({' and '.join(agreed['signed_by'])}; digest {agreed['digest'][:16]}…).\n"
        f"线路 {link} 的{'短语手册' if name == 'phrasebook' else '术语表'}第 {version} 版"
        "已由双方签署。"
    )


@dataclass
class Understanding:
    """What became of one message on the way to its reader."""

    agreed: dict[str, Any] | None = None  # the message view's ``agreed``
    draft: dict[str, Any] | None = None  # the receiver's first rendering (machine or none)
    verified: dict[str, Any] | None = None  # the receiver's translator's rendering
    understood: dict[str, Any] | None = None  # that rendering, as it reached the sender
    notes: list[str] = field(default_factory=list)


def message_request(item: dict[str, Any], ref: str | None) -> dict[str, Any]:
    """The local API request for a script item: an agreed text or free text."""
    request: dict[str, Any]
    if "entry" in item:
        request = {"entry": item["entry"], "parameters": item["parameters"]}
    else:
        request = {"text": item["text"], "lang": item["lang"]}
        if "subject" in item:
            request["subject"] = item["subject"]
    if ref is not None:
        request["ref"] = ref
    return request


def _rendering(client: httpx.Client, message_id: str, side: str) -> dict[str, Any] | None:
    response = client.get(f"/api/v1/messages/{message_id}/translations")
    response.raise_for_status()
    found = [t for t in response.json()["translations"] if t["side"] == side]
    return found[0] if found else None


def _settled(
    client: httpx.Client, message_id: str, side: str, states: tuple[str, ...]
) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def reached() -> bool:
        found = _rendering(client, message_id, side)
        if found is not None and found["state"] in states:
            seen.append(found)
            return True
        return False

    _until(reached, f"{message_id}: no {side} rendering in {states}", timeout=60)
    return seen[-1]


def follow(
    clients: dict[str, httpx.Client], item: dict[str, Any], sender: str, receiver: str, sent: str
) -> Understanding:
    """Wait for what the receiver makes of message ``sent``: the agreed text's renderings,
    or the machine draft; then, if the script says so, the receiver's translator verifies
    it and the verified rendering travels back to the sender."""
    found = Understanding()
    if "entry" in item:
        found.agreed = clients[receiver].get(f"/api/v1/messages/{sent}").json()["agreed"]
        return found
    found.draft = _settled(clients[receiver], sent, "ours", ("machine", "none", "verified"))
    verify = item.get("verify")
    if verify is None:
        return found
    response = clients[receiver].post(
        f"/api/v1/messages/{sent}/translations/verify",
        json={"target": READING[receiver], "text": verify, "by": TRANSLATOR},
    )
    response.raise_for_status()
    found.verified = response.json()
    found.understood = _settled(clients[sender], sent, "theirs", ("verified",))
    return found


def highlighted(text: str, glossary: Glossary) -> tuple[str, list[str]]:
    """``text`` as rich markup with the glossary's terms in reverse video, and the ids
    of the terms found, in order."""
    parts, at, terms = [], 0, []
    for span in sorted(glossary.find_terms(text), key=lambda s: (s.start, -s.end)):
        if span.start < at:
            continue
        parts += [
            escape(text[at : span.start]),
            f"[reverse]{escape(text[span.start : span.end])}[/]",
        ]
        at = span.end
        if span.term not in terms:
            terms.append(span.term)
    parts.append(escape(text[at:]))
    return "".join(parts), terms


def term_lines(glossary: Glossary, term_id: str) -> list[str]:
    """The glossary's word on a term: each side's own term, and where the two differ."""
    term = glossary.terms[term_id]
    sides = "; ".join(
        f"{glossary.sides[side].get('en', side)} / {glossary.sides[side].get('zh-Hans', side)}: "
        f"[bold]{escape(entry.term['en'])}[/] / [bold]{escape(entry.term['zh-Hans'])}[/]"
        for side, entry in term.sides.items()
    )
    differs = " — [yellow]the definitions differ / 双方定义不同[/]" if term.differs else ""
    lines = [f"glossary term / 术语表术语 — {sides}{differs}"]
    if term.difference is not None:
        lines += [escape(term.difference["en"]), escape(term.difference["zh-Hans"])]
    return lines


def badge(rendering: dict[str, Any]) -> str:
    """The reader's badge for a rendering, in both languages."""
    if rendering["state"] == "verified":
        return (
            f"verified by {rendering['verified_by']}, {rendering['to_verified_ms']} ms after "
            f"arrival / 已由 {rendering['verified_by']} 核实"
        )
    if rendering["state"] == "machine":
        machine = rendering["provenance"].get("machine", {})
        return (
            f"machine translation (unverified; {machine.get('kind')}, model "
            f"{machine.get('model')}) / 机器翻译（未经核实）"
        )
    return f"no translation ({rendering['reason']}) / 无译文"


__all__ = [
    "Understanding",
    "agree_documents",
    "badge",
    "configure_translation",
    "follow",
    "highlighted",
    "message_request",
    "prepare_models",
    "term_lines",
]
