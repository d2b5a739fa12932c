"""Per-message websocket overhead of aiodjango against bare aiohttp, by server CPU time.

Each server runs in its own process pinned to the server core; the echo client
(``benchmarks.clients echo``, 50 connections, sequential 32-byte echoes) runs on the load core.
Rounds are interleaved; each row's number is the server's CPU time (utime + stime from
``/proc``) divided by the messages it echoed, which moves far less than messages/s when a
neighbour takes the core. ``--before DIR`` adds a row served by the aiodjango package in
``DIR`` (e.g. ``git archive <commit> aiodjango | tar -x -C DIR``), for before/after.

```bash
PYTHONPATH=. benchmarks/.venv/bin/python -m benchmarks.ws_overhead --rounds 5 --seconds 5
```
"""

from __future__ import annotations

import argparse
import os
import statistics

from .load import run_client
from .servers import cpu_seconds, start, stop

# (row, server, aiodjango package directory or None for the work tree); the first is the ref.
Row = tuple[str, str, str | None]
ROWS: tuple[Row, ...] = (
    ("aiohttp", "aiohttp", None),
    ("aiodjango", "aiodjango", None),
    ("aiodjango-mixed", "aiodjango-mixed", None),
)


def _one(server: str, tree: str | None, seconds: float, connections: int) -> tuple[float, float]:
    """CPU us per message and messages/s of one server for ``seconds``."""
    saved = os.environ.pop("BENCH_AIODJANGO", None)
    if tree is not None:
        os.environ["BENCH_AIODJANGO"] = tree
    try:
        running = start(server)
    finally:
        os.environ.pop("BENCH_AIODJANGO", None)
        if saved is not None:
            os.environ["BENCH_AIODJANGO"] = saved
    try:
        args = (str(running.port), "/ws/echo/", str(connections))
        run_client("echo", *args, "1", timeout=60)  # warm-up
        before = cpu_seconds(running.pids)
        result = run_client("echo", *args, str(seconds), timeout=60 + seconds)
        used = cpu_seconds(running.pids) - before
    finally:
        stop(running)
    if result["mismatches"]:
        raise RuntimeError(f"{result['mismatches']} echoes differed on {server}")
    return used / max(result["messages"], 1) * 1e6, float(result["per_second"])


def main() -> None:
    """Interleaved rounds; prints CPU us per message and the reference's over each row's."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--before", help="a directory holding an older aiodjango package")
    options = parser.parse_args()
    rows = ROWS + ((("aiodjango-before", "aiodjango", options.before),) if options.before else ())
    cpu: dict[str, list[float]] = {row: [] for row, _, _ in rows}
    rate: dict[str, list[float]] = {row: [] for row, _, _ in rows}
    for number in range(options.rounds):
        for row, server, tree in rows:
            us, per_second = _one(server, tree, options.seconds, options.connections)
            cpu[row].append(us)
            rate[row].append(per_second)
            print(f"round {number + 1} {row:17} {us:7.2f} us/msg {per_second:9.0f} msg/s")
    ref = rows[0][0]
    print(f"\n{'row':17} {'CPU us/msg':>10} {'ref/row (median, range)':>26} {'msg/s':>9}")
    for row, _, _ in rows:
        ratios = [r / c for r, c in zip(cpu[ref], cpu[row], strict=True)]
        print(
            f"{row:17} {statistics.median(cpu[row]):10.2f} "
            f"{statistics.median(ratios):10.3f} ({min(ratios):.2f}..{max(ratios):.2f})"
            f"{statistics.median(rate[row]):>15.0f}"
        )


if __name__ == "__main__":
    main()
