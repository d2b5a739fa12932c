"""The servers of the comparison: how each one starts, and what it costs while it runs.

Every server is one process (or a gunicorn master and its workers) pinned to the server core,
started on a free loopback port and stopped by its PID. ``cpu_seconds`` and ``rss_kib`` read
``/proc`` for the whole process tree, so gunicorn's workers are counted with their master.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
RESULTS = HERE / "results"
SERVER_CORE, LOAD_CORE = "0", "1"
THREADS = 4

Env = dict[str, str]


@dataclass(frozen=True)
class Server:
    """How to start one server process, and the paths that show it is up."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    probe: str = "/hello/"
    ws_probe: str | None = "/ws/echo/"
    copies: int = 1  # processes started (each on its own port), e.g. two daphnes


def _py(kind: str, env: Env | None = None, probe: str = "/hello/", ws: bool = True) -> Server:
    argv: tuple[str, ...] = (sys.executable, "-m", "benchmarks.serve", kind, "{port}")
    return Server(argv, tuple((env or {}).items()), probe, "/ws/echo/" if ws else None)


def _uvicorn(env: Env | None = None, ws: bool = True) -> Server:
    argv: tuple[str, ...] = (
        str(BIN / "uvicorn"),
        "benchmarks.project.asgi:application",
        "--host",
        "127.0.0.1",
    )
    argv += (
        "--port",
        "{port}",
        "--loop",
        "asyncio",
        "--http",
        "h11",
        "--lifespan",
        "off",
    )
    argv += ("--no-access-log", "--log-level", "warning")
    return Server(argv, tuple((env or {}).items()), "/django/hello/", "/ws/echo/" if ws else None)


def _gunicorn(
    *worker: str,
    env: Env | None = None,
    ws: bool = False,
    target: str = "benchmarks.project.wsgi:application",
) -> Server:
    argv: tuple[str, ...] = (str(BIN / "gunicorn"), target, "-b")
    argv += ("127.0.0.1:{port}", *worker, "--log-level", "warning")
    return Server(argv, tuple((env or {}).items()), "/django/hello/", "/ws/echo/" if ws else None)


def _daphne(env: Env | None = None, copies: int = 1) -> Server:
    argv: tuple[str, ...] = (
        str(BIN / "daphne"),
        "-b",
        "127.0.0.1",
        "-p",
        "{port}",
        "-v",
        "0",
    )
    argv += ("benchmarks.project.asgi:channels_application",)
    return Server(argv, tuple((env or {}).items()), "/django/hello/", copies=copies)


MIXED: Env = {"BENCH_URLCONF": "benchmarks.project.urls_mixed"}
DB_POOL: Env = {"BENCH_URLCONF": "benchmarks.project.urls_db", "BENCH_DB": "pool"}
DB_NOPOOL: Env = {"BENCH_URLCONF": "benchmarks.project.urls_db", "BENCH_DB": "no-pool"}
FANOUT: Env = {"BENCH_URLCONF": "benchmarks.project.urls_fanout", "BENCH_FANOUT": "1"}
GTHREAD = ("-w", "1", "-k", "gthread", "--threads", str(THREADS))

SERVERS: dict[str, Server] = {
    "aiodjango": _py("aiodjango"),
    "aiohttp": _py("aiohttp"),
    "aiohttp-in-django": _py("aiohttp-in-django"),
    "aiohttp-wsgi": _py("aiohttp-wsgi", probe="/django/hello/", ws=False),
    "aiodjango-10": _py("aiodjango", {"BENCH_URLCONF": "benchmarks.project.urls_small"}),
    "aiodjango-1000": _py("aiodjango", {"BENCH_URLCONF": "benchmarks.project.urls_big"}),
    "aiodjango-mixed": _py("aiodjango", MIXED),
    "aiodjango-mixed-gcfreeze": _py("aiodjango", {**MIXED, "BENCH_GC_FREEZE": "1"}),
    "uvicorn": _uvicorn(),
    "gunicorn-sync": _gunicorn("-w", "1", "-k", "sync"),
    "gunicorn-gthread": _gunicorn(*GTHREAD),
    "daphne": _daphne(),
    "aiodjango-db": _py("aiodjango", DB_POOL, probe="/django/hello/", ws=False),
    "uvicorn-db": _uvicorn(DB_POOL, ws=False),
    "gunicorn-gthread-db": _gunicorn(*GTHREAD, env=DB_POOL),
    "aiodjango-db0": _py("aiodjango", DB_NOPOOL, probe="/django/hello/", ws=False),
    "uvicorn-db0": _uvicorn(DB_NOPOOL, ws=False),
    "gunicorn-gthread-db0": _gunicorn(*GTHREAD, env=DB_NOPOOL),
    # Fan-out over two processes on each side, sharing one Redis: gunicorn with two aiodjango
    # workers on one port; two daphnes (daphne has no workers) on two ports.
    "aiodjango-fanout": replace(
        _gunicorn(
            *("-w", "2", "-k", "aiodjango.workers.GunicornWorker"),
            env=FANOUT,
            target="benchmarks.project.fanout:aiodjango_app",
        ),
        probe="/fanout/ready/",
        ws_probe="/fanout/ws/",
    ),
    "daphne-fanout": replace(
        _daphne(FANOUT, copies=2),
        probe="/fanout/channels/ready/",
        ws_probe="/fanout/ws/",
    ),
}


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    """A started server: its processes and their ports (one each)."""

    name: str
    processes: list[subprocess.Popen[bytes]]
    ports: list[int]
    log: TextIO

    @property
    def port(self) -> int:
        """The first (usually only) port."""
        return self.ports[0]

    @property
    def pids(self) -> list[int]:
        """The PIDs we started (their children are found through /proc)."""
        return [process.pid for process in self.processes]


