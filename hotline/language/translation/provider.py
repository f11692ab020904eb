"""What a translation provider is: something that turns a batch of texts into another language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hotline.language.translation.outcome import Outcome, ProviderKind


class Provider(Protocol):
    """One engine: a local model runner or a translation server.

    ``translate`` returns one outcome per text, in order. It reports what it knows how to
    report (an unsupported pair, an unreachable server, a full queue, its own timeout) as
    ``NotTranslated`` values; anything else it raises is turned into one by the chain, which
    also stops waiting for it at the chain's deadline. It never blocks the event loop.
    ``source`` and ``target`` are Hotline tags ("en", "zh-Hans"); the provider maps them to
    its engine's codes.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> ProviderKind: ...

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[Outcome]: ...

    async def aclose(self) -> None: ...
