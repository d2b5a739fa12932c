"""How each kind of scenario is measured, and the interleaved rounds that measure a scenario.

Beside each headline number the server's CPU time per request (or message) is taken from
``/proc/PID/stat`` (utime + stime of the server's process tree, before and after the measured
run, divided by what it served): it moves far less than req/s when a neighbour takes the core.
"""

from __future__ import annotations

import json
import re
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from . import database
from .load import client, run_client, whole, wrk
from .scenarios import Config, Row, Scenario
from .servers import (
    LOAD_CORE,
    THREADS,
    NotReady,
    Running,
    cpu_seconds,
    rss_kib,
    servers,
    start,
)
from .servers import stop as stop_server

Measured = tuple[float, dict[str, float]]


def measure_http(run: Running, path: str, config: Config) -> Measured:
    """wrk after a warm-up; fails on any non-2xx response."""
    if config.warmup:
        wrk(run.port, path, config.warmup, config.connections)
    cpu, started = cpu_seconds(run.pids), time.monotonic()
    result = wrk(run.port, path, config.seconds, config.connections)
    if not result["requests"]:
        raise RuntimeError(f"no request to {run.name}{path} finished in {config.seconds} s")
    used = cpu_seconds(run.pids) - cpu
    result["server_cpu"] = used / (time.monotonic() - started)
    result["cpu_us"] = used / max(result["requests"], 1) * 1e6
    if result["non2xx"]:
        raise RuntimeError(f"{int(result['non2xx'])} non-2xx responses from {run.name}{path}")
    return result.pop("rate"), result


def measure_echo(run: Running, path: str, config: Config) -> Measured:
    """Websocket echo messages per second, every echo checked byte for byte."""
    args = (str(run.port), path, str(config.connections))
    if config.warmup:
        run_client("echo", *args, str(config.warmup), timeout=60)
    cpu = cpu_seconds(run.pids)
    result = run_client("echo", *args, str(config.seconds), timeout=60 + config.seconds)
    used = cpu_seconds(run.pids) - cpu
    if result["mismatches"]:
        raise RuntimeError(f"{result['mismatches']} echoes differed on {run.name}")
    extra = {
        "client_cpu": result["client_cpu"],
        "server_cpu": used / config.seconds,
        "cpu_us": used / max(result["messages"], 1) * 1e6,
    }
    return result["per_second"], extra


def _hold(run: Running, path: str, count: int) -> subprocess.Popen[str]:
    process = client("idle", str(run.port), path, str(count))
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY"):
        process.kill()
        raise RuntimeError(f"idle client failed on {run.name}: {line!r}")
    return process


def measure_memory(name: str, path: str, config: Config) -> Measured:
    """RSS per idle websocket on a fresh server: (RSS with N open - RSS after a warm-up) / N."""
    run = start(name)
    try:
        warm = _hold(run, path, 20)
        warm.communicate(timeout=30)
        time.sleep(1)
        before = rss_kib(run.pids)
        holder = _hold(run, path, config.idle_sockets)
        time.sleep(2)
        after = rss_kib(run.pids)
        holder.communicate(timeout=60)
    finally:
        stop_server(run)
    per_socket = (after - before) / config.idle_sockets
    return per_socket, {"rss_before_mib": before / 1024, "rss_open_mib": after / 1024}


def measure_isolation(run: Running, path: str, config: Config, saturate: bool) -> Measured:
    """p99 of the async route, with or without slow Django views filling the pool."""
    slow = None
    result: dict[str, float] = {}
    if saturate:
        length = config.warmup + config.seconds + 3
        slow = subprocess.Popen(
            [
                "taskset",
                "-c",
                LOAD_CORE,
                "wrk",
                "-t1",
                f"-c{THREADS * 8}",
                f"-d{whole(length)}s",
            ]
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
    result.pop("cpu_us", None)  # two loads at once: per-request CPU means nothing here
    return result["p99"], result


def measure_ttfb(run: Running, path: str, config: Config) -> Measured:
    """Median time to the first streamed chunk, fresh connection per request."""
    if config.warmup:
        run_client("ttfb", str(run.port), path, str(config.warmup), timeout=60)
    times = run_client("ttfb", str(run.port), path, str(config.seconds), timeout=60)["ttfb"]
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times) * 1000, {"p99": p99 * 1000, "requests": len(times)}