class NotReady(RuntimeError):
    """The server answered, but says its side of the scenario is not written yet (HTTP 501)."""


def start(name: str) -> Running:
    """Start ``name`` pinned to the server core and wait until it answers its probe."""
    running = launch(name)
    ready(running)
    return running


def launch(name: str) -> Running:
    """Start ``name``'s processes pinned to the server core, without waiting for them."""
    server = SERVERS[name]
    # BENCH_AIODJANGO: a directory holding another aiodjango package (e.g. `git archive` of an
    # older commit) to measure instead of the work tree's, for before/after comparisons.
    path = os.pathsep.join(filter(None, [os.environ.get("BENCH_AIODJANGO"), str(ROOT)]))
    env = {
        **os.environ,
        **dict(server.env),
        "PYTHONPATH": path,
        "BENCH_THREADS": str(THREADS),
    }
    RESULTS.mkdir(exist_ok=True)
    log = (RESULTS / f"server-{name}.log").open("a")
    running = Running(name, [], [], log)
    try:
        for _ in range(server.copies):
            port = free_port()
            argv = [part.format(port=port) for part in server.argv]
            running.ports.append(port)
            running.processes.append(
                subprocess.Popen(
                    ["taskset", "-c", SERVER_CORE, *argv],
                    cwd=RESULTS,  # not ROOT: its aiodjango/ would shadow BENCH_AIODJANGO
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    except BaseException:
        stop(running)
        raise
    return running


def ready(running: Running) -> None:
    """Wait until every process of ``running`` answers its probe; stop them all if one fails."""
    server = SERVERS[running.name]
    try:
        for process, port in zip(running.processes, running.ports, strict=True):
            _wait(running.name, process, port, server, running.log.name)
    except BaseException:
        stop(running)
        raise


def _wait(name: str, process: subprocess.Popen[bytes], port: int, server: Server, log: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
        status = probe(port, server.probe)
        if status == 200:
            break
        if status == 501:
            raise NotReady(f"{name}: {server.probe} answers 501 (server side not written yet)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer {server.probe} within 60 s")
        time.sleep(0.1)
    if server.ws_probe:
        # Connect and close once on the websocket path too: a fresh asyncio server reads with
        # recv(256 KiB) through mmap until its first EOF (see the peer baselines note).
        probe(port, server.ws_probe, websocket=True)


def probe(port: int, path: str, websocket: bool = False) -> int:
    """The status code ``path`` answers with (0 if nothing answers)."""
    extra = (
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if websocket
        else "Connection: close\r\n"
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
            head = sock.recv(4096)
    except OSError:
        return 0
    found = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(found.group(1)) if found else 0


def stop(running: Running) -> None:
    """Stop the servers we started, by PID (then their process group if they linger)."""
    for process in running.processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in running.processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    running.log.close()


@contextmanager
def servers(names: list[str]) -> Iterator[dict[str, Running | Exception]]:
    """Start the named servers at once (a failure is kept in place of it), stop them after."""
    started: dict[str, Running | Exception] = {}
    try:
        for name in dict.fromkeys(names):
            try:
                started[name] = launch(name)
            except Exception as exc:
                started[name] = exc
        for name, running in started.items():
            if isinstance(running, Running):
                try:
                    ready(running)
                except Exception as exc:
                    started[name] = exc
        yield started
    finally:
        for running in started.values():
            if isinstance(running, Running):
                stop(running)


def _tree(pids: list[int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(pids)
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def rss_kib(pids: list[int]) -> int:
    """Resident memory of processes and their children, in KiB."""
    total = 0
    for each in _tree(pids):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(found.group(1)) if found else 0
    return total


def pin(running: Running, core: str) -> None:
    """Move a started server's processes (and their children) to ``core``."""
    for pid in _tree(running.pids):
        os.sched_setaffinity(pid, {int(core)})


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time (utime + stime in /proc/PID/stat) of processes and children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in _tree(pids):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks
