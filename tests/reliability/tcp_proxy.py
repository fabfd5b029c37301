"""A TCP proxy in front of PostgreSQL that can play a database restart: every open
connection reset (RST on both sides) and new connections refused until it accepts again.

It runs its own event loop in a background thread, so a test drives it with plain calls.

Its port stays reserved for its whole life, listening or not: a socket bound to it with
``SO_REUSEPORT`` that never listens holds it, so that no other socket (another test
worker's server, the local end of an outgoing connection) can take it while the proxy
refuses, and connecting to it meanwhile is refused as by a stopped server.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_LINGER_ZERO = struct.pack("ii", 1, 0)  # close() then sends RST instead of FIN
#: A bound on a failure of the proxy's own loop (a call normally takes microseconds).
CALL_SECONDS = 60.0


def _socket_on(port: int, *, reuse_address: bool = False) -> socket.socket:
    """A TCP socket bound to ``127.0.0.1:port`` beside the other sockets bound there by this
    proxy (``SO_REUSEPORT``, one user); ``port`` 0: a free port. ``reuse_address``: even
    while connections of an earlier listener are in TIME_WAIT."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


@dataclass(eq=False)  # compared and hashed by identity (kept in a set)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class TcpProxy:
    """``127.0.0.1:<port>`` forwarding to ``upstream``; ``port`` is fixed for its lifetime."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._reservation = _socket_on(0)  # bound, never listening: holds the port
        self.port: int = self._reservation.getsockname()[1]
        self.accepted = 0
        self.reset_connections = 0
        self._pairs: set[_Pair] = set()
        #: Bumped by every reset: a connection accepted before it (its upstream still being
        #: opened, so not in ``_pairs`` yet) is dropped rather than let through the reset.
        self._generation = 0
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # --- control, from the test's thread -----------------------------------------------

    def start(self, *, accepting: bool = True) -> None:
        self._thread.start()
        if accepting:
            self.accept()

    def accept(self) -> None:
        """Listen (again) on ``port``."""
        self._call(self._listen())

    def refuse(self) -> None:
        """Stop listening: new connections get ECONNREFUSED; open ones are left alone."""
        self._call(self._close_listener())

    def reset(self) -> int:
        """Reset every open connection on both sides; returns how many there were."""
        return int(self._call(self._reset_all()))

    @property
    def open_connections(self) -> int:
        return len(self._pairs)

    def close(self) -> None:
        self.refuse()
        self.reset()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CALL_SECONDS)
        assert not self._thread.is_alive(), "the proxy's loop did not stop"
        self._loop.close()
        self._reservation.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=CALL_SECONDS)

    # --- on the proxy's loop -----------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            sock = _socket_on(self.port, reuse_address=True)
            self._server = await asyncio.start_server(self._handle, sock=sock)

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()  # not wait_closed(): that would wait for open connections
            self._server = None

    async def _reset_all(self) -> int:
        self._generation += 1
        pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)
        self.reset_connections += len(pairs)
        return len(pairs)

    def _drop(self, pair: _Pair) -> None:
        self._pairs.discard(pair)
        for writer in (pair.client, pair.upstream):
            sock = writer.get_extra_info("socket")
            if sock is not None and sock.fileno() != -1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
            writer.transport.abort()
        for task in pair.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        generation = self._generation
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = _Pair(writer, up_writer)
        if generation != self._generation:  # reset while its upstream was being opened
            self._drop(pair)
            self.reset_connections += 1
            return
        self._pairs.add(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair)),
            asyncio.create_task(self._pump(up_reader, writer, pair)),
        ]

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: _Pair
    ) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            # One side closed: close both, the way a server that goes away does.
            if pair in self._pairs:
                self._pairs.discard(pair)
                for other in (pair.client, pair.upstream):
                    other.close()
                for task in pair.tasks:
                    if task is not asyncio.current_task():
                        task.cancel()


@contextmanager
def tcp_proxy(host: str, port: int, *, accepting: bool = True) -> Iterator[TcpProxy]:
    proxy = TcpProxy(host, port)
    proxy.start(accepting=accepting)
    try:
        yield proxy
    finally:
        proxy.close()
