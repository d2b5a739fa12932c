"""Per-request overhead of aiodjango's async views against bare aiohttp, robust to noise.

Two measurements, one command each:

* ``wrk`` (default): paired rounds (``benchmarks.paired``): bare aiohttp and a row served at
  the same time, each loaded by ``wrk -t1 -c50`` for the same seconds; each server's CPU
  time (utime + stime from ``/proc``) divided by the requests it served, and the ratio
  aiohttp / row per pair. ``--pairing cross`` (default: each server on a core of its own,
  both orientations) or ``same`` (both on one core: stricter). The first row pairs aiohttp
  with itself (the control row: the table's noise floor). ``--before DIR`` adds a row served
  by the aiodjango package in ``DIR`` (``git archive <commit> aiodjango | tar -x -C DIR``).
* ``inproc``: no network; each app handles mocked requests in one process, timed with
  ``perf_counter``. The difference to bare aiohttp is aiodjango's own per-request code
  (router, wrapper, checks), the part the wrk numbers include with the kernel's and parser's.

```bash
PYTHONPATH=. benchmarks/.venv/bin/python -m benchmarks.overhead --rounds 5 --seconds 5
PYTHONPATH=. benchmarks/.venv/bin/python -m benchmarks.overhead --sync   # WSGI fallback
PYTHONPATH=. benchmarks/.venv/bin/python -m benchmarks.overhead inproc
```
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
from typing import Final

from .load import wrk
from .paired import Load, Row, table
from .servers import Running

REFERENCE: Final = Row("aiohttp", "aiohttp")
SYNC_REFERENCE: Final = Row("aiohttp-wsgi", "aiohttp-wsgi")
SYNC_ROWS: Final = (
    Row("aiohttp-wsgi (control)", "aiohttp-wsgi"),
    Row("aiodjango (WSGI fallback)", "aiodjango"),
)
ROWS: Final = (
    Row("aiohttp (control)", "aiohttp"),
    # Diagnostic: bare aiohttp in a process with Django set up, to tell what the bigger
    # process costs aiohttp's own code from what aiodjango's code costs.
    Row("aiohttp-in-django", "aiohttp-in-django"),
    Row("aiodjango", "aiodjango"),
    Row("aiodjango-mixed", "aiodjango-mixed"),
)


def hello_load(connections: int, path: str = "/hello/") -> Load:
    """wrk on ``path``: (requests served, requests/s)."""

    def load(running: Running, seconds: float, core: str) -> tuple[float, float]:
        result = wrk(running.port, path, seconds, connections, core)
        return result["requests"], result["rate"]

    return load


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
    parser.add_argument("--before", help="a directory holding an older aiodjango package")
    parser.add_argument("--pairing", choices=("cross", "same"), default="cross")
    parser.add_argument(
        "--sync",
        action="store_true",
        help="Django's sync hello through the WSGI fallback, against bare aiohttp-wsgi",
    )
    args = parser.parse_args()
    if args.mode == "wrk":
        reference, rows = (
            (SYNC_REFERENCE, list(SYNC_ROWS)) if args.sync else (REFERENCE, list(ROWS))
        )
        if args.before:
            rows.append(Row("aiodjango-before", "aiodjango", args.before))
        load = hello_load(args.connections, "/django/hello/" if args.sync else "/hello/")
        table(reference, rows, load, args.rounds, args.seconds, "req", args.pairing)
    else:
        over_inproc(args.count)


if __name__ == "__main__":
    main()
