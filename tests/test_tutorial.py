"""docs/quickstart.md works as written: its commands and files, in order, give a working server.

The page marks what a reader does in a machine-readable way: `````bash`` blocks hold commands on
``$ `` lines, and code blocks with ``title="path"`` hold a file's whole text (``title="path (add
at the end)"`` is appended to the file instead). This test replays them in order, as one bash
script, in a temporary folder with a fresh virtualenv (``python3 -m venv``, then ``pip install
~/src/aiodjango`` where ``~/src/aiodjango`` links to this checkout, through the index pip is
configured with). The block titled "Run the server" is started last, on a free port, and the
test checks the page, the async view and the websocket it promises.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.serving.harness import free_port, running

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "docs" / "quickstart.md"
FENCE = re.compile(r'^```(\w+)(?: title="([^"]*)")?\n(.*?)^```$', re.MULTILINE | re.DOTALL)
APPEND = " (add at the end)"
SERVE_TITLE = "Run the server"
SETUP_TIMEOUT = 900  # a hang guard for pip, not a speed expectation


@dataclass(frozen=True)
class Step:
    """One thing the reader does: run a command, write a file, or append to one."""

    kind: str  # "run", "write", "append" or "serve"
    target: str  # the command, or the file's path
    text: str = ""


def steps(markdown: str) -> list[Step]:
    """The page's commands and files in the order a reader meets them."""
    found: list[Step] = []
    for language, title, body in FENCE.findall(markdown):
        if language == "bash":
            kind = "serve" if title == SERVE_TITLE else "run"
            commands = [line[2:] for line in body.splitlines() if line.startswith("$ ")]
            found += [Step(kind, command) for command in commands]
        elif title:
            append = title.endswith(APPEND)
            path = title.removesuffix(APPEND)
            found.append(Step("append" if append else "write", path, body))
    return found


def script(found: list[Step]) -> str:
    """The bash script doing every step except starting the server."""
    lines = ["set -euxo pipefail"]
    for step in found:
        if step.kind == "run":
            lines.append(step.target)
        elif step.kind in ("write", "append"):
            redirect = ">>" if step.kind == "append" else ">"
            lines.append(f'mkdir -p "$(dirname {step.target})"')
            lines.append(
                f"cat {redirect} {step.target} <<'QUICKSTART_EOF'\n{step.text}QUICKSTART_EOF"
            )
    return "\n".join(lines) + "\n"


def test_quickstart_marks_its_steps() -> None:
    """The page has the steps this test relies on, so a reformatted page cannot pass empty."""
    found = steps(QUICKSTART.read_text())
    kinds = [step.kind for step in found]
    assert kinds.count("serve") == 1 and kinds[-1] == "serve"
    commands = [step.target for step in found if step.kind == "run"]
    assert any(command.startswith("django-admin startproject") for command in commands)
    assert any("pip install" in command for command in commands)
    written = {step.target for step in found if step.kind == "write"}
    assert {"mysite/wsgi.py", "mysite/urls.py", "hello/views.py"} <= written


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    """The quickstart replayed in a temporary folder: its folder, server command, environment."""
    found = steps(QUICKSTART.read_text())
    home = tmp_path_factory.mktemp("home")
    (home / "src").mkdir()
    (home / "src" / "aiodjango").symlink_to(ROOT)
    bin_dir = home / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)  # the interpreter running the tests
    env = {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE", "PYTHONHOME"):
        env.pop(name, None)
    work = home / "work"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-c", script(found)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=SETUP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"quickstart failed:\n{done.stdout}\n{done.stderr}"
    assert "System check identified no issues" in done.stdout
    (serve,) = [step.target for step in found if step.kind == "serve"]
    # The commands ran with `cd`: the server starts where the last one left off.
    last_dir = work / "quickstart"
    return last_dir, serve, env


async def test_quickstart_serves_page_async_view_and_websocket(
    project: tuple[Path, str, dict[str, str]], tmp_path: Path
) -> None:
    """The finished quickstart's runserver answers its page, its async view and its websocket."""
    folder, serve, env = project
    port = free_port()
    # running() puts the repository on PYTHONPATH and names its own settings: undo both, so the
    # server imports aiodjango from the virtualenv and reads mysite's settings.
    command = (
        "unset PYTHONPATH DJANGO_SETTINGS_MODULE && source .venv/bin/activate && "
        f"exec {serve} --noreload 127.0.0.1:{port}"
    )
    base = f"http://127.0.0.1:{port}"
    with running(["-c", _exec_bash(command)], folder, tmp_path, env=env) as server:
        status, page = await server.get(f"{base}/")
        assert status == 200, server.output
        assert "<h1>Hello, aiodjango</h1>" in page
        assert f'new WebSocket("ws://127.0.0.1:{port}/ws/echo/")' in page
        assert 'fetch("/api/now/")' in page
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/api/now/") as response:
                assert response.status == 200
                assert "T" in (await response.json())["now"]
            async with session.ws_connect(f"{base}/ws/echo/", headers={"Origin": base}) as ws:
                await ws.send_str("Hello, websocket")
                assert await ws.receive_str(timeout=20) == "echo: Hello, websocket"
            async with session.get(f"{base}/admin/login/") as response:
                assert response.status == 200  # Django's admin, through the same server


def _exec_bash(command: str) -> str:
    """Python source that replaces the interpreter with ``bash -c command`` (for ``running``)."""
    return f"import os; os.execvp('bash', ['bash', '-c', {command!r}])"
