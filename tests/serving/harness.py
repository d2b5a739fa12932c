"""Running the serving project in a subprocess: a copy in tmp_path, a free port, stop by PID."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.helpers import free_port as free_port  # re-exported for the serving tests

__all__ = (
    "BAD_TARGETS",
    "PROJECT",
    "TARGETS",
    "Server",
    "copy_project",
    "eventually",
    "file_exists",
    "refusal",
    "free_port",
    "new_project",
    "running",
    "slow_request",
)

PROJECT = Path(__file__).resolve().parent
REPO = PROJECT.parent.parent
READY_DEADLINE = 60.0  # a hang guard for a broken server, not a speed expectation

TARGETS = (
    "project.wsgi:app",  # the combined app, colon form
    "project.wsgi.app",  # the same, dotted form
    "project.wsgi:app_factory",  # an async factory
    "project.wsgi.make_app",  # a plain factory
    "project.wsgi:application",  # Django's WSGI application, wrapped
)
"""What every entry point must serve: each serves the project's /sync/ and /async/."""

BAD_TARGETS = (
    ("project.settings:DEBUG", "True"),
    ("project.wsgi:not_an_app", "a factory returning 'not an app'"),
)
"""Wrong targets, with what the loader's message says they are."""


def refusal(target: str, what: str) -> str:
    """The loader's one message for a wrong target, as every entry point prints it."""
    from aiodjango.loading import ACCEPTED

    return f"Cannot serve {target!r}: it is {what}; expected {ACCEPTED}."


def copy_project(tmp_path: Path) -> Path:
    """A private copy of the serving project, safe to edit."""
    target = tmp_path / "project-copy"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def new_project(tmp_path: Path) -> tuple[Path, int, str]:
    """A private copy of the project, a free port and the base URL it will be served at."""
    port = free_port()
    return copy_project(tmp_path), port, f"http://127.0.0.1:{port}"


async def eventually(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``condition`` until it holds; READY_DEADLINE only guards against a hang."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_DEADLINE
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"still false after {READY_DEADLINE}s: {condition!r}")
        await asyncio.sleep(0.05)


async def slow_request(
    session: aiohttp.ClientSession, base: str, tmp_path: Path, seconds: float
) -> asyncio.Future[aiohttp.ClientResponse]:
    """Start ``/slow/?s=seconds`` and return it once the Django view is running."""
    started = tmp_path / f"slow-started-{seconds}"
    slow = asyncio.ensure_future(session.get(f"{base}/slow/?s={seconds}&started={started}"))
    await eventually(file_exists(started))
    return slow


def file_exists(path: Path) -> Callable[[], Awaitable[bool]]:
    """A condition for ``eventually()``: ``path`` exists (checked off the event loop)."""
    return lambda: asyncio.to_thread(path.exists)


@dataclass
class Server:
    """A started subprocess and where its output goes."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def output(self) -> str:
        """Everything it wrote so far (stdout and stderr together)."""
        return self.log.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process group the server leads (its PID)."""
        os.killpg(self.process.pid, signum)

    def wait(self, timeout: float = READY_DEADLINE) -> int:
        """Its exit status, after it exits by itself."""
        return self.process.wait(timeout)

    async def get(self, url: str) -> tuple[int, str]:
        """Status and text of a GET, once the server answers (polling until it does)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_DEADLINE
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(url) as response:
                        return response.status, await response.text()
                except aiohttp.ClientConnectionError:
                    if self.process.poll() is not None or loop.time() > deadline:
                        raise AssertionError(
                            f"server did not answer {url}:\n{self.output}"
                        ) from None
                    await asyncio.sleep(0.1)


@contextmanager
def running(
    args: Sequence[str], cwd: Path, tmp_path: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start ``python args`` in its own process group; kill the group by PID if still alive."""
    log = tmp_path / "server.log"
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(cwd), str(REPO)]),
        "HOME": str(tmp_path),  # gunicorn's control socket and the like stay in tmp_path
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Server(process, log)
    finally:
        # Also reaps what the leader started (the reloader's child, gunicorn's workers).
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
