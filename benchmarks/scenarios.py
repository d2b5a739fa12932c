"""What is measured: each scenario's rows, reference, targets, and the services it needs.

A scenario's rows are measured in interleaved rounds (A B C A', A B C A', ...). Every scenario
has a control row: its reference measured a second time in each round, last, so that the
table shows its own noise floor next to the ratios.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .servers import THREADS

ROUTE_TARGET = "/api/v2/widgets/42/"


@dataclass(frozen=True)
class Config:
    """How long and how often to measure."""

    rounds: int
    seconds: float
    warmup: float
    idle_sockets: int
    connections: int = 50
    fanout_sockets: int = 1000
    fanout_messages: int = 20
    fanout_burst: int = 20
    smoke: bool = False


@dataclass(frozen=True)
class Row:
    """One line of a scenario: a server measured on one path."""

    key: str
    what: str
    server: str
    path: str
    publish: str = ""  # fan-out: the HTTP path that makes the server publish one message
    control: bool = False
    in_smoke: bool = True


@dataclass(frozen=True)
class Target:
    """``row`` over ``ref`` must be ``>=`` (or ``<=``) ``bar``."""

    row: str
    ref: str
    op: str
    bar: float

    def met(self, ratio: float) -> bool:
        """Whether a ratio clears the bar."""
        return ratio >= self.bar if self.op == ">=" else ratio <= self.bar

    def __str__(self) -> str:
        return f"{self.row} {self.op} {self.bar:g} x {self.ref}"


@dataclass
class Scenario:
    """Rows measured the same way, a reference row (measured twice), and targets."""

    name: str
    metric: str
    unit: str
    higher_is_better: bool
    rows: list[Row]
    ref: str
    targets: list[Target]
    kind: str
    needs: tuple[str, ...] = ()  # services: "postgres", "redis"
    in_smoke: bool = True
    min_seconds: float = 0.0  # a run must outlast the slowest request's queueing time
    values: dict[str, list[float]] = field(default_factory=dict)
    extras: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ref = next(row for row in self.rows if row.key == self.ref)
        if not any(row.control for row in self.rows):
            what = f"{ref.key} again, last in each round (noise control)"
            self.rows.append(Row(f"{ref.key}-ctl", what, ref.server, ref.path, ref.publish, True))

    @property
    def control(self) -> str:
        """The control row's key."""
        return next(row.key for row in self.rows if row.control)


