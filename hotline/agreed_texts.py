"""Agreed texts: wording both parties accepted in advance, in every working language.

A message or receipt that uses one carries only its id and parameters, so each side
renders it exactly, in its own language, with no translation in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AgreedText:
    id: str
    texts: dict[str, str]  # language → template with {parameters}
    parameters: tuple[str, ...] = ()

    def render(self, language: str, parameters: dict[str, Any]) -> str:
        template = self.texts.get(language) or self.texts["en"]
        missing = [p for p in self.parameters if p not in parameters]
        if missing:
            raise KeyError(f"agreed text {self.id} needs {missing}")
        return template.format(**{p: parameters[p] for p in self.parameters})


HOLDING_REPLY = AgreedText(
    "holding-reply-v1",
    {
        "en": "Received. Your message is under review. We will respond by {respond_by}.",
        "zh-Hans": "已收到。贵方来文正在研究中。我方将于{respond_by}前答复。",
    },
    ("respond_by",),
)

DECLINE_REASONS: dict[str, AgreedText] = {
    t.id: t
    for t in (
        AgreedText(
            "decline-call-back",
            {
                "en": "Unable to talk now; we will call back.",
                "zh-Hans": "现在无法通话，我方将回电。",
            },
        ),
        AgreedText(
            "decline-in-writing",
            {"en": "Please send your message in writing.", "zh-Hans": "请以书面形式发送贵方信息。"},
        ),
        AgreedText(
            "decline-not-authorised",
            {
                "en": "The person you need is not available on this link.",
                "zh-Hans": "贵方所需人员不在此线路。",
            },
        ),
        AgreedText(
            "decline-technical",
            {"en": "Technical difficulties on our side.", "zh-Hans": "我方出现技术故障。"},
        ),
    )
}

CATALOGUE: dict[str, AgreedText] = {HOLDING_REPLY.id: HOLDING_REPLY, **DECLINE_REASONS}
