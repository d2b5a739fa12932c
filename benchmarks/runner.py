"""Runs every benchmark scenario and prints medians, ranges and ratios: ``bash benchmarks/run``.

Each server is one process pinned to core 0 (``taskset -c 0``); wrk and the small clients run on
core 1, as does this runner. Within a scenario the rows are measured in interleaved rounds
(A B C, A B C, ...), and each row's ratio to the scenario's reference is taken per round, so
the machine's drift hits both sides of a ratio alike. ``--smoke`` runs one short round of every
scenario and only checks that each produced a number (no timing is asserted anywhere).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
RESULTS = HERE / "results"
SERVER_CORE, LOAD_CORE = "0", "1"
THREADS = 4


@dataclass(frozen=True)
class Config:
    """How long and how often to measure."""

    rounds: int
    seconds: float
    warmup: float
    idle_sockets: int
    connections: int = 50


@dataclass(frozen=True)
class Server:
    """How to start one server process, and the path that shows it is up."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    probe: str = "/hello/"
    websocket: bool = False


def _py(kind: str, **env: str) -> Server:
    argv = (sys.executable, "-m", "benchmarks.serve", kind, "{port}")
    probe = "/hello/" if kind != "aiohttp-wsgi" else "/django/hello/"
    return Server(argv, tuple(env.items()), probe)


SERVERS: dict[str, Server] = {
    "aiodjango": _py("aiodjango"),
    "aiohttp": _py("aiohttp"),
    "aiohttp-wsgi": _py("aiohttp-wsgi"),
    "aiodjango-10": _py("aiodjango", BENCH_URLCONF="benchmarks.project.urls_small"),
    "aiodjango-1000": _py("aiodjango", BENCH_URLCONF="benchmarks.project.urls_big"),
    "uvicorn": Server(
        (str(BIN / "uvicorn"), "benchmarks.project.asgi:application", "--host", "127.0.0.1")
        + ("--port", "{port}", "--loop", "asyncio", "--http", "h11", "--lifespan", "off")
        + ("--no-access-log", "--log-level", "warning"),
        probe="/django/hello/",
    ),
    "gunicorn-sync": Server(
        (str(BIN / "gunicorn"), "benchmarks.project.wsgi:application", "-b", "127.0.0.1:{port}")
        + ("-w", "1", "-k", "sync", "--log-level", "warning"),
        probe="/django/hello/",
    ),
    "gunicorn-gthread": Server(
        (str(BIN / "gunicorn"), "benchmarks.project.wsgi:application", "-b", "127.0.0.1:{port}")
        + ("-w", "1", "-k", "gthread", "--threads", str(THREADS), "--log-level", "warning"),
        probe="/django/hello/",
    ),
    "daphne": Server(
        (str(BIN / "daphne"), "-b", "127.0.0.1", "-p", "{port}", "-v", "0")
        + ("benchmarks.project.asgi:channels_application",),
        probe="/django/hello/",
    ),
}


@dataclass(frozen=True)
class Row:
    """One line of a scenario: a server measured on one path."""

    key: str
    what: str
    server: str
    path: str


@dataclass(frozen=True)
class Target:
    """``row`` over ``ref`` must be ``>=`` (or ``<=``) ``bar``."""

    row: str
    ref: str
    op: str
    bar: float

    def met(self, ratio: float) -> bool:
        """Whether a ratio clears the bar."""
        return ratio >= self.bar if self.op == ">=" else ratio <= self.bar

    def __str__(self) -> str:
        return f"{self.row} {self.op} {self.bar:g} x {self.ref}"