def scenarios() -> list[Scenario]:
    """Every scenario, in the order it is run."""
    return [
        Scenario(
            "async HTTP hello",
            "requests/s",
            "req/s",
            True,
            [
                Row(
                    "G-async",
                    "aiodjango: @async_view, full app",
                    "aiodjango",
                    "/hello/",
                ),
                Row("A", "bare aiohttp handler", "aiohttp", "/hello/"),
                Row("B", "Django async view, uvicorn", "uvicorn", "/django/async-hello/"),
            ],
            "A",
            [Target("G-async", "A", ">=", 0.90)],
            "http",
        ),
        Scenario(
            "mixed URLconf, async hello",
            "requests/s",
            "req/s",
            True,
            [
                Row(
                    "G-mixed",
                    "aiodjango, route last of 14 mixed",
                    "aiodjango-mixed",
                    "/hello/",
                ),
                Row(
                    "G-mixed-gcf",
                    "same, gc.freeze() after start-up (diagnostic)",
                    "aiodjango-mixed-gcfreeze",
                    "/hello/",
                    in_smoke=False,
                ),
                Row("A", "bare aiohttp handler", "aiohttp", "/hello/"),
            ],
            "A",
            [Target("G-mixed", "A", ">=", 0.90)],
            "http",
        ),
        Scenario(
            "Django sync view",
            "requests/s",
            "req/s",
            True,
            [
                Row(
                    "G-sync",
                    "aiodjango: WSGI fallback, full app",
                    "aiodjango",
                    "/django/hello/",
                ),
                Row("C", "bare aiohttp-wsgi", "aiohttp-wsgi", "/django/hello/"),
                Row(
                    "D-sync",
                    "gunicorn sync, 1 worker",
                    "gunicorn-sync",
                    "/django/hello/",
                ),
                Row(
                    "D-gthread",
                    "gunicorn gthread, 1 x 4",
                    "gunicorn-gthread",
                    "/django/hello/",
                ),
                Row("E", "Django sync view, uvicorn", "uvicorn", "/django/hello/"),
            ],
            "C",
            [Target("G-sync", "C", ">=", 0.95), Target("G-sync", "D-sync", ">=", 1.5)],
            "http",
        ),
        Scenario(
            "websocket echo",
            "messages/s",
            "msg/s",
            True,
            [
                Row(
                    "G-ws",
                    "aiodjango: @async_view(websocket=True)",
                    "aiodjango",
                    "/ws/echo/",
                ),
                Row("A-ws", "bare aiohttp handler", "aiohttp", "/ws/echo/"),
                Row("F-daphne", "Channels consumer, daphne", "daphne", "/ws/echo/"),
            ],
            "A-ws",
            [Target("G-ws", "A-ws", ">=", 0.90)],
            "echo",
        ),
        Scenario(
            "mixed URLconf, websocket echo",
            "messages/s",
            "msg/s",
            True,
            [
                Row(
                    "G-mixed-ws",
                    "aiodjango, route last of 14",
                    "aiodjango-mixed",
                    "/ws/echo/",
                ),
                Row(
                    "G-mixed-ws-gcf",
                    "same, gc.freeze() (diagnostic)",
                    "aiodjango-mixed-gcfreeze",
                    "/ws/echo/",
                    in_smoke=False,
                ),
                Row("A-ws", "bare aiohttp handler", "aiohttp", "/ws/echo/"),
            ],
            "A-ws",
            [Target("G-mixed-ws", "A-ws", ">=", 0.90)],
            "echo",
        ),
        Scenario(
            "idle websocket memory",
            "RSS per idle websocket",
            "KiB",
            False,
            [
                Row("G-mem", "aiodjango", "aiodjango", "/ws/echo/"),
                Row("A-mem", "bare aiohttp", "aiohttp", "/ws/echo/"),
                Row("F-mem", "Channels, daphne", "daphne", "/ws/echo/"),
            ],
            "A-mem",
            [Target("G-mem", "A-mem", "<=", 1.2)],
            "memory",
        ),
        Scenario(
            "routing scale",
            "requests/s",
            "req/s",
            True,
            [
                Row(
                    "R-1000",
                    "async route last of 1,000",
                    "aiodjango-1000",
                    ROUTE_TARGET,
                ),
                Row("R-10", "async route last of 10", "aiodjango-10", ROUTE_TARGET),
            ],
            "R-10",
            [Target("R-1000", "R-10", ">=", 0.80)],
            "http",
        ),
        Scenario(
            "isolation",
            "async route p99 latency",
            "ms",
            False,
            [
                Row(
                    "I-saturated",
                    f"{THREADS}-thread pool saturated",
                    "aiodjango",
                    "/hello/",
                ),
                Row("I-idle", "pool idle", "aiodjango", "/hello/"),
            ],
            "I-idle",
            [Target("I-saturated", "I-idle", "<=", 2.0)],
            "isolation",
        ),
        Scenario(
            "streaming",
            "time to first byte (median)",
            "ms",
            False,
            [
                Row(
                    "S-aiodjango",
                    "StreamingHttpResponse, aiodjango",
                    "aiodjango",
                    "/stream/",
                ),
                Row(
                    "S-gunicorn",
                    "same view, gunicorn sync",
                    "gunicorn-sync",
                    "/stream/",
                ),
            ],
            "S-gunicorn",
            [Target("S-aiodjango", "S-gunicorn", "<=", 10.0)],
            "ttfb",
        ),
        *_database(),
        Scenario(
            "fan-out to 1,000 sockets",
            "messages delivered/s (burst)",
            "msg/s",
            True,
            [
                Row(
                    "X-aiodjango",
                    "aiodjango.groups on Redis, gunicorn 2 workers",
                    "aiodjango-fanout",
                    "/fanout/ws/",
                    "/fanout/publish/",
                ),
                Row(
                    "X-channels",
                    "Channels + channels_redis, 2 daphnes",
                    "daphne-fanout",
                    "/fanout/ws/",
                    "/fanout/channels/publish/",
                ),
            ],
            "X-channels",
            [Target("X-aiodjango", "X-channels", ">=", 10.0)],
            "fanout",
            needs=("redis",),
        ),
    ]


def _database() -> list[Scenario]:
    """Issue 10: one indexed query, and a 20 ms wait in PostgreSQL, with and without the pool."""
    found = []
    for suffix, pooled in (("db", True), ("db0", False)):
        how = "pool" if pooled else "no pool, CONN_MAX_AGE=0"
        for what, path, targets in (
            ("one indexed query", "item", [(">=", 2.0, "B"), (">=", 1.0, "D")]),
            ("pg_sleep(0.02)", "sleep", [(">=", 1.0, "B")]),
        ):
            tag = f"{'Q' if path == 'item' else 'W'}{'' if pooled else '0'}"
            rows = [
                Row(
                    f"G-{tag}",
                    "aiodjango async view",
                    f"aiodjango-{suffix}",
                    f"/db/aio/{path}/",
                ),
                Row(
                    f"G-{tag}-sync",
                    "aiodjango, Django sync view",
                    f"aiodjango-{suffix}",
                    f"/db/sync/{path}/",
                ),
                Row(
                    f"B-{tag}",
                    "Django async view, uvicorn",
                    f"uvicorn-{suffix}",
                    f"/db/async/{path}/",
                ),
                Row(
                    f"D-{tag}",
                    "Django sync view, gunicorn gthread 1 x 4",
                    f"gunicorn-gthread-{suffix}",
                    f"/db/sync/{path}/",
                ),
            ]
            found.append(
                Scenario(
                    f"PostgreSQL {what} ({how})",
                    "requests/s",
                    "req/s",
                    True,
                    rows,
                    f"B-{tag}",
                    [Target(f"G-{tag}", f"{ref}-{tag}", op, bar) for op, bar, ref in targets],
                    "http",
                    needs=("postgres",),
                    in_smoke=pooled,
                    min_seconds=2.0 if path == "sleep" else 0.0,
                )
            )
    return found
