"""Small load clients the runner pins to the load core: websocket echo, idle sockets, TTFB.

``python -m benchmarks.clients echo PORT PATH CONNECTIONS SECONDS``
    Sequential 32-byte text echoes on every connection; prints one JSON line (messages,
    mismatches, client CPU seconds).
``python -m benchmarks.clients idle PORT PATH CONNECTIONS``
    Opens the connections, checks one echo on each, prints ``READY n`` and holds them until
    stdin closes.
``python -m benchmarks.clients ttfb PORT PATH SECONDS``
    Sequential requests on fresh connections; prints the time from sending the request to the
    first body chunk's bytes, per request, as JSON.
``python -m benchmarks.clients fanout PORTS PATH SOCKETS PUBLISH MESSAGES BURST``
    Opens SOCKETS websockets spread over the comma-separated PORTS, waits for each one's
    ``joined``, prints ``JOINED`` and waits for a line on stdin; then triggers publishes with
    ``GET PUBLISH?seq=N``: MESSAGES spaced 0.2 s apart (time until every socket has each one),
    then BURST back to back (messages delivered per second). Prints one JSON line. The
    protocol is described in ``benchmarks/project/fanout.py``.

The websocket client is a minimal RFC 6455 one (frames pre-masked once, asyncio protocols,
uvloop when installed): a full client library costs about as much per message as the server
under test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
from collections.abc import Coroutine
from typing import Final, TypeVar, cast

T = TypeVar("T")

MESSAGE: Final = b"0123456789abcdef0123456789ABCDEF"  # 32 bytes
MASK: Final = b"\x12\x34\x56\x78"
FRAME: Final = (
    bytes([0x81, 0x80 | len(MESSAGE)])
    + MASK
    + bytes(b ^ MASK[i % 4] for i, b in enumerate(MESSAGE))
)
REPLY: Final = bytes([0x81, len(MESSAGE)]) + MESSAGE
CLOSE: Final = (
    bytes([0x88, 0x82]) + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(b"\x03\xe8"))
)


def _handshake(path: str, port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Origin: http://127.0.0.1\r\n\r\n"
    ).encode()


class EchoProtocol(asyncio.Protocol):
    """One websocket connection: handshake, then one echo in flight at a time."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.replied: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None
        self.running = False
        self.messages = 0
        self.mismatches = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                return
            self.upgraded.set_result(None)
        while len(self.buffer) >= len(REPLY):
            if self.buffer[: len(REPLY)] != REPLY:
                self.mismatches += 1
            del self.buffer[: len(REPLY)]
            self.messages += 1
            if self.replied is not None and not self.replied.done():
                self.replied.set_result(None)
            if self.running and self.transport is not None:
                self.transport.write(FRAME)

    def connection_lost(self, exc: Exception | None) -> None:
        self.running = False
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during the handshake"))
        if self.replied is not None and not self.replied.done():
            self.replied.set_exception(ConnectionError("closed before the echo"))

    async def echo_once(self) -> None:
        """Send one message and wait for its echo."""
        assert self.transport is not None
        self.replied = asyncio.get_running_loop().create_future()
        self.transport.write(FRAME)
        await self.replied

    def close(self) -> None:
        """Send a close frame and drop the connection."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(CLOSE)
            self.transport.close()


async def _open(port: int, path: str, count: int) -> list[EchoProtocol]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(50)

    async def one() -> EchoProtocol:
        async with gate:
            _, protocol = await loop.create_connection(
                lambda: EchoProtocol(_handshake(path, port)), "127.0.0.1", port
            )
            await protocol.upgraded
            await protocol.echo_once()
            return protocol

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def echo(port: int, path: str, count: int, seconds: float) -> dict[str, float]:
    """Sequential echoes on ``count`` connections for ``seconds``."""
    protocols = await _open(port, path, count)
    before = sum(p.messages for p in protocols)
    cpu, start = time.process_time(), time.perf_counter()
    for protocol in protocols:
        protocol.running = True
        assert protocol.transport is not None
        protocol.transport.write(FRAME)
    await asyncio.sleep(seconds)
    for protocol in protocols:
        protocol.running = False
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    messages = sum(p.messages for p in protocols) - before
    await asyncio.sleep(0.05)
    for protocol in protocols:
        protocol.close()
    return {
        "messages": messages,
        "per_second": messages / elapsed,
        "mismatches": sum(p.mismatches for p in protocols),
        "client_cpu": cpu / elapsed,
    }


async def idle(port: int, path: str, count: int) -> None:
    """Hold ``count`` open, answered websockets until stdin closes."""
    protocols = await _open(port, path, count)
    print(f"READY {len(protocols)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for protocol in protocols:
        protocol.close()
    await asyncio.sleep(0.2)


async def ttfb(port: int, path: str, seconds: float, marker: bytes) -> dict[str, list[float]]:
    """Time to the first body chunk of ``path``, one fresh connection per request."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or not times:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        writer.write(request.encode())
        seen = b""
        while marker not in seen:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError(f"no {marker!r} in the response: {seen[:200]!r}")
            seen += data
        times.append(time.perf_counter() - start)
        while await reader.read(65536):
            pass
        writer.close()
        await writer.wait_closed()
    return {"ttfb": times}


