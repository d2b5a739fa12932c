"""Paired rounds: a row and the reference served at the same time, so both meet the same noise.

On a shared machine the CPU a request costs moves by ±30 % from one minute to the next (a
neighbour takes the cache, the core's clock changes), far more than the few per cent being
measured. Here each measurement starts the reference server and the row's server together,
both pinned to the server core, loads both at once from the load core for the same seconds,
and divides each server's CPU time (``/proc``) by the requests or messages it served: whatever
the machine does in those seconds, it does to both. The ratio reference / row is taken per
pair; a table gives its median and range over the rounds. The first row should be the
reference paired with itself, the control row: its range is the table's noise floor.
"""

from __future__ import annotations

import os
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .servers import Running, cpu_seconds, start, stop

# (served count, rate per second) of one load run against one started server.
Load = Callable[[Running, float], tuple[float, float]]


@dataclass(frozen=True)
class Row:
    """A table row: a server of ``benchmarks.servers`` (``tree``: another aiodjango package)."""

    label: str
    server: str
    tree: str | None = None


def _start(row: Row) -> Running:
    saved = os.environ.pop("BENCH_AIODJANGO", None)
    if row.tree is not None:
        os.environ["BENCH_AIODJANGO"] = row.tree
    try:
        return start(row.server)
    finally:
        os.environ.pop("BENCH_AIODJANGO", None)
        if saved is not None:
            os.environ["BENCH_AIODJANGO"] = saved


def pair(reference: Row, row: Row, load: Load, seconds: float) -> list[tuple[float, float]]:
    """CPU us per unit and rate of ``reference`` and of ``row``, loaded at the same time."""
    servers: list[Running] = []
    try:
        servers = [_start(reference), _start(row)]
        for running in servers:
            load(running, 1.0)  # warm-up, one after the other
        before = [cpu_seconds(running.pids) for running in servers]
        results: list[tuple[float, float]] = [(0.0, 0.0), (0.0, 0.0)]

        def run(index: int) -> None:
            results[index] = load(servers[index], seconds)

        threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        used = [cpu_seconds(r.pids) - b for r, b in zip(servers, before, strict=True)]
    finally:
        for running in servers:
            stop(running)
    return [
        (cpu / max(count, 1) * 1e6, rate) for cpu, (count, rate) in zip(used, results, strict=True)
    ]


def table(
    reference: Row, rows: list[Row], load: Load, rounds: int, seconds: float, unit: str
) -> None:
    """Interleaved paired rounds over ``rows``; prints each pair, then the ratio table."""
    ratios: dict[str, list[float]] = {row.label: [] for row in rows}
    cpu: dict[str, list[float]] = {row.label: [] for row in rows}
    rate: dict[str, list[float]] = {row.label: [] for row in rows}
    for number in range(rounds):
        for row in rows:
            (ref_us, _), (row_us, row_rate) = pair(reference, row, load, seconds)
            ratios[row.label].append(ref_us / row_us)
            cpu[row.label].append(row_us)
            rate[row.label].append(row_rate)
            print(
                f"round {number + 1} {row.label:22} reference {ref_us:7.2f} row {row_us:7.2f} "
                f"us/{unit}  ratio {ref_us / row_us:.3f}",
                flush=True,
            )
    print(
        f"\n{'row (paired with ' + reference.label + ')':34} {'ref/row median (range)':>24} "
        f"{'CPU us/' + unit:>11} {unit + '/s':>9}"
    )
    for row in rows:
        r = ratios[row.label]
        print(
            f"{row.label:34} {statistics.median(r):10.3f} ({min(r):.2f}..{max(r):.2f}) "
            f"{statistics.median(cpu[row.label]):11.2f} {statistics.median(rate[row.label]):9.0f}"
        )
