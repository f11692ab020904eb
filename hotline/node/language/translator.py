"""The node's translator: incoming free text into the node's reading languages, in the background.

It follows the node's event stream (``message.received``), takes what arrived in batches, asks
the translation chain (providers tried in order, within its deadline; engines run in their own
threads) and stores each result, or why there is none, in one transaction. Delivery never waits
for it: a message is committed, receipted and shown in its original before the translator even
sees it, and a provider that is absent, slow or failing only leaves a "no translation" row.
Nor does it compete with delivery: it works in a pause of the node's writes (or half a second
after a message arrived, if a burst goes on), on everything that arrived by then.

At start it catches up with incoming messages that have no rendering yet (the node was down,
or the reading languages changed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from anyio import to_thread

from ...language.translation import (
    NotTranslated,
    Outcome,
    Translated,
    TranslationChain,
    build_chain,
)
from ...language.translation.detection import LanguageDetector
from ...language.translation.settings import NodeTranslationSettings
from ...protocol.kinds import Kind
from ..events import EventRow, last_event_id
from ..runtime import NodeRuntime
from .translations import Rendering, Translations, Waiting

log = logging.getLogger("hotline.translator")

# The translator waits for a pause this long in the node's writes before it works...
PAUSE_S = 0.03
# ...but no longer than this after a message arrived.
MAX_DEFER_S = 0.5


class NodeTranslator:
    def __init__(
        self,
        node: NodeRuntime,
        settings: NodeTranslationSettings,
        *,
        chain: TranslationChain | None = None,
    ) -> None:
        self.node = node
        self.settings = settings
        self.translations = Translations(node)
        self._detector = LanguageDetector(
            settings.detect, high_accuracy=settings.detect_accuracy == "high"
        )
        self.chain = chain or build_chain(settings, detector=self._detector)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            await self.chain.aclose()

    async def _run(self) -> None:
        after = await to_thread.run_sync(self._last_event)
        feed = self.node.event_feed(after)
        # Lingua loads its language models on first need: seconds of CPU, not on a message.
        await to_thread.run_sync(self._detector.warm_up)
        await self._catch_up()
        log.info("translator ready, reading %s", ", ".join(self.settings.reading))
        while not self._stopping.is_set():
            rows = await feed.next(1.0)
            waiting = [w for w in map(self._arrived, rows) if w is not None]
            if not waiting:
                continue
            # Delivery first: translate in a pause of the node's writes, taking along
            # what arrived meanwhile (under a burst, a few large batches).
            await self._pause()
            rows = await feed.next(0)
            waiting.extend(w for w in map(self._arrived, rows) if w is not None)
            size = self.settings.batch_size
            for start in range(0, len(waiting), size):
                await self.translate(waiting[start : start + size])

    async def _pause(self) -> None:
        """Until nothing was committed here for :data:`PAUSE_S`, or :data:`MAX_DEFER_S`
        went by: the translator's detection, inference and writes then take no CPU
        and no write lock from a burst of deliveries."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MAX_DEFER_S
        committed = self.node.committed
        while (left := deadline - loop.time()) > 0:
            seen = committed.generation
            if await committed.wait(seen, min(PAUSE_S, left)) == seen:
                return

    async def translate(self, batch: Sequence[Waiting]) -> None:
        """Translate a batch into each language it lacks, and store the results."""
        try:
            renderings = await self._render(batch)
            await to_thread.run_sync(self.translations.store, renderings)
        except Exception:  # a failed batch stays untranslated; the loop must outlive it
            log.exception("translating %d messages failed", len(batch))

    async def _render(self, batch: Sequence[Waiting]) -> list[Rendering]:
        renderings: list[Rendering] = []
        for target in self.settings.reading:
            groups: dict[str | None, list[Waiting]] = {}
            for item in batch:
                if target in item.targets:
                    groups.setdefault(item.lang, []).append(item)
            for expected, items in groups.items():
                outcomes = await self.chain.translate(
                    [item.text for item in items], target, expected_source=expected
                )
                for item, outcome in zip(items, outcomes, strict=True):
                    renderings.append(_rendering(item, target, outcome))
        return renderings

    async def _catch_up(self) -> None:
        reading = self.settings.reading
        while not self._stopping.is_set():
            batch = await to_thread.run_sync(
                lambda: self.translations.waiting(reading, limit=self.settings.batch_size)
            )
            if not batch:
                return
            await self.translate(batch)
            left = await to_thread.run_sync(
                lambda: self.translations.waiting(reading, limit=self.settings.batch_size)
            )
            if [w.message_id for w in left] == [w.message_id for w in batch]:
                return  # nothing could be stored (the database refused): retry at next start

    def _last_event(self) -> int:
        with self.node.reading() as session:
            return last_event_id(session)

    def _arrived(self, row: EventRow) -> Waiting | None:
        if row.type != "message.received" or row.data.get("kind") != Kind.MESSAGE.value:
            return None
        body = row.data.get("body")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return None
        lang = body.get("lang")
        return Waiting(
            message_id=str(row.data.get("id")),
            link_id=row.link_id or "",
            text=body["text"],
            lang=lang if isinstance(lang, str) else None,
            targets=self.settings.reading,
        )


def _rendering(item: Waiting, target: str, outcome: Outcome) -> Rendering:
    if isinstance(outcome, NotTranslated):
        return Rendering(
            item.message_id,
            target,
            item.lang,
            None,
            {},
            reason=outcome.reason.value,
            detail=outcome.detail,
        )
    assert isinstance(outcome, Translated)
    provenance = outcome.provenance
    return Rendering(
        item.message_id,
        target,
        outcome.source,
        outcome.text,
        {
            "provider": provenance.provider,
            "kind": provenance.kind.value,
            "engine": provenance.engine,
            "model": provenance.model,
        },
    )


__all__ = ["NodeTranslator"]
