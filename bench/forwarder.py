"""A userspace TCP forwarder that adds a one-way delay, to put an ocean or a
satellite between two nodes on one machine (the kernel here has no netem).

Every byte is held ``one_way_s`` in each direction, in order. A connection accepted
here is up at once, where over a real path the TCP handshake costs a round trip
before the client's first bytes can leave: the forwarder charges it by holding
what the client sends until one round trip after the accept (then the one-way
delay). So a new connection's first response comes back after the same two round
trips (TCP, then the request) as over a real path of that length, and a TLS
handshake adds its round trip as it would. Not modelled: loss, bandwidth, TCP's
slow start (the messages here are small).

It runs its own event loop in a thread, so the benchmark's waiting does not
disturb its timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

HOST = "127.0.0.1"
CHUNK = 65_536


class DelayForwarder:
    """Forwards connections on ``127.0.0.1:port`` to ``127.0.0.1:target_port``."""

    def __init__(self, target_port: int, one_way_s: float) -> None:
        self.target_port = target_port
        self.one_way_s = one_way_s
        self.port = 0
        self.connections = 0  # accepted so far
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="forwarder", daemon=True)

    def start(self) -> DelayForwarder:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the forwarder did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        async with self._server:
            await self._stopped.wait()
            self._server.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        try:
            server_r, server_w = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            client_w.close()
            return
        # The client's first bytes leave after the TCP handshake's round trip.
        not_before = accepted + 2 * self.one_way_s
        try:
            await asyncio.gather(
                self._pump(client_r, server_w, not_before), self._pump(server_r, client_w, 0.0)
            )
        finally:
            for writer in (client_w, server_w):
                writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, not_before: float
    ) -> None:
        """Copy one direction, each chunk ``one_way_s`` after it was read (in order)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        delivering = asyncio.create_task(deliver())
        try:
            while True:
                try:
                    data = await reader.read(CHUNK)
                except OSError:
                    data = b""
                queue.put_nowait((max(loop.time(), not_before) + self.one_way_s, data))
                if not data:
                    break
            await delivering
        except (OSError, RuntimeError):
            pass
        finally:
            if not delivering.done():
                delivering.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await delivering
