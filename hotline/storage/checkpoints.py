"""SQLite: copying the write-ahead log back into the database, off the commit path.

By default SQLite checkpoints inside whichever commit takes the log past 1,000
pages: that commit then writes and syncs a few megabytes of the database file,
many times a normal commit's work, and the send waiting on it sees it as a
latency outlier. A serving node turns that off (``PRAGMA
wal_autocheckpoint=0`` on its connections, see
:func:`~hotline.storage.database.make_engine`) and runs a passive checkpoint from
this thread instead, every 50 ms after commits: small ones, which copy what no
reader still needs, never wait for readers or writers, and let commits go on.
The log starts again from the top at the first commit after a checkpoint that
copied everything, so it stays short, and reads stay fast. The trade-off: one
more thread per serving node, and a log that may grow while a
reader holds old pages (a passive checkpoint copies only what no reader needs).
A slow disk still slows commits; this only keeps the checkpoint's work out of
them. Measurements: bench/RESULTS.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger("hotline.storage")

CHECKPOINT_INTERVAL_SECONDS = 0.05


class WalCheckpointer:
    """Every ``interval`` seconds, if anything was committed since the last one, a
    passive checkpoint of the engine's database; ``observe`` gets how long each
    one took, in seconds."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = CHECKPOINT_INTERVAL_SECONDS,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.observe = observe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
        self._commits = 0  # only ever incremented; read by the thread
        self.rounds = 0  # rounds the thread has looked for commits (only incremented)

    def _committed(self, _connection: Any) -> None:
        self._commits += 1

    def start(self) -> None:
        event.listen(self.engine, "commit", self._committed)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
            event.remove(self.engine, "commit", self._committed)

    def checkpoint(self) -> tuple[int, int]:
        """One passive checkpoint: (frames in the log, frames copied to the database)."""
        started = time.perf_counter()
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            # Outside any transaction: the driver's autocommit (see make_engine).
            _busy, logged, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cursor.close()
        finally:
            connection.close()
        if self.observe is not None:
            self.observe(time.perf_counter() - started)
        return int(logged), int(copied)

    def _run(self) -> None:
        seen = self._commits
        while not self._stop.wait(self.interval):
            self.rounds += 1
            if self._commits == seen:
                continue
            seen = self._commits
            try:
                self.checkpoint()
            except Exception:  # the next round tries again; commits never depend on it
                log.exception("WAL checkpoint failed")
