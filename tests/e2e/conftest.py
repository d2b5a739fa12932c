"""Fixtures of the browser tests: the demo served by ``manage.py runserver`` or by gunicorn
with 2 workers and Redis, and Chromium.

The demo runs as a subprocess on a free loopback port with its own SQLite database, migrated
and given the demo users first, exactly as ``scripts/demo`` does. The gunicorn one
(``demo_cluster``) runs 2 aiodjango workers with ``REDIS_URL`` set (a key prefix of its own)
and DEBUG off, serving the collected static files (no Redis: skipped, or failed in CI).
Chromium is Debian's (``apt-get install chromium``), driven by Playwright without ``playwright
install``. Outside CI a missing browser or Playwright skips these tests; in CI (``CI`` set) it
fails them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
DOCS_IMAGES = ROOT / "docs" / "img"
CHROMIUM = Path(os.environ.get("AIODJANGO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}
STARTUP_SECONDS = 60


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so the browser test must run).")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _demo_env(database: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_RUNSERVER_HIDE_WARNING": "true",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_DEBUG", None)
    return env


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the demo server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    pytest.fail(f"the demo server did not answer {url} in {STARTUP_SECONDS}s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, checked before anything else starts (skip or fail if missing)."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


class DemoServer:
    """``manage.py runserver --noreload`` of the demo on one port, which can be restarted."""

    def __init__(self, workdir: Path) -> None:
        self.env = _demo_env(workdir / "demo.sqlite3")
        self.manage = [sys.executable, str(ROOT / "demo" / "manage.py")]
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def prepare(self) -> None:
        """Migrate the fresh database and create the demo users, as scripts/demo does."""
        for command in (["migrate", "--no-input"], ["createdemo"]):
            done = subprocess.run(
                [*self.manage, *command],
                env=self.env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                pytest.fail(f"manage.py {command[0]} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        """Start the server and wait until it answers."""
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [*self.manage, "runserver", "--noreload", f"127.0.0.1:{self.port}"],
                env=self.env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        _wait_until_serving(self.process, f"{self.base}/accounts/login/", self.log)

    def stop(self) -> None:
        """SIGTERM (a graceful shutdown: open websockets get 1001), then wait for the exit."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def demo(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo served by ``manage.py runserver`` on a free 127.0.0.1 port."""
    server = DemoServer(tmp_path_factory.mktemp("demo-server"))
    server.prepare()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class DemoCluster(DemoServer):
    """The demo under gunicorn: 2 ``aiodjango.workers.GunicornWorker`` workers and Redis."""

    def __init__(self, workdir: Path, redis_url: str) -> None:
        super().__init__(workdir)
        self.env.update(
            REDIS_URL=redis_url,
            REDIS_PREFIX=f"test-e2e-{os.getpid()}-{self.port}",
            DJANGO_DEBUG="0",
            DJANGO_STATIC_ROOT=str(workdir / "static"),
            PYTHONPATH=os.pathsep.join([str(ROOT / "demo"), str(ROOT)]),
        )

    def prepare(self) -> None:
        """Migrate, create the users and collect the static files (DEBUG is off)."""
        super().prepare()
        subprocess.run(
            [*self.manage, "collectstatic", "--no-input", "-v0"],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        """Start gunicorn and wait until it answers."""
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "gunicorn", "demo.wsgi:app"),
                    *("--worker-class", "aiodjango.workers.GunicornWorker", "--workers", "2"),
                    *("--bind", f"127.0.0.1:{self.port}"),
                ],
                env=self.env,
                cwd=ROOT / "demo",
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        _wait_until_serving(self.process, f"{self.base}/accounts/login/", self.log)


@pytest.fixture(scope="session")
def demo_cluster(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo under gunicorn with 2 workers and the Redis groups backend; its base URL."""
    redis = pytest.importorskip("redis")
    pytest.importorskip("gunicorn")
    url = os.environ.get("AIODJANGO_TEST_REDIS", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        _unavailable(f"no Redis at {url}: {exc}")
    server = DemoCluster(tmp_path_factory.mktemp("demo-cluster"), url)
    server.prepare()
    server.start()
    try:
        yield server.base
    finally:
        server.stop()


@pytest.fixture(scope="session")
def demo_server(demo: DemoServer) -> str:
    """The running demo's base URL."""
    return demo.base


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def artifacts() -> Path:
    """The gitignored folder where browser tests leave screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def docs_images() -> Path:
    """docs/img/, where the screenshots shown in the docs are written (and committed)."""
    DOCS_IMAGES.mkdir(exist_ok=True)
    return DOCS_IMAGES
