"""Paired rounds: a row and the reference served at the same time, so both meet the same noise.

On a shared machine the CPU a request costs moves by ±30 % from one minute to the next (a
neighbour takes the cache, the core's clock changes), far more than the few per cent being
measured. Here each measurement starts the reference server and the row's server together,
loads both at once for the same seconds, and divides each server's CPU time (``/proc``) by
the requests or messages it served: whatever the machine does in those seconds, it does to
both. The ratio reference / row is taken per pair; a table gives its median and range over
the rounds. The first row should be the reference paired with itself, the control row: its
range is the table's noise floor. Two pairings:

* ``cross`` (default, as deployed: a server has a core to itself): the reference on core 0
  and the row on core 1, each loaded from the other core, then the other way round; the
  round's ratio is the geometric mean of the two, so a difference between the cores cancels.
* ``same``: both servers on the server core, both loads on the load core. The two servers
  take turns on one core and evict each other's caches, so every line of code costs more
  than it would alone: the tighter noise floor, and the stricter (pessimistic) ratio.
"""

from __future__ import annotations

import math
import os
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .servers import LOAD_CORE, SERVER_CORE, Running, cpu_seconds, pin, start, stop

# (served count, rate per second) of one load run against a started server, from ``core``.
Load = Callable[[Running, float, str], tuple[float, float]]
Pairing = Literal["cross", "same"]


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


def _measure(
    servers: list[Running], cores: list[tuple[str, str]], load: Load, seconds: float
) -> list[tuple[float, float]]:
    """Both servers pinned to their (server, load) cores, loaded at once: (us/unit, rate)."""
    for running, (server_core, _) in zip(servers, cores, strict=True):
        pin(running, server_core)
    before = [cpu_seconds(running.pids) for running in servers]
    results: list[tuple[float, float]] = [(0.0, 0.0), (0.0, 0.0)]

    def run(index: int) -> None:
        results[index] = load(servers[index], seconds, cores[index][1])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    used = [cpu_seconds(r.pids) - b for r, b in zip(servers, before, strict=True)]
    return [
        (cpu / max(count, 1) * 1e6, rate) for cpu, (count, rate) in zip(used, results, strict=True)
    ]


def pair(
    reference: Row, row: Row, load: Load, seconds: float, pairing: Pairing = "cross"
) -> tuple[float, float, float]:
    """One round of ``row`` against ``reference``: (ratio ref/row, row us/unit, row rate)."""
    servers: list[Running] = []
    try:
        servers = [_start(reference), _start(row)]
        for running in servers:
            load(running, 1.0, LOAD_CORE)  # warm-up, one after the other
        if pairing == "same":
            orientations = [[(SERVER_CORE, LOAD_CORE)] * 2]
        else:
            forth = [(SERVER_CORE, LOAD_CORE), (LOAD_CORE, SERVER_CORE)]
            orientations = [forth, forth[::-1]]
        measured = [_measure(servers, cores, load, seconds) for cores in orientations]
    finally:
        for running in servers:
            stop(running)
    ratios = [ref_us / row_us for (ref_us, _), (row_us, _) in measured]
    ratio = math.prod(ratios) ** (1 / len(ratios))
    row_us = statistics.mean(m[1][0] for m in measured)
    row_rate = statistics.mean(m[1][1] for m in measured)
    return ratio, row_us, row_rate


def table(
    reference: Row,
    rows: list[Row],
    load: Load,
    rounds: int,
    seconds: float,
    unit: str,
    pairing: Pairing = "cross",
) -> None:
    """Interleaved paired rounds over ``rows``; prints each pair, then the ratio table."""
    ratios: dict[str, list[float]] = {row.label: [] for row in rows}
    cpu: dict[str, list[float]] = {row.label: [] for row in rows}
    rate: dict[str, list[float]] = {row.label: [] for row in rows}
    for number in range(rounds):
        for row in rows:
            ratio, row_us, row_rate = pair(reference, row, load, seconds, pairing)
            ratios[row.label].append(ratio)
            cpu[row.label].append(row_us)
            rate[row.label].append(row_rate)
            print(
                f"round {number + 1} {row.label:22} {row_us:7.2f} us/{unit} {row_rate:9.0f} "
                f"{unit}/s  ratio {ratio:.3f}",
                flush=True,
            )
    print(
        f"\n{pairing} pairing, {rounds} rounds of {seconds:g} s\n"
        f"{'row (paired with ' + reference.label + ')':34} {'ref/row median (range)':>24} "
        f"{'CPU us/' + unit:>11} {unit + '/s':>9}"
    )
    for row in rows:
        r = ratios[row.label]
        print(
            f"{row.label:34} {statistics.median(r):10.3f} ({min(r):.2f}..{max(r):.2f}) "
            f"{statistics.median(cpu[row.label]):11.2f} {statistics.median(rate[row.label]):9.0f}"
        )