@dataclass
class Scenario:
    """Rows measured the same way, a reference row, and the targets of issue 6."""

    name: str
    metric: str
    unit: str
    higher_is_better: bool
    rows: list[Row]
    ref: str
    targets: list[Target]
    kind: str
    values: dict[str, list[float]] = field(default_factory=dict)
    extras: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def scenarios() -> list[Scenario]:
    """The issue's table, in the order it is run."""
    return [
        Scenario(
            "async HTTP hello",
            "requests/s",
            "req/s",
            True,
            [
                Row(
                    "G-async", "aiodjango: @async_view through the full app", "aiodjango", "/hello/"
                ),
                Row("A", "bare aiohttp handler", "aiohttp", "/hello/"),
                Row("B", "Django async view, uvicorn", "uvicorn", "/django/async-hello/"),
            ],
            "A",
            [Target("G-async", "A", ">=", 0.90)],
            "http",
        ),
        Scenario(
            "Django sync view",
            "requests/s",
            "req/s",
            True,
            [
                Row("G-sync", "aiodjango: WSGI fallback, full app", "aiodjango", "/django/hello/"),
                Row("C", "bare aiohttp-wsgi", "aiohttp-wsgi", "/django/hello/"),
                Row("D-sync", "gunicorn sync, 1 worker", "gunicorn-sync", "/django/hello/"),
                Row(
                    "D-gthread", "gunicorn gthread, 1 worker", "gunicorn-gthread", "/django/hello/"
                ),
                Row("E", "Django sync view, uvicorn", "uvicorn", "/django/hello/"),
            ],
            "C",
            [Target("G-sync", "C", ">=", 0.95), Target("G-sync", "D-sync", ">=", 1.5)],
            "http",
        ),
        Scenario(
            "websocket echo",
            "messages/s",
            "msg/s",
            True,
            [
                Row("G-ws", "aiodjango: @async_view(websocket=True)", "aiodjango", "/ws/echo/"),
                Row("A-ws", "bare aiohttp handler", "aiohttp", "/ws/echo/"),
                Row("F-daphne", "Channels consumer, daphne", "daphne", "/ws/echo/"),
            ],
            "A-ws",
            [Target("G-ws", "A-ws", ">=", 0.90)],
            "echo",
        ),
        Scenario(
            "idle websocket memory",
            "RSS per idle websocket",
            "KiB",
            False,
            [
                Row("G-mem", "aiodjango", "aiodjango", "/ws/echo/"),
                Row("A-mem", "bare aiohttp", "aiohttp", "/ws/echo/"),
                Row("F-mem", "Channels, daphne", "daphne", "/ws/echo/"),
            ],
            "A-mem",
            [Target("G-mem", "A-mem", "<=", 1.2)],
            "memory",
        ),
        Scenario(
            "routing scale",
            "requests/s",
            "req/s",
            True,
            [
                Row("R-1000", "async route last of 1,000 patterns", "aiodjango-1000", TARGET),
                Row("R-10", "async route last of 10 patterns", "aiodjango-10", TARGET),
            ],
            "R-10",
            [Target("R-1000", "R-10", ">=", 0.80)],
            "http",
        ),
        Scenario(
            "isolation",
            "async route p99 latency",
            "ms",
            False,
            [
                Row(
                    "I-saturated",
                    f"{THREADS}-thread pool saturated by slow views",
                    "aiodjango",
                    "/hello/",
                ),
                Row("I-idle", "pool idle", "aiodjango", "/hello/"),
            ],
            "I-idle",
            [Target("I-saturated", "I-idle", "<=", 2.0)],
            "isolation",
        ),
        Scenario(
            "streaming",
            "time to first byte (median)",
            "ms",
            False,
            [
                Row("S-aiodjango", "StreamingHttpResponse via aiodjango", "aiodjango", "/stream/"),
                Row("S-gunicorn", "same view, gunicorn sync", "gunicorn-sync", "/stream/"),
            ],
            "S-gunicorn",
            [Target("S-aiodjango", "S-gunicorn", "<=", 10.0)],
            "ttfb",
        ),
    ]


TARGET = "/api/v2/widgets/42/"


# --- processes ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    """A started server: its process and port."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: TextIO


