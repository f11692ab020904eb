"""Group commit for sends: requests that arrive while a transaction is being
written wait for the next one and share it (one fsync for many messages).

Each caller still returns only after its own message is durable; a lone request
goes straight through, so sequential latency is unchanged. On SQLite a lone
request, when no other thread of this process is writing, is written on the event
loop itself. The trade-off: the loop is blocked for that one small transaction
(its fsync included), in exchange for sparing two thread hand-offs, which cost as
much as the transaction or more when every core is busy. Only a lone SQLite
transaction is worth it: groups, PostgreSQL (whose transactions wait on the
network) and a busy writer still go to a worker thread, so the loop never waits
for more than one small local write. Measurements: bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
from functools import partial

from anyio import to_thread

from ...storage.models import Message
from ..home import NodeError
from ..runtime import NodeRuntime
from .outgoing import Outgoing, send_many, send_many_if_idle

MAX_GROUP = 256


class GroupCommit:
    def __init__(self, node: NodeRuntime, *, max_group: int = MAX_GROUP) -> None:
        self.node = node
        self.max_group = max_group
        self._waiting: list[tuple[Outgoing, asyncio.Future[Message]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def send(self, item: Outgoing) -> Message:
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="group-commit")
        self.node.sends_queued(1)
        return await future

    async def _write(self) -> None:
        while self._waiting:
            group = self._waiting[: self.max_group]
            del self._waiting[: self.max_group]
            try:
                items = [item for item, _ in group]
                results = None
                if len(items) == 1:
                    results = send_many_if_idle(self.node, items, queued=True)
                if results is None:
                    results = await to_thread.run_sync(
                        partial(send_many, self.node, items, queued=True)
                    )
            except Exception as exc:  # nothing of this group was committed
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(group, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, NodeError):
                    future.set_exception(result)
                else:
                    future.set_result(result)