class GroupProtocol(asyncio.Protocol):
    """One receiving websocket: handshake, ``joined``, then every text frame timestamped."""

    def __init__(self, request: bytes, arrivals: dict[int, list[float]]) -> None:
        self.request = request
        self.arrivals = arrivals
        self.buffer = bytearray()
        self.joined = asyncio.get_running_loop().create_future()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self._fail(head.split(b"\r\n")[0].decode())
                return
            self.upgraded = True
        while len(self.buffer) >= 2:
            opcode, length, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, start = int.from_bytes(self.buffer[2:4], "big"), 4
            if len(self.buffer) < start + length:
                return
            payload = bytes(self.buffer[start : start + length])
            del self.buffer[: start + length]
            if opcode == 0x8:
                self._fail(f"closed by the server: {payload[:2].hex()} {payload[2:]!r}")
            elif opcode == 0x1 and payload == b"joined":
                if not self.joined.done():
                    self.joined.set_result(None)
            elif opcode == 0x1:
                self.arrivals.setdefault(int(payload), []).append(now)

    def _fail(self, why: str) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(why))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail("closed before joining")

    def close(self) -> None:
        """Send a close frame and drop the connection."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(CLOSE)
            self.transport.close()


async def _publish(port: int, path: str, seq: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path}?seq={seq} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )
    head = await reader.read(65536)
    writer.close()
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"publish answered {head[:80]!r}")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else -1.0


async def _delivered(
    arrivals: dict[int, list[float]], seqs: range, count: int, limit: float
) -> None:
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        if all(len(arrivals.get(seq, ())) >= count for seq in seqs):
            return
        await asyncio.sleep(0.001)


async def fanout(
    ports: list[int], path: str, count: int, publish: str, messages: int, burst: int
) -> dict[str, float]:
    """Fan-out latency (time until all ``count`` sockets have a message) and burst throughput."""
    loop = asyncio.get_running_loop()
    arrivals: dict[int, list[float]] = {}
    gate = asyncio.Semaphore(50)

    async def one(index: int) -> GroupProtocol:
        port = ports[index % len(ports)]
        async with gate:
            _, protocol = await loop.create_connection(
                lambda: GroupProtocol(_handshake(path, port), arrivals),
                "127.0.0.1",
                port,
            )
            await asyncio.wait_for(protocol.joined, 30)
            return protocol

    protocols = list(await asyncio.gather(*(one(index) for index in range(count))))
    await asyncio.sleep(0.5)  # let the last joins settle in the backend
    print("JOINED", flush=True)  # the runner reads the server's CPU time, then says go
    await loop.run_in_executor(None, sys.stdin.readline)
    to_all: list[float] = []
    per_socket: list[float] = []
    client_cpu: list[float] = []  # this client's own CPU per message: its share of to_all
    complete = 0
    for seq in range(messages):
        cpu, started = time.process_time(), time.perf_counter()
        await _publish(ports[seq % len(ports)], publish, seq)
        await _delivered(arrivals, range(seq, seq + 1), count, 3.0)
        client_cpu.append((time.process_time() - cpu) * 1000)
        times = arrivals.get(seq, [])
        per_socket += [(at - started) * 1000 for at in times]
        if len(times) >= count:
            complete += 1
            to_all.append((max(times) - started) * 1000)
        else:
            to_all.append(3000.0)  # not everyone within 3 s: counted as 3 s
        await asyncio.sleep(0.2)
    first = 1_000_000
    seqs = range(first, first + burst)
    started = time.perf_counter()
    for seq in seqs:
        await _publish(ports[seq % len(ports)], publish, seq)
    await _delivered(arrivals, seqs, count, 15.0)
    got = [at for seq in seqs for at in arrivals.get(seq, [])]
    elapsed = (max(got) - started) if got else 1.0
    for protocol in protocols:
        protocol.close()
    await asyncio.sleep(0.2)
    return {
        "delivered": len(got),
        "expected": count * burst,
        "per_second": len(got) / elapsed,
        "all_p50_ms": _percentile(to_all, 0.5),
        "all_p99_ms": _percentile(to_all, 0.99),
        "socket_p99_ms": _percentile(per_socket, 0.99),
        "client_cpu_p50_ms": _percentile(client_cpu, 0.5),
        "complete": complete,
        "delivered_all": sum(len(times) for times in arrivals.values()),
    }


def _run(coroutine: Coroutine[object, object, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    """Parse the command line, run one client, print its JSON result."""
    mode, path = sys.argv[1], sys.argv[3]
    port = int(sys.argv[2]) if mode != "fanout" else 0
    if mode == "echo":
        print(json.dumps(_run(echo(port, path, int(sys.argv[4]), float(sys.argv[5])))))
    elif mode == "idle":
        _run(idle(port, path, int(sys.argv[4])))
    elif mode == "ttfb":
        print(json.dumps(_run(ttfb(port, path, float(sys.argv[4]), b"first chunk"))))
    elif mode == "fanout":
        ports = [int(each) for each in sys.argv[2].split(",")]
        count, publish = int(sys.argv[4]), sys.argv[5]
        result = fanout(ports, path, count, publish, int(sys.argv[6]), int(sys.argv[7]))
        print(json.dumps(_run(result)))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