def measure_fanout(run: Running, row: Row, config: Config) -> Measured:
    """Messages delivered per second in a burst to N sockets; p50/p99 of time-to-all-sockets."""
    ports = ",".join(map(str, run.ports))
    sockets = config.fanout_sockets
    args: tuple[str, ...] = (ports, row.path, str(sockets), row.publish)
    args += (str(config.fanout_messages), str(config.fanout_burst))
    process = client("fanout", *args)
    assert process.stdin is not None and process.stdout is not None
    try:
        line = process.stdout.readline()  # after every socket has joined
        if not line.startswith("JOINED"):
            raise RuntimeError(f"fan-out client failed on {run.name} before joining: {line!r}")
        cpu = cpu_seconds(run.pids)
        out, _ = process.communicate("go\n", timeout=120 + config.fanout_messages)
        used = cpu_seconds(run.pids) - cpu
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    if process.returncode:
        raise RuntimeError(f"fan-out client exited with {process.returncode} on {run.name}")
    result = json.loads(out.strip().splitlines()[-1])
    delivered = result["delivered"]
    extra = {
        "p50": result["all_p50_ms"],
        "p99": result["all_p99_ms"],
        "socket_p99": result["socket_p99_ms"],
        "delivered_pct": 100.0 * delivered / max(result["expected"], 1),
        # Server CPU per delivered message, both phases (connecting and joining excluded).
        "cpu_us": used / max(result["delivered_all"], 1) * 1e6,
    }
    return result["per_second"], extra


def _measure(scenario: Scenario, row: Row, running: dict[str, Any], config: Config) -> Measured:
    if scenario.kind == "memory":
        return measure_memory(row.server, row.path, config)
    run = running[row.server]
    if isinstance(run, Exception):
        raise run
    if scenario.kind == "http":
        return measure_http(run, row.path, config)
    if scenario.kind == "echo":
        return measure_echo(run, row.path, config)
    if scenario.kind == "isolation":
        return measure_isolation(run, row.path, config, saturate=row.key == "I-saturated")
    if scenario.kind == "ttfb":
        return measure_ttfb(run, row.path, config)
    if scenario.kind == "fanout":
        return measure_fanout(run, row, config)
    raise ValueError(scenario.kind)


def _missing_service(needs: tuple[str, ...]) -> str | None:
    for service in needs:
        if service == "postgres":
            problem = database.prepare()
            if problem:
                return f"PostgreSQL not usable: {problem}"
        elif service == "redis" and not _redis_answers():
            return "Redis does not answer PING on 127.0.0.1:6379"
    return None


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def _nothing() -> Iterator[dict[str, Any]]:
    yield {}


def run_scenario(scenario: Scenario, config: Config) -> None:
    """Measure every row in interleaved rounds; errors are recorded per row, not raised."""
    print(f"\n== {scenario.name} ({scenario.metric}, {config.rounds} rounds)", flush=True)
    if config.seconds < scenario.min_seconds:
        config = replace(config, seconds=scenario.min_seconds)
    missing = _missing_service(scenario.needs)
    if missing:
        for row in scenario.rows:
            scenario.skipped[row.key] = missing
        print(f"  SKIPPED: {missing}", flush=True)
        return
    if config.smoke:
        for row in scenario.rows:
            if not row.in_smoke:
                scenario.skipped[row.key] = "diagnostic row, not run by --smoke"
    names = [row.server for row in scenario.rows if row.key not in scenario.skipped]
    context = _nothing() if scenario.kind == "memory" else servers(names)
    with context as running:
        for row in scenario.rows:
            if isinstance(running.get(row.server), NotReady):
                scenario.skipped[row.key] = str(running[row.server])
                print(f"  {row.key}: SKIPPED, {running[row.server]}", flush=True)
        for number in range(config.rounds):
            for row in scenario.rows:
                if row.key in scenario.errors or row.key in scenario.skipped:
                    continue
                try:
                    value, extra = _measure(scenario, row, running, config)
                except Exception as exc:
                    scenario.errors[row.key] = f"{type(exc).__name__}: {exc}"
                    print(f"  round {number + 1} {row.key}: FAILED {exc}", flush=True)
                    continue
                scenario.values.setdefault(row.key, []).append(value)
                scenario.extras.setdefault(row.key, []).append(extra)
                cpu = f"  {extra['cpu_us']:8.1f} us CPU each" if "cpu_us" in extra else ""
                print(
                    f"  round {number + 1} {row.key:16s} {value:12,.2f} {scenario.unit}{cpu}",
                    flush=True,
                )
