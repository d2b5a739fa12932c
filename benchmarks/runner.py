"""Runs the benchmark scenarios and prints medians, ranges and ratios: ``bash benchmarks/run``.

Each server is one process pinned to core 0 (``taskset -c 0``); wrk and the small clients run on
core 1, as does this runner. Within a scenario the rows are measured in interleaved rounds
(A B C A', A B C A', ...), where A' is the reference again (the control row: the table's own
noise floor), and each row's ratio to the reference is taken per round, so the machine's drift
hits both sides of a ratio alike. ``--smoke`` runs one short round of the scenarios marked for
it and only checks that each produced a number or was skipped for a stated reason (no timing is
asserted anywhere).

The pieces: ``servers`` (start, stop, /proc readings), ``load`` (wrk and the websocket
clients' processes), ``scenarios`` (what is measured), ``measure`` (how, in rounds),
``report`` (tables and plots).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import report
from .measure import run_scenario
from .scenarios import Config, scenarios
from .servers import LOAD_CORE, RESULTS


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the scenarios, print and save the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="one short round of each scenario")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", action="append", help="run scenarios whose name contains this")
    parser.add_argument(
        "--plot",
        type=Path,
        help="write the ratio plot (PNG) here; the peers "
        "and database plots go beside it (-peers.png, -database.png)",
    )
    options = parser.parse_args(argv)
    if options.smoke:
        config = Config(
            rounds=1,
            seconds=1.0,
            warmup=0.0,
            idle_sockets=200,
            fanout_sockets=100,
            fanout_messages=3,
            fanout_burst=3,
            smoke=True,
        )
    else:
        if options.rounds < 5:
            print(f"note: {options.rounds} rounds; the targets are judged on at least 5")
        config = Config(options.rounds, options.seconds, warmup=1.0, idle_sockets=2000)
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    os.environ.setdefault("BENCH_REDIS_PREFIX", f"aiodjango-bench-{os.getpid()}")
    chosen = [
        s
        for s in scenarios()
        if (not options.only or any(o in s.name for o in options.only))
        and (s.in_smoke or not options.smoke)
    ]
    started = time.monotonic()
    for scenario in chosen:
        run_scenario(scenario, config)
    tables = "\n\n".join(report.table(s) for s in chosen)
    target_table, missed = report.targets(chosen)
    text = (
        f"{report.facts()}\n- {config}\n\n{tables}\n\n{target_table}\n\n"
        f"Peers side by side:\n\n{report.peers_table(chosen)}\n"
    )
    print("\n" + text)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}.md").write_text(text)
    raw = {
        s.name: {
            "values": s.values,
            "extras": s.extras,
            "errors": s.errors,
            "skipped": s.skipped,
        }
        for s in chosen
    }
    (RESULTS / f"{stamp}.json").write_text(json.dumps(raw, indent=1))
    if options.plot:
        report.plot_ratios(chosen, options.plot)
        report.plot_peers(chosen, options.plot.with_name(f"{options.plot.stem}-peers.png"))
        report.plot_database(chosen, options.plot.with_name(f"{options.plot.stem}-database.png"))
        print(f"plots written beside {options.plot}")
    print(f"took {time.monotonic() - started:.0f} s; results in {RESULTS / stamp}.md")
    if missed:
        print("targets missed (not an error): " + "; ".join(missed))
    skipped = [f"{s.name}/{key}: {why}" for s in chosen for key, why in s.skipped.items()]
    if skipped:
        print("skipped (not an error):\n  " + "\n  ".join(skipped))
    failed = [
        f"{s.name}/{row.key}: {s.errors.get(row.key, 'no number')}"
        for s in chosen
        for row in s.rows
        if row.key not in s.values and row.key not in s.skipped
    ]
    if failed:
        print("FAILED, no number for:\n  " + "\n  ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
