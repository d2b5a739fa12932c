"""Per-message websocket overhead of aiodjango against bare aiohttp, by server CPU time.

Paired rounds (``benchmarks.paired``): bare aiohttp and a row served at the same time, each
loaded by the echo client (``benchmarks.clients echo``, 50 connections, sequential 32-byte
echoes) for the same seconds; each server's CPU time (utime + stime from ``/proc``) divided
by the messages it echoed, and the ratio aiohttp / row per pair; ``--pairing cross`` (default)
or ``same``, as in ``benchmarks.overhead``. The first row pairs aiohttp with itself (the
control row: the noise floor).
``--before DIR`` adds a row served by the aiodjango package in ``DIR`` (e.g. ``git archive
<commit> aiodjango | tar -x -C DIR``), for before/after.

```bash
PYTHONPATH=. benchmarks/.venv/bin/python -m benchmarks.ws_overhead --rounds 5 --seconds 5
```
"""

from __future__ import annotations

import argparse
from typing import Final

from .load import run_client
from .paired import Load, Row, table
from .servers import Running

REFERENCE: Final = Row("aiohttp", "aiohttp")
ROWS: Final = (
    Row("aiohttp (control)", "aiohttp"),
    Row("aiodjango", "aiodjango"),
    Row("aiodjango-mixed", "aiodjango-mixed"),
)


def echo_load(connections: int) -> Load:
    """The echo client on ``/ws/echo/``: (messages echoed, messages/s); a wrong echo raises."""

    def load(running: Running, seconds: float, core: str) -> tuple[float, float]:
        args = (str(running.port), "/ws/echo/", str(connections), str(seconds))
        result = run_client("echo", *args, timeout=60 + seconds, core=core)
        if result["mismatches"]:
            raise RuntimeError(f"{result['mismatches']} echoes differed on {running.name}")
        return float(result["messages"]), float(result["per_second"])

    return load


def main() -> None:
    """Interleaved paired rounds; prints CPU us per message and the reference's over each row's."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--before", help="a directory holding an older aiodjango package")
    parser.add_argument("--pairing", choices=("cross", "same"), default="cross")
    options = parser.parse_args()
    rows = list(ROWS)
    if options.before:
        rows.append(Row("aiodjango-before", "aiodjango", options.before))
    load = echo_load(options.connections)
    table(REFERENCE, rows, load, options.rounds, options.seconds, "msg", options.pairing)


if __name__ == "__main__":
    main()
