"""Load generators, run on the load core: wrk for HTTP, ``benchmarks.clients`` for websockets.

Each function returns plain numbers; the scenarios decide what they mean.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

from .servers import LOAD_CORE, ROOT


def _seconds(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    number, unit = found.groups()
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def whole(seconds: float) -> int:
    """wrk takes whole seconds."""
    return max(1, round(seconds))


def wrk_argv(
    port: int, path: str, seconds: float, connections: int, core: str = LOAD_CORE
) -> list[str]:
    """The wrk command line, pinned to the load core (or ``core``)."""
    return [
        "taskset",
        "-c",
        core,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{whole(seconds)}s",
        "--latency",
        f"http://127.0.0.1:{port}{path}",
    ]


def parse_wrk(out: str) -> dict[str, float]:
    """Requests/s, requests served, p50/p99 in ms and error counts from wrk's output."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    served = re.search(r"(\d+) requests in", out)
    if rate is None or served is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    result = {"rate": float(rate.group(1)), "requests": float(served.group(1))}
    for label, key in (("50%", "p50"), ("99%", "p99")):
        found = re.search(rf"^\s+{label}\s+(\S+)", out, re.M)
        if found:
            result[key] = _seconds(found.group(1)) * 1000
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = float(sum(map(int, errors.groups()))) if errors else 0.0
    return result


def wrk(
    port: int, path: str, seconds: float, connections: int, core: str = LOAD_CORE
) -> dict[str, float]:
    """One wrk run on the load core (or ``core``)."""
    argv = wrk_argv(port, path, seconds, connections, core)
    return parse_wrk(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def client(*args: str, core: str = LOAD_CORE) -> subprocess.Popen[str]:
    """Start ``benchmarks.clients`` on the load core (or ``core``)."""
    return subprocess.Popen(
        ["taskset", "-c", core, sys.executable, "-m", "benchmarks.clients", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def run_client(*args: str, timeout: float, core: str = LOAD_CORE) -> dict[str, Any]:
    """Run a client to completion and parse its JSON line."""
    process = client(*args, core=core)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    if process.returncode:
        raise RuntimeError(f"client {args} exited with {process.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result
