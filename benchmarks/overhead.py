"""Per-request overhead of aiodjango's async views against bare aiohttp, robust to noise.

Two measurements, one command each:

* ``wrk`` (default): each server in its own process pinned to the server core, loaded by
  ``wrk -t1 -c50`` pinned to the load core, in interleaved rounds; the server's CPU time
  (utime + stime from ``/proc``) divided by the requests it served. CPU per request barely
  moves when a neighbour takes the core, so the ratio holds on a shared machine.
* ``inproc``: no network; each app handles mocked requests in one process, timed with
  ``perf_counter``. The difference to bare aiohttp is aiodjango's own per-request code
  (router, wrapper, checks), the part the wrk numbers include with the kernel's and parser's.

```bash
PYTHONPATH=. benchmarks/.venv/bin/python -m benchmarks.overhead --rounds 5 --seconds 5
PYTHONPATH=. benchmarks/.venv/bin/python -m benchmarks.overhead inproc
```
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import time

from .load import wrk
from .servers import cpu_seconds, start, stop

# (row, server, path); the first is the reference.
ROWS = (
    ("aiohttp", "aiohttp", "/hello/"),
    # Diagnostic: bare aiohttp in a process with Django set up, to tell what the bigger
    # process costs aiohttp's own code from what aiodjango's code costs.
    ("aiohttp-in-django", "aiohttp-in-django", "/hello/"),
    ("aiodjango", "aiodjango", "/hello/"),
    ("aiodjango-mixed", "aiodjango-mixed", "/hello/"),
)


def over_wrk(rounds: int, seconds: float, connections: int) -> None:
    """Interleaved wrk rounds; prints CPU us per request and its ratio to the reference."""
    cpu: dict[str, list[float]] = {row: [] for row, _, _ in ROWS}
    rate: dict[str, list[float]] = {row: [] for row, _, _ in ROWS}
    for number in range(rounds):
        for row, name, path in ROWS:
            running = start(name)
            try:
                wrk(running.port, path, 1, connections)  # warm-up
                before = cpu_seconds(running.pids)
                result = wrk(running.port, path, seconds, connections)
                used = cpu_seconds(running.pids) - before
            finally:
                stop(running)
            cpu[row].append(used / result["requests"] * 1e6)
            rate[row].append(result["rate"])
            print(f"round {number + 1} {row:16} {cpu[row][-1]:7.2f} us/req {result['rate']:9.0f}/s")
    ref = ROWS[0][0]
    print(f"\n{'row':16} {'CPU us/req':>10} {'ref/row (median, range)':>26} {'req/s':>9}")
    for row, _, _ in ROWS:
        ratios = [r / c for r, c in zip(cpu[ref], cpu[row], strict=True)]
        print(
            f"{row:16} {statistics.median(cpu[row]):10.2f} "
            f"{statistics.median(ratios):10.3f} ({min(ratios):.2f}..{max(ratios):.2f})"
            f"{statistics.median(rate[row]):>15.0f}"
        )


def over_inproc(count: int) -> None:
    """Mocked requests through each app's handler, no network: us per request."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")
    from aiohttp.test_utils import make_mocked_request

    from .serve import build

    async def measure(kind: str, urlconf: str | None) -> float:
        if urlconf:
            os.environ["BENCH_URLCONF"] = urlconf
        app = build(kind)
        if kind == "aiodjango":
            from aiodjango.database import install_router

            install_router(asyncio.get_running_loop())
        app.freeze()
        handle = app._handle
        headers = {"Host": "127.0.0.1"}
        base = make_mocked_request("GET", "/hello/", headers, app=app)
        for _ in range(1000):  # warm-up
            await handle(base.clone())
        requests = [base.clone() for _ in range(count)]
        gc.collect()
        gc.disable()  # the collector's share is the same for both; wrk mode includes it
        try:
            start_time = time.perf_counter()
            for request in requests:
                await handle(request)
            return (time.perf_counter() - start_time) / count * 1e6
        finally:
            gc.enable()

    results = {}
    for row, kind, urlconf in (
        ("aiohttp", "aiohttp", None),
        ("aiodjango", "aiodjango", None),
    ):
        results[row] = min(asyncio.run(measure(kind, urlconf)) for _ in range(3))
    for row, us in results.items():
        extra = us - results["aiohttp"]
        print(f"{row:16} {us:7.2f} us/req  (+{extra:.2f} over aiohttp)")


def main() -> None:
    """Command line: ``wrk`` (default) or ``inproc``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="wrk", choices=("wrk", "inproc"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    if args.mode == "wrk":
        over_wrk(args.rounds, args.seconds, args.connections)
    else:
        over_inproc(args.count)


if __name__ == "__main__":
    main()
