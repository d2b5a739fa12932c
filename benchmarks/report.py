"""Turns measured scenarios into the results page: tables, targets, facts, and the plots.

Every ratio is the median of per-round ratios (a round disturbed by a neighbour moves both
sides of its ratio); the control row's ratio is the scenario's own noise floor.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .scenarios import Scenario

EXTRAS: tuple[str, ...] = (
    "p50",
    "p99",
    "socket_p99",
    "delivered_pct",
    "server_cpu",
    "client_cpu",
    "slow_rate",
)
EXTRAS += ("rss_before_mib", "rss_open_mib")
LABELS = {
    "server_cpu": "srv CPU",
    "client_cpu": "client CPU",
    "slow_rate": "slow req/s",
    "socket_p99": "per-socket p99",
    "delivered_pct": "delivered",
}


def ratios(scenario: Scenario, key: str, ref: str, extra: str | None = None) -> list[float]:
    """Per-round ratios of ``key`` to ``ref`` (of an extra such as ``cpu_us`` if given)."""
    if extra is None:
        mine, theirs = scenario.values.get(key, []), scenario.values.get(ref, [])
    else:
        mine = [each.get(extra, 0.0) for each in scenario.extras.get(key, [])]
        theirs = [each.get(extra, 0.0) for each in scenario.extras.get(ref, [])]
    if len(mine) != len(theirs):
        return []
    return [a / b for a, b in zip(mine, theirs, strict=True) if b and a]


def fmt(value: float) -> str:
    """Three significant figures, thousands separated."""
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}" if value >= 1 else f"{value:.3f}"


def _spread(per_round: list[float]) -> str:
    if not per_round:
        return "-"
    median = statistics.median(per_round)
    return f"{median:.3f} ({min(per_round):.2f}..{max(per_round):.2f})"


def _cpu(scenario: Scenario, key: str) -> tuple[str, str]:
    values = [each["cpu_us"] for each in scenario.extras.get(key, []) if "cpu_us" in each]
    if not values:
        return "-", "-"
    per_round = ratios(scenario, key, scenario.ref, "cpu_us")
    return fmt(statistics.median(values)), "ref" if key == scenario.ref else _spread(per_round)


def table(scenario: Scenario) -> str:
    """One scenario's Markdown table."""
    lines = [
        f"**{scenario.name}** ({scenario.metric}, {scenario.unit}; "
        f"{'higher' if scenario.higher_is_better else 'lower'} is better)",
        "",
        "| row | server | median | min..max | ratio to ref (median, range) | CPU us each "
        "| CPU each / ref's | extra |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in scenario.rows:
        values = scenario.values.get(row.key, [])
        if not values:
            why = scenario.skipped.get(row.key)
            state = f"SKIPPED: {why}" if why else f"FAILED: {scenario.errors.get(row.key, '?')}"
            lines.append(f"| {row.key} | {row.what} | {state} ||||||")
            continue
        ratio = (
            "ref" if row.key == scenario.ref else _spread(ratios(scenario, row.key, scenario.ref))
        )
        cpu, cpu_ratio = _cpu(scenario, row.key)
        lines.append(
            f"| {row.key} | {row.what} | {fmt(statistics.median(values))} "
            f"| {fmt(min(values))}..{fmt(max(values))} | {ratio} | {cpu} | {cpu_ratio} "
            f"| {_extras(scenario.extras.get(row.key, []))} |"
        )
    return "\n".join(lines)


def _extras(extras: list[dict[str, float]]) -> str:
    parts = []
    for key in EXTRAS:
        values = [extra[key] for extra in extras if key in extra]
        if values:
            median = statistics.median(values)
            if key.endswith("_cpu"):
                shown = f"{median:.0%}"
            elif key == "delivered_pct":
                shown = f"{median:.1f}%"
            else:
                shown = fmt(median)
            unit = " MiB" if key.endswith("_mib") else " ms" if "p50" in key or "p99" in key else ""
            parts.append(f"{LABELS.get(key, key)} {shown}{unit}")
    errors = sum(extra.get("socket_errors", 0) for extra in extras)
    if errors:
        parts.append(f"socket errors {errors:.0f}")
    return ", ".join(parts)


def targets(all_scenarios: list[Scenario]) -> tuple[str, list[str]]:
    """The targets table (with each scenario's noise floor), and the targets missed."""
    lines = [
        "| target | ratio (median of rounds) | range | noise floor: control / ref "
        "| by CPU each (ref's / row's) | met |",
        "|---|---|---|---|---|---|",
    ]
    missed = []
    for scenario in all_scenarios:
        control = _spread(ratios(scenario, scenario.control, scenario.ref))
        for target in scenario.targets:
            per_round = ratios(scenario, target.row, target.ref)
            if not per_round:
                why = scenario.skipped.get(target.row)
                lines.append(
                    f"| {target} | - | - | {control} | - | {'skipped' if why else 'no number'} |"
                )
                if not why:
                    missed.append(str(target))
                continue
            by_cpu = [1 / r for r in ratios(scenario, target.row, target.ref, "cpu_us")]
            median = statistics.median(per_round)
            met = target.met(median)
            if not met:
                missed.append(f"{target}: {median:.3f}")
            lines.append(
                f"| {target} | {median:.3f} | {min(per_round):.2f}..{max(per_round):.2f} "
                f"| {control} | {_spread(by_cpu) if scenario.higher_is_better else '-'} "
                f"| {'yes' if met else 'NO'} |"
            )
    return "\n".join(lines), missed


# The peers side by side: (scenario, row, label, stack) for the chart and its table.
PEERS = {
    "requests/s, hello view (higher is better)": [
        ("async HTTP hello", "G-async", "aiodjango @async_view", "aiodjango"),
        ("async HTTP hello", "A", "raw aiohttp", "aiohttp"),
        ("Django sync view", "G-sync", "aiodjango, Django view", "aiodjango"),
        ("Django sync view", "D-gthread", "gunicorn gthread 1x4", "gunicorn"),
        ("Django sync view", "D-sync", "gunicorn sync", "gunicorn"),
        ("async HTTP hello", "B", "Django async, uvicorn", "uvicorn"),
        ("Django sync view", "E", "Django sync, uvicorn", "uvicorn"),
    ],
    "websocket echo, messages/s (higher is better)": [
        ("websocket echo", "G-ws", "aiodjango", "aiodjango"),
        ("websocket echo", "A-ws", "raw aiohttp", "aiohttp"),
        ("websocket echo", "F-daphne", "Channels, daphne", "channels"),
    ],
    "KiB per idle websocket (lower is better)": [
        ("idle websocket memory", "G-mem", "aiodjango", "aiodjango"),
        ("idle websocket memory", "A-mem", "raw aiohttp", "aiohttp"),
        ("idle websocket memory", "F-mem", "Channels, daphne", "channels"),
    ],
}
COLORS = {
    "aiodjango": "tab:green",
    "aiohttp": "tab:gray",
    "gunicorn": "tab:orange",
    "uvicorn": "tab:blue",
    "channels": "tab:purple",
}


def _peer_values(
    all_scenarios: list[Scenario],
) -> dict[str, list[tuple[str, str, float]]]:
    by_name = {s.name: s for s in all_scenarios}
    found: dict[str, list[tuple[str, str, float]]] = {}
    for panel, entries in PEERS.items():
        for scenario_name, key, label, stack in entries:
            scenario = by_name.get(scenario_name)
            if scenario and scenario.values.get(key):
                value = statistics.median(scenario.values[key])
                found.setdefault(panel, []).append((label, stack, value))
    return found


def peers_table(all_scenarios: list[Scenario]) -> str:
    """The peers chart's numbers as a Markdown table."""
    lines = ["| measure | server | median |", "|---|---|---|"]
    for panel, entries in _peer_values(all_scenarios).items():
        lines += [f"| {panel} | {label} | {fmt(value)} |" for label, _, value in entries]
    return "\n".join(lines)


def _pyplot() -> Any:
    import matplotlib  # type: ignore[import-not-found, unused-ignore]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]

    return plt


def plot_ratios(all_scenarios: list[Scenario], path: Path) -> None:
    """A bar per target: median ratio with min..max, the target dashed, the noise floor shaded."""
    plt = _pyplot()
    rows = [(s, t) for s in all_scenarios for t in s.targets if ratios(s, t.row, t.ref)]
    figure, axes = plt.subplots(figsize=(9, 0.8 + 0.7 * max(len(rows), 1)))
    for position, (scenario, target) in enumerate(reversed(rows)):
        per_round = ratios(scenario, target.row, target.ref)
        median = statistics.median(per_round)
        color = "tab:green" if target.met(median) else "tab:red"
        error = [[median - min(per_round)], [max(per_round) - median]]
        control = ratios(scenario, scenario.control, scenario.ref)
        if control and target.ref == scenario.ref:
            low, high = min(control) * target.bar, max(control) * target.bar
            axes.fill_betweenx([position - 0.45, position + 0.45], low, high, color="0.9")
        axes.barh(position, median, color=color, xerr=error, capsize=3, alpha=0.8)
        axes.plot([target.bar, target.bar], [position - 0.4, position + 0.4], "k--", lw=1)
        axes.text(median * 1.05, position + 0.15, f"{median:.2f}", fontsize=8)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([f"{s.name}: {t}" for s, t in reversed(rows)], fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel(
        "ratio (median of interleaved rounds; bars = min..max; dashed = target; "
        "grey = target x control's range)",
        fontsize=8,
    )
    axes.set_title("aiodjango vs the reference in the same run (green = target met)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_peers(all_scenarios: list[Scenario], path: Path) -> None:
    """aiodjango and its peers side by side: requests/s, messages/s, KiB per socket."""
    plt = _pyplot()
    panels = _peer_values(all_scenarios)
    if not panels:
        return
    figure, axes_list = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6))
    if len(panels) == 1:
        axes_list = [axes_list]
    for axes, (panel, entries) in zip(axes_list, panels.items(), strict=True):
        labels = [label for label, _, _ in entries]
        values = [value for _, _, value in entries]
        colors = [COLORS[stack] for _, stack, _ in entries]
        positions = list(range(len(entries)))[::-1]
        axes.barh(positions, values, color=colors)
        for position, value in zip(positions, values, strict=True):
            axes.text(value, position, f" {fmt(value)}", va="center", fontsize=8)
        axes.set_yticks(positions)
        axes.set_yticklabels(labels, fontsize=8)
        axes.set_title(panel, fontsize=9)
        axes.set_xlim(0, max(values) * 1.3)
        axes.tick_params(axis="x", labelsize=7)
    figure.suptitle("One core per server, same machine, same run (medians of interleaved rounds)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_database(all_scenarios: list[Scenario], path: Path) -> None:
    """The PostgreSQL scenarios: req/s of each server, one group per scenario."""
    plt = _pyplot()
    chosen = [s for s in all_scenarios if s.name.startswith("PostgreSQL") and s.values]
    if not chosen:
        return
    stacks = ["aiodjango", "aiodjango", "uvicorn", "gunicorn"]
    figure, axes_list = plt.subplots(1, len(chosen), figsize=(4.2 * len(chosen), 3.4))
    if len(chosen) == 1:
        axes_list = [axes_list]
    for axes, scenario in zip(axes_list, chosen, strict=True):
        rows = [row for row in scenario.rows if not row.control]
        values = [statistics.median(scenario.values.get(row.key, [0.0])) for row in rows]
        positions = list(range(len(rows)))[::-1]
        axes.barh(positions, values, color=[COLORS[s] for s in stacks[: len(rows)]])
        for position, value in zip(positions, values, strict=True):
            axes.text(value, position, f" {fmt(value)}", va="center", fontsize=8)
        axes.set_yticks(positions)
        axes.set_yticklabels([row.what for row in rows], fontsize=7)
        axes.set_title(scenario.name.removeprefix("PostgreSQL "), fontsize=8)
        axes.set_xlim(0, max(values + [1.0]) * 1.35)
        axes.tick_params(axis="x", labelsize=7)
    figure.suptitle("PostgreSQL, 50 connections, requests/s (server on one core)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def facts() -> str:
    """Date, machine, load and versions, for the results page."""
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    packages = [
        "aiodjango",
        "django",
        "aiohttp",
        "aiohttp-wsgi",
        "asgiref",
        "uvicorn",
        "h11",
    ]
    packages += ["daphne", "channels", "channels-redis", "redis", "twisted", "autobahn"]
    packages += ["gunicorn", "uvloop", "psycopg", "psycopg-pool"]
    versions = ", ".join(f"{name} {_version(name)}" for name in packages)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "\n".join(
        [
            f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; load average at the end: {load}",
            f"- machine: {os.cpu_count()} CPUs ({cpu}), "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
            f"Linux {platform.release()}",
            f"- Python {platform.python_version()}; {wrk_version.split(' Copyright')[0].strip()}",
            f"- {versions}",
        ]
    )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"
