"""Where a server's time goes under wrk: ``python -m benchmarks.profile SERVER PATH``.

Starts ``SERVER`` (a name from ``benchmarks.servers.SERVERS``) on the server core, loads
``PATH`` from the load core (wrk; the websocket echo client for a ``/ws/`` path), samples the
server with py-spy (``--format raw``, ``--nonblocking``, idle frames left out), and prints
the functions with the largest share of samples, inclusive (on the stack) and self (at the
top), plus the CPU time per request. Run it for aiodjango and for the bare aiohttp server
and compare the two lists::

    bash benchmarks/run --help >/dev/null   # makes benchmarks/.venv on first use
    PYTHONPATH=. benchmarks/.venv/bin/python -m benchmarks.profile aiodjango-mixed /hello/
    PYTHONPATH=. benchmarks/.venv/bin/python -m benchmarks.profile aiohttp /hello/
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .load import client, parse_wrk, run_client, wrk_argv
from .servers import BIN, cpu_seconds, start, stop


def summarize(raw: Path, top: int) -> str:
    """The ``top`` functions by inclusive and by self share of the samples in a raw py-spy file."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    roots = collections.Counter(line.split(";", 1)[0] for line in raw.read_text().splitlines())
    lines = [
        f"{total} samples; stacks start in: "
        + ", ".join(f"{r} x{n}" for r, n in roots.most_common(4))
    ]
    lines += ["", "inclusive %  function"]
    lines += [f"{100 * n / total:10.1f}  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "self %  function"]
    lines += [f"{100 * n / total:6.1f}  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{name} ({module})"


def main() -> None:
    """Profile one server under wrk and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("server")
    parser.add_argument("path")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args()
    run = start(options.server)
    try:
        websocket = options.path.startswith("/ws/")
        if websocket:  # the echo client instead of wrk
            run_client("echo", str(run.port), options.path, "50", "1", timeout=60)
            load = client("echo", str(run.port), options.path, "50", str(options.seconds + 2))
        else:
            subprocess.run(wrk_argv(run.port, options.path, 1, 50), capture_output=True, check=True)
            load = subprocess.Popen(
                wrk_argv(run.port, options.path, options.seconds + 2, 50),
                stdout=subprocess.PIPE,
                text=True,
            )
        time.sleep(1)
        raw = Path(tempfile.mkdtemp()) / "profile.txt"
        cpu = cpu_seconds(run.pids)
        spy = [str(BIN / "py-spy"), "record", "--format", "raw", "--nonblocking", "--rate", "250"]
        spy += ["-d", str(options.seconds), "-o", str(raw), "-p", str(run.processes[0].pid)]
        subprocess.run(spy, capture_output=True, check=True)
        used = cpu_seconds(run.pids) - cpu
        out, _ = load.communicate(timeout=60)
        rate = json.loads(out)["per_second"] if websocket else parse_wrk(out)["rate"]
    finally:
        stop(run)
    unit = "messages" if websocket else "requests"
    print(f"{options.server} {options.path}: {rate:,.0f} {unit}/s under py-spy")
    each = used / (rate * options.seconds) * 1e6
    print(f"server CPU per {unit[:-1]} while sampled: {each:.1f} us\n")
    print(summarize(raw, options.top))
    print(f"\nraw py-spy samples: {raw}")


if __name__ == "__main__":
    sys.exit(main())