def start(name: str) -> Running:
    """Start ``name`` pinned to the server core and wait until it answers its probe."""
    server = SERVERS[name]
    port = _free_port()
    argv = [part.format(port=port) for part in server.argv]
    env = {**os.environ, **dict(server.env), "PYTHONPATH": str(ROOT), "BENCH_THREADS": str(THREADS)}
    RESULTS.mkdir(exist_ok=True)
    log = (RESULTS / f"server-{name}.log").open("a")
    process = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, *argv],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    running = Running(name, process, port, log)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log.name}")
        if _probe(port, server.probe):
            break
        if time.monotonic() > deadline:
            stop(running)
            raise RuntimeError(f"{name} did not answer {server.probe} within 60 s")
        time.sleep(0.1)
    # Connect and close once more on the websocket path too: a fresh asyncio server reads with
    # recv(256 KiB) through mmap until its first EOF (see the peer baselines note).
    _probe(port, "/ws/echo/", websocket=True)
    return running


def _probe(port: int, path: str, websocket: bool = False) -> bool:
    extra = (
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if websocket
        else "Connection: close\r\n"
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
            head = sock.recv(4096)
    except OSError:
        return False
    return head.startswith(b"HTTP/1.1 101" if websocket else b"HTTP/1.1 200")


def stop(running: Running) -> None:
    """Stop a server we started, by its PID (then its process group if it lingers)."""
    process = running.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    running.log.close()


@contextmanager
def servers(names: list[str]) -> Iterator[dict[str, Running]]:
    """Start each named server once, stop them all after."""
    started: dict[str, Running] = {}
    try:
        for name in dict.fromkeys(names):
            started[name] = start(name)
        yield started
    finally:
        for running in started.values():
            stop(running)


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(children.get(current, ()))
    return pids


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children, in KiB."""
    total = 0
    for each in _tree(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(found.group(1)) if found else 0
    return total


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in _tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


# --- load generators ------------------------------------------------------------------------


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def _whole(seconds: float) -> int:
    return max(1, round(seconds))  # wrk takes whole seconds


def wrk(port: int, path: str, seconds: float, connections: int) -> dict[str, float]:
    """One wrk run on the load core: requests/s, p50/p99 in ms, and error counts."""
    out = subprocess.run(
        ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{_whole(seconds)}s"]
        + ["--latency", f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    result = {"rate": float(rate.group(1))}
    for label, key in (("50%", "p50"), ("99%", "p99")):
        found = re.search(rf"^\s+{label}\s+(\S+)", out, re.M)
        if found:
            result[key] = _seconds(found.group(1)) * 1000
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = float(sum(map(int, errors.groups()))) if errors else 0.0
    return result


def client(*args: str) -> subprocess.Popen[str]:
    """Start ``benchmarks.clients`` on the load core."""
    return subprocess.Popen(
        ["taskset", "-c", LOAD_CORE, sys.executable, "-m", "benchmarks.clients", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def run_client(*args: str, timeout: float) -> dict[str, Any]:
    """Run a client to completion and parse its JSON line."""
    process = client(*args)
    out, _ = process.communicate(timeout=timeout)
    if process.returncode:
        raise RuntimeError(f"client {args} exited with {process.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# --- measurements ---------------------------------------------------------------------------


def measure_http(run: Running, path: str, config: Config) -> tuple[float, dict[str, float]]:
    """wrk after a warm-up; fails on any non-2xx response."""
    wrk(run.port, path, config.warmup, config.connections)
    cpu, start_time = cpu_seconds(run.process.pid), time.monotonic()
    result = wrk(run.port, path, config.seconds, config.connections)
    result["server_cpu"] = (cpu_seconds(run.process.pid) - cpu) / (time.monotonic() - start_time)
    if result["non2xx"]:
        raise RuntimeError(f"{int(result['non2xx'])} non-2xx responses from {run.name}{path}")
    return result.pop("rate"), result


def measure_echo(run: Running, path: str, config: Config) -> tuple[float, dict[str, float]]:
    """Websocket echo messages per second, every echo checked byte for byte."""
    args = (str(run.port), path, str(config.connections))
    run_client("echo", *args, str(config.warmup), timeout=60)
    cpu = cpu_seconds(run.process.pid)
    result = run_client("echo", *args, str(config.seconds), timeout=60 + config.seconds)
    server_cpu = (cpu_seconds(run.process.pid) - cpu) / config.seconds
    if result["mismatches"]:
        raise RuntimeError(f"{result['mismatches']} echoes differed on {run.name}")
    return result["per_second"], {"client_cpu": result["client_cpu"], "server_cpu": server_cpu}


def _hold(run: Running, path: str, count: int) -> subprocess.Popen[str]:
    process = client("idle", str(run.port), path, str(count))
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY"):
        process.kill()
        raise RuntimeError(f"idle client failed on {run.name}: {line!r}")
    return process


def measure_memory(name: str, path: str, config: Config) -> tuple[float, dict[str, float]]:
    """RSS per idle websocket on a fresh server: (RSS with N open - RSS after a warm-up) / N."""
    run = start(name)
    try:
        warm = _hold(run, path, 20)
        warm.communicate(timeout=30)
        time.sleep(1)
        before = rss_kib(run.process.pid)
        holder = _hold(run, path, config.idle_sockets)
        time.sleep(2)
        after = rss_kib(run.process.pid)
        holder.communicate(timeout=60)
    finally:
        stop(run)
    per_socket = (after - before) / config.idle_sockets
    return per_socket, {"rss_before_mib": before / 1024, "rss_open_mib": after / 1024}


def measure_isolation(
    run: Running, path: str, config: Config, saturate: bool
) -> tuple[float, dict[str, float]]:
    """p99 of the async route, with or without slow Django views filling the pool."""
    slow = None
    result: dict[str, float] = {}
    if saturate:
        length = config.warmup + config.seconds + 3
        slow = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{THREADS * 8}", f"-d{_whole(length)}s"]
            + [f"http://127.0.0.1:{run.port}/slow/"],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
    try:
        _, result = measure_http(run, path, config)
    finally:
        if slow is not None:
            out, _ = slow.communicate(timeout=30)
            rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
            result["slow_rate"] = float(rate.group(1)) if rate else 0.0
    return result["p99"], result


def measure_ttfb(run: Running, path: str, config: Config) -> tuple[float, dict[str, float]]:
    """Median time to the first streamed chunk, fresh connection per request."""
    run_client("ttfb", str(run.port), path, str(config.warmup), timeout=60)
    times = run_client("ttfb", str(run.port), path, str(config.seconds), timeout=60)["ttfb"]
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times) * 1000, {"p99": p99 * 1000, "requests": len(times)}


def run_scenario(scenario: Scenario, config: Config) -> None:
    """Measure every row in interleaved rounds; errors are recorded per row, not raised."""
    names = [row.server for row in scenario.rows]
    print(f"\n== {scenario.name} ({scenario.metric}, {config.rounds} rounds)", flush=True)
    if scenario.kind == "memory":
        context: Any = _nothing()
    else:
        context = servers(names)
    try:
        with context as running:
            for number in range(config.rounds):
                for row in scenario.rows:
                    if row.key in scenario.errors:
                        continue
                    try:
                        value, extra = _measure(scenario, row, running, config)
                    except Exception as exc:
                        scenario.errors[row.key] = f"{type(exc).__name__}: {exc}"
                        print(f"  round {number + 1} {row.key}: FAILED {exc}", flush=True)
                        continue
                    scenario.values.setdefault(row.key, []).append(value)
                    scenario.extras.setdefault(row.key, []).append(extra)
                    print(
                        f"  round {number + 1} {row.key:12s} {value:12,.2f} {scenario.unit}",
                        flush=True,
                    )
    except Exception as exc:  # a server that would not start
        for row in scenario.rows:
            scenario.errors.setdefault(row.key, f"{type(exc).__name__}: {exc}")
        print(f"  FAILED: {exc}", flush=True)


@contextmanager
def _nothing() -> Iterator[dict[str, Running]]:
    yield {}


def _measure(
    scenario: Scenario, row: Row, running: dict[str, Running], config: Config
) -> tuple[float, dict[str, float]]:
    if scenario.kind == "memory":
        return measure_memory(row.server, row.path, config)
    run = running[row.server]
    if scenario.kind == "http":
        return measure_http(run, row.path, config)
    if scenario.kind == "echo":
        return measure_echo(run, row.path, config)
    if scenario.kind == "isolation":
        return measure_isolation(run, row.path, config, saturate=row.key == "I-saturated")
    if scenario.kind == "ttfb":
        return measure_ttfb(run, row.path, config)
    raise ValueError(scenario.kind)


# --- report ---------------------------------------------------------------------------------


def ratios(scenario: Scenario, key: str, ref: str) -> list[float]:
    """Per-round ratios of ``key`` to ``ref`` (rounds where both produced a number)."""
    mine, theirs = scenario.values.get(key, []), scenario.values.get(ref, [])
    if len(mine) != len(theirs):
        return []
    return [a / b for a, b in zip(mine, theirs, strict=True) if b]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}" if value >= 1 else f"{value:.3f}"


def table(all_scenarios: list[Scenario]) -> str:
    """The markdown results table."""
    lines = [
        "| scenario | row | server | median | min..max | unit | ratio to ref (median, range) "
        "| extra |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scenario in all_scenarios:
        for row in scenario.rows:
            values = scenario.values.get(row.key, [])
            if not values:
                error = scenario.errors.get(row.key, "no number")
                lines.append(f"| {scenario.name} | {row.key} | {row.what} | FAILED: {error} |||||")
                continue
            per_round = ratios(scenario, row.key, scenario.ref)
            ratio = "ref" if row.key == scenario.ref else _ratio(per_round)
            extra = _extras(scenario.extras.get(row.key, []))
            lines.append(
                f"| {scenario.name} | {row.key} | {row.what} | {_fmt(statistics.median(values))} "
                f"| {_fmt(min(values))}..{_fmt(max(values))} | {scenario.unit} | {ratio} "
                f"| {extra} |"
            )
    return "\n".join(lines)


def _ratio(per_round: list[float]) -> str:
    if not per_round:
        return "-"
    return f"{statistics.median(per_round):.3f} ({min(per_round):.2f}..{max(per_round):.2f})"


def _extras(extras: list[dict[str, float]]) -> str:
    keys = ("p50", "p99", "server_cpu", "client_cpu", "slow_rate", "rss_before_mib", "rss_open_mib")
    labels = {"server_cpu": "srv CPU", "client_cpu": "client CPU", "slow_rate": "slow req/s"}
    parts = []
    for key in keys:
        values = [extra[key] for extra in extras if key in extra]
        if values:
            median = statistics.median(values)
            shown = f"{median:.0%}" if key.endswith("_cpu") else _fmt(median)
            unit = " ms" if key in ("p50", "p99") else " MiB" if key.endswith("_mib") else ""
            parts.append(f"{labels.get(key, key)} {shown}{unit}")
    errors = sum(extra.get("socket_errors", 0) for extra in extras)
    if errors:
        parts.append(f"socket errors {errors:.0f}")
    return ", ".join(parts)


def targets(all_scenarios: list[Scenario]) -> tuple[str, list[str]]:
    """The targets table, and the list of targets missed."""
    lines = ["| target | ratio (median of rounds) | range | met |", "|---|---|---|---|"]
    missed = []
    for scenario in all_scenarios:
        for target in scenario.targets:
            per_round = ratios(scenario, target.row, target.ref)
            if not per_round:
                lines.append(f"| {target} | - | - | no number |")
                missed.append(str(target))
                continue
            median = statistics.median(per_round)
            met = target.met(median)
            if not met:
                missed.append(f"{target}: {median:.3f}")
            lines.append(
                f"| {target} | {median:.3f} | {min(per_round):.2f}..{max(per_round):.2f} "
                f"| {'yes' if met else 'NO'} |"
            )
    return "\n".join(lines), missed


def facts() -> str:
    """Date, machine and versions, for the results page."""
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    packages = ["aiodjango", "django", "aiohttp", "aiohttp-wsgi", "asgiref", "uvicorn", "h11"]
    packages += ["daphne", "channels", "twisted", "autobahn", "gunicorn", "uvloop"]
    versions = ", ".join(f"{name} {_version(name)}" for name in packages)
    return "\n".join(
        [
            f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
            f"- machine: {os.cpu_count()} CPUs ({cpu}), "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
            f"Linux {platform.release()}",
            f"- Python {platform.python_version()}; {wrk_version.split(' Copyright')[0].strip()}",
            f"- {versions}",
        ]
    )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def plot(all_scenarios: list[Scenario], path: Path) -> None:
    """A bar per target: the median ratio with its min..max, the target as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(s, t) for s in all_scenarios for t in s.targets if ratios(s, t.row, t.ref)]
    figure, axes = plt.subplots(figsize=(9, 0.8 + 0.7 * len(rows)))
    for position, (scenario, target) in enumerate(reversed(rows)):
        per_round = ratios(scenario, target.row, target.ref)
        median = statistics.median(per_round)
        color = "tab:green" if target.met(median) else "tab:red"
        error = [[median - min(per_round)], [max(per_round) - median]]
        axes.barh(position, median, color=color, xerr=error, capsize=3, alpha=0.8)
        axes.plot([target.bar, target.bar], [position - 0.4, position + 0.4], "k--", lw=1)
        axes.text(median * 1.05, position + 0.15, f"{median:.2f}", fontsize=8)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([f"{s.name}: {t}" for s, t in reversed(rows)], fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("ratio (median of interleaved rounds, bars = min..max, dashed = target)")
    axes.set_title("aiodjango vs the reference in the same run (green = target met)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the scenarios, print and save the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="one short round of each scenario")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", action="append", help="run scenarios whose name contains this")
    parser.add_argument("--plot", type=Path, help="write the ratio plot (PNG) here")
    options = parser.parse_args(argv)
    if options.smoke:
        config = Config(rounds=1, seconds=1.0, warmup=0.3, idle_sockets=200)
    else:
        config = Config(options.rounds, options.seconds, warmup=1.0, idle_sockets=2000)
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    chosen = [s for s in scenarios() if not options.only or any(o in s.name for o in options.only)]
    started = time.monotonic()
    for scenario in chosen:
        run_scenario(scenario, config)
    results, (target_table, missed) = table(chosen), targets(chosen)
    report = f"{facts()}\n- {config}\n\n{results}\n\n{target_table}\n"
    print("\n" + report)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}.md").write_text(report)
    raw = {s.name: {"values": s.values, "extras": s.extras, "errors": s.errors} for s in chosen}
    (RESULTS / f"{stamp}.json").write_text(json.dumps(raw, indent=1))
    if options.plot:
        plot(chosen, options.plot)
        print(f"plot written to {options.plot}")
    print(f"took {time.monotonic() - started:.0f} s; results in {RESULTS / stamp}.md")
    if missed:
        print("targets missed (not an error): " + "; ".join(missed))
    failed = [f"{s.name}/{row.key}" for s in chosen for row in s.rows if row.key not in s.values]
    if failed:
        print("FAILED, no number for: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
