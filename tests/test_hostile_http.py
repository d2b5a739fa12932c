"""Hostile HTTP clients against ``python -m aiodjango`` on 127.0.0.1, over raw sockets.

A client library would clean these inputs up, so each case is bytes on a socket. Every case
gets a 4xx (or a 503 where the pool is saturated) or a closed connection, never a 500, and the
server keeps serving both kinds of route after each group. Exit deadlines are checked with
generous hang guards, not timing assertions.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.serving.harness import Server, copy_project, free_port, running

HOST = b"Host: 127.0.0.1\r\n"
HANG_GUARD = 30.0  # seconds a socket read may take before the case counts as hung

ENV = {
    "SERVING_DEBUG": "0",
    "SERVING_KEEPALIVE_TIMEOUT": "1",
    "SERVING_WSGI_THREADS": "2",
    "SERVING_WSGI_QUEUE_SIZE": "2",
    "SERVING_WSGI_QUEUE_TIMEOUT": "0.5",
    "SERVING_DATA_UPLOAD_MAX_MEMORY_SIZE": "1000",
    "SERVING_WSGI_MAX_UPLOAD_SIZE": "5000",
    "SERVING_SHUTDOWN_TIMEOUT": "1",
}


def _exchange(port: int, data: bytes, *, pause: float = 0.0, tail: bytes = b"") -> bytes:
    """Send ``data`` (then ``tail`` after ``pause``); read one response or until closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD) as sock:
        try:
            sock.sendall(data)
            if tail:
                time.sleep(pause)
                sock.sendall(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = b""
        while not _complete(received):
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        return received


def _complete(received: bytes) -> bool:
    """Whether ``received`` holds a whole final response (as a client leaving after it would)."""
    while received.startswith(b"HTTP/1.1 100 "):
        received = received.partition(b"\r\n\r\n")[2]
    head, sep, body = received.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False  # no length: read until the server closes


def _status(response: bytes) -> int | None:
    """The first status code in ``response``, or None if the server just closed."""
    if not response.startswith(b"HTTP/1."):
        return None
    return int(response.split(b" ", 2)[1])


def _get(port: int, path: str, host: bytes = HOST) -> tuple[int | None, bytes]:
    request = f"GET {path} HTTP/1.1\r\n".encode() + host + b"Connection: close\r\n\r\n"
    response = _exchange(port, request)
    return _status(response), response.partition(b"\r\n\r\n")[2]


def _still_serving(port: int) -> None:
    assert _get(port, "/async/") == (200, b"async VERSION-1")
    assert _get(port, "/sync/") == (200, b"sync VERSION-1")


def _chunked(size: int, path: str) -> bytes:
    head = f"POST {path} HTTP/1.1\r\n".encode() + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
    block = b"x" * 1000
    chunks = b"".join(b"3e8\r\n" + block + b"\r\n" for _ in range(size // 1000))
    return head + chunks + b"0\r\n\r\n"


def _post(path: str, body: bytes, content_type: bytes = b"text/plain") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\n".encode()
        + HOST
        + b"Content-Type: "
        + content_type
        + f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )


# (name, raw request, acceptable statuses; None means the server closed without answering)
CORPUS: list[tuple[str, bytes, set[int | None]]] = [
    ("garbage line", b"GARBAGE\r\n\r\n", {400, None}),
    ("method only", b"GET\r\n\r\n", {400, None}),
    ("unknown version", b"GET /sync/ HTTP/9.9\r\n" + HOST + b"\r\n", {400, 505, None}),
    ("TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, {400, None}),
    ("no colon header", b"GET /sync/ HTTP/1.1\r\n" + HOST + b"Bad Header\r\n\r\n", {400}),
    ("NUL in header", b"GET /sync/ HTTP/1.1\r\n" + HOST + b"X-A: a\x00b\r\n\r\n", {400}),
    (
        "long header",
        b"GET /sync/ HTTP/1.1\r\n" + HOST + b"X-A: " + b"a" * 9000 + b"\r\n\r\n",
        {400, 431},
    ),
    ("long URL", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", {400, 414}),
    (
        "CL and TE",
        b"POST /body/ HTTP/1.1\r\n"
        + HOST
        + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        {400},
    ),
    (
        "two CLs",
        b"POST /body/ HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        {400},
    ),
    ("negative CL", b"POST /body/ HTTP/1.1\r\n" + HOST + b"Content-Length: -1\r\n\r\n", {400}),
    (
        "absolute-form, evil host, Django",
        b"GET http://evil.example:1234/sync/ HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n",
        {400},
    ),
    (
        "bad Host, Django",
        b"GET /sync/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        {400},
    ),
    (
        "bad Host, async",
        b"GET /async/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        {400},
    ),
    (
        "8 KB of %ff, Django",
        b"GET /" + b"%ff" * 2730 + b" HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n",
        {400, 404},  # Django refuses a path that is not UTF-8 with 400
    ),
    (
        "8 KB of %ff, async prefix",
        b"GET /async/" + b"%ff" * 2700 + b" HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n",
        {404},
    ),
    ("bad percent", b"GET /sync/%zz%g HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n", {404}),
    ("NUL escaped", b"GET /sync/%00 HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n", {404}),
    ("overlong UTF-8", b"GET /%c0%af HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n", {404}),
    (
        "raw bytes in path",
        b"GET /\xff\xfe/ HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n",
        {400, 404},
    ),
    (
        "huge CL, Django",
        b"POST /body/ HTTP/1.1\r\n" + HOST + b"Content-Length: 1000000000\r\n\r\n",
        {413},
    ),
    (
        "huge CL, async",
        b"POST /async-body/ HTTP/1.1\r\n" + HOST + b"Content-Length: 1000000000\r\n\r\n",
        {413},
    ),
    ("body over limit, Django", _post("/body/", b"x" * 1001), {413}),
    ("body over limit, async", _post("/async-body/", b"x" * 1001), {413}),
    (
        "upload over limit, Django",
        _post("/body/", b"x" * 5001, b"multipart/form-data; boundary=b"),
        {413},
    ),
    ("chunked over limit, Django", _chunked(200_000, "/body/"), {413}),
    (
        "chunked over limit, async",
        _chunked(200_000, "/async-body/"),
        {403, 413},
    ),  # CSRF may refuse it before reading the body
    (
        "bad chunk size, Django",
        b"POST /body/ HTTP/1.1\r\n"
        + HOST
        + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        {400, None},
    ),
    (
        "bad chunk size, async",
        b"POST /async-body/ HTTP/1.1\r\n"
        + HOST
        + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        {400, None},
    ),
    (
        "multipart without boundary, Django",
        _post("/body/", b"--x--", b"multipart/form-data"),
        {200, 400},
    ),
    (
        "body cut short, Django",
        b"POST /body/ HTTP/1.1\r\n" + HOST + b"Content-Length: 100\r\n\r\nabc",
        {408},
    ),
    (
        "unknown Expect, Django",
        b"POST /body/ HTTP/1.1\r\n" + HOST + b"Expect: 200-ok\r\nContent-Length: 2\r\n\r\nab",
        {417},
    ),
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int]]:
    """One server for the corpus: small limits, 2 Django threads, a short queue and timeouts."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    cwd, port = copy_project(tmp_path), free_port()
    args = ["-m", "aiodjango", "project.wsgi:app", "--port", str(port)]
    with running(args, cwd, tmp_path, ENV) as server:
        _wait_ready(server, port)
        yield server, port
    assert "Error handling request" not in server.output, server.output
    assert "Traceback" not in server.output, server.output


def _wait_ready(server: Server, port: int) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while True:
        try:
            if _get(port, "/async/")[0] == 200:
                return
        except OSError:
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"server did not start:\n{server.output}")
        time.sleep(0.1)


def test_corpus(hostile: tuple[Server, int]) -> None:
    """Every malformed, oversized or smuggling request gets its 4xx or a close; no 500."""
    server, port = hostile
    with ThreadPoolExecutor(4) as pool:  # 2 threads + 2 queued: never a 503 here
        results = list(pool.map(lambda case: _status(_exchange(port, case[1])), CORPUS))
    print(f"\nhostile HTTP corpus: {len(CORPUS)} raw requests")
    wrong = [
        (name, status, sorted(allowed, key=str))
        for (name, _, allowed), status in zip(CORPUS, results, strict=True)
        if status not in allowed
    ]
    assert wrong == [], wrong
    _still_serving(port)


def test_expect_continue(hostile: tuple[Server, int]) -> None:
    """Expect: 100-continue with a too-large Content-Length gets 413 with no 100 first; a
    body within the limit gets 100 and then its answer."""
    _, port = hostile
    with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD) as sock:
        sock.sendall(
            b"POST /body/ HTTP/1.1\r\n"
            + HOST
            + b"Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:  # a client that waits for 100 reads this, then leaves
            chunk = sock.recv(4096)
            assert chunk, head
            head += chunk
    assert head.startswith(b"HTTP/1.1 413"), head[:80]
    assert b"100 Continue" not in head
    small = _exchange(
        port,
        b"POST /body/ HTTP/1.1\r\n"
        + HOST
        + b"Content-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        pause=0.2,
        tail=b"abc",
    )
    assert small.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"), small[:80]
    assert small.endswith(b"\r\n\r\n3")


def test_expect_continue_on_an_async_view(hostile: tuple[Server, int]) -> None:
    """An async view's route answers a too-large Expect: 100-continue with 413, no 100 first
    (AIODJANGO_MAX_BODY_SIZE, 2.5 MiB by default)."""
    _, port = hostile
    with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD) as sock:
        sock.sendall(
            b"POST /async-body/ HTTP/1.1\r\n"
            + HOST
            + b"Content-Length: 10000000\r\nExpect: 100-continue\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, head
            head += chunk
    assert head.startswith(b"HTTP/1.1 413"), head[:80]
    assert b"100 Continue" not in head
    _still_serving(port)


def test_slow_clients_are_dropped_while_others_are_served(hostile: tuple[Server, int]) -> None:
    """50 clients trickling their headers do not delay others and are closed after the
    keep-alive (header) timeout, 1 s here; idle keep-alive connections too."""
    _, port = hostile
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    idle = socket.create_connection(("127.0.0.1", port))
    try:
        for sock in slow:
            sock.sendall(b"GET /async/ HTTP/1.1\r\nHo")
        _still_serving(port)
        for sock in slow:
            sock.settimeout(HANG_GUARD)
            with pytest.raises(OSError):  # the server closes: b"" or a reset on the next send
                while True:
                    sock.sendall(b"s")
                    time.sleep(0.05)
        idle.settimeout(HANG_GUARD)
        assert idle.recv(100) == b""
    finally:
        for sock in [*slow, idle]:
            sock.close()
    _still_serving(port)


def test_saturated_pool(hostile: tuple[Server, int], tmp_path: Path) -> None:
    """2 threads busy and 2 waiting: more Django requests get 503 with Retry-After at once,
    the waiting ones after 0.5 s; async views answer meanwhile; the busy ones finish."""
    _, port = hostile
    started = [tmp_path / f"started-{n}" for n in range(2)]
    results: dict[str, tuple[int | None, bytes]] = {}

    def busy(n: int) -> None:
        results[f"busy{n}"] = _get(port, f"/slow/?s=3&started={started[n]}")

    threads = [threading.Thread(target=busy, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + HANG_GUARD
    while not all(path.exists() for path in started):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with ThreadPoolExecutor(4) as pool:
        waiting = [pool.submit(_exchange, port, _get_request("/sync/")) for _ in range(4)]
        assert _get(port, "/async/") == (200, b"async VERSION-1")
        answers = [f.result() for f in waiting]
    for answer in answers:
        assert _status(answer) == 503
        assert b"\r\nRetry-After: 1\r\n" in answer
    for thread in threads:
        thread.join(HANG_GUARD)
    assert results == {"busy0": (200, b"slept 3.0"), "busy1": (200, b"slept 3.0")}
    _still_serving(port)


def _get_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\n".encode() + HOST + b"Connection: close\r\n\r\n"


def test_blocking_log_handler_does_not_stall_the_loop(tmp_path: Path) -> None:
    """A log handler that sleeps 3 s per record (on aiohttp.access and django.request): while
    the first record is still being handled, later requests have already been answered."""
    cwd, port = copy_project(tmp_path), free_port()
    log_file = tmp_path / "slow.log"
    env = {**ENV, "SERVING_BLOCKING_LOG": "3", "SERVING_LOG_FILE": str(log_file)}
    args = ["-m", "aiodjango", "project.wsgi:app", "--port", str(port), "--access-log"]
    with running(args, cwd, tmp_path, env) as server:
        _wait_ready(server, port)  # its access-log record starts the 3 s sleep
        for _ in range(3):
            _still_serving(port)
        assert not log_file.exists()  # the handler is still asleep on its first record
        server.signal(signal.SIGTERM)
        assert server.wait(HANG_GUARD) == 0


def test_shutdown_with_stuck_threads_and_a_peer_that_stopped_reading(tmp_path: Path) -> None:
    """SIGTERM with 16 Django views stuck and a websocket peer not reading: exit 0 within the
    1 s shutdown timeout plus grace (checked with a hang guard; the time is printed)."""
    cwd, port = copy_project(tmp_path), free_port()
    env = {**ENV, "SERVING_WSGI_THREADS": "16"}
    args = ["-m", "aiodjango", "project.wsgi:app", "--port", str(port)]
    with running(args, cwd, tmp_path, env) as server:
        _wait_ready(server, port)
        stuck = []
        for n in range(16):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(_get_request(f"/slow/?s=600&started={tmp_path / f's{n}'}"))
            stuck.append(sock)
        deadline = time.monotonic() + HANG_GUARD
        while not all((tmp_path / f"s{n}").exists() for n in range(16)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        peer = _websocket_that_stops_reading(port)
        began = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait(HANG_GUARD) == 0
        print(f"\nexit {time.monotonic() - began:.2f} s after SIGTERM (timeout 1 s)")
        for sock in [*stuck, peer]:
            sock.close()
    assert "16 Django request(s) still running" in server.output


def _websocket_that_stops_reading(port: int) -> socket.socket:
    """A websocket client that sends echo requests and never reads the answers."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(
        b"GET /ws/ HTTP/1.1\r\n"
        + HOST
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\nOrigin: http://127.0.0.1\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    payload = b"x" * 60000
    frame = bytes([0x81, 0xFE]) + len(payload).to_bytes(2, "big")
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.settimeout(0.5)
    try:
        for _ in range(200):  # ~12 MB of echoes the server cannot deliver
            sock.sendall(frame[:1] + bytes([0xFE]) + frame[2:4] + mask + masked)
    except OSError:
        pass  # our own send buffer is full: the server stopped reading too
    return sock


def test_queued_request_of_a_client_that_left_never_runs(
    hostile: tuple[Server, int], tmp_path: Path
) -> None:
    """With both threads busy, a Django request whose client leaves while queued never runs:
    a request queued after it runs, and the view of the one that left never started."""
    _, port = hostile
    busy = [tmp_path / f"busy-{n}" for n in range(2)]
    with ThreadPoolExecutor(3) as pool:
        holders = [pool.submit(_get, port, f"/slow/?s=1&started={path}") for path in busy]
        deadline = time.monotonic() + HANG_GUARD
        while not all(path.exists() for path in busy):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        left = tmp_path / "left"
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(_get_request(f"/slow/?s=0&started={left}"))
        while (later := _get(port, "/sync/"))[0] == 503:  # queued after it, until served
            time.sleep(0.1)
        assert later == (200, b"sync VERSION-1")
        assert [h.result()[0] for h in holders] == [200, 200]
    assert not left.exists()
