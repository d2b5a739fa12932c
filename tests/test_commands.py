"""``manage.py runserver``: aiohttp serves the project, with Django's options and autoreloader."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command, load_command_class
from django.test import override_settings

from aiodjango.application import BRIDGE_KEY
from aiodjango.management.commands.runserver import Command
from tests.serving.harness import (
    BAD_TARGETS,
    TARGETS,
    copy_project,
    eventually,
    new_project,
    refusal,
    running,
    slow_request,
)


async def test_runserver_serves_and_reloads(tmp_path: Path) -> None:
    """Sync page, async page and a static file; editing the views file reloads the server."""
    cwd, port, base = new_project(tmp_path)
    args = ["-W", "error::DeprecationWarning", "manage.py", "runserver", f"127.0.0.1:{port}"]
    with running(args, cwd, tmp_path) as server:
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-1")
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        assert await server.get(f"{base}/static/project/hello.css") == (
            200,
            "body { color: teal; }\n",
        )
        views = cwd / "project" / "views.py"
        edited = views.read_text().replace("VERSION-1", "VERSION-2")

        async def reloaded() -> bool:
            if (await server.get(f"{base}/async/"))[1] == "async VERSION-2":
                return True
            # Django's StatReloader ignores a file's first-seen mtime; views.py may be first
            # seen after this edit (it is imported while the reloader already ticks), so
            # write it again until a tick notices.
            views.write_text(edited)
            await asyncio.sleep(0.3)
            return False

        await eventually(reloaded)
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-2")
        server.signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait)
    output = server.output
    assert "Performing system checks..." in output
    assert "System check identified no issues" in output
    assert "unapplied migration(s)" in output
    assert f"Starting aiodjango development server at http://127.0.0.1:{port}/" in output
    assert "changed, reloading." in output
    assert '"GET /async/ HTTP/1.1" 200' in output
    assert "DeprecationWarning" not in output


async def test_a_stuck_django_view_does_not_hold_up_a_reload(tmp_path: Path) -> None:
    """Under the autoreloader, editing a file while a Django view is stuck (sleeping far longer
    than the test) reloads all the same: the old process leaves without waiting for it."""
    cwd, port, base = new_project(tmp_path)
    args = ["manage.py", "runserver", f"127.0.0.1:{port}"]
    stuck_seconds = 600  # longer than READY_DEADLINE: a reload that waited for it fails
    with running(args, cwd, tmp_path) as server:
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        async with aiohttp.ClientSession() as session:
            stuck = await slow_request(session, base, tmp_path, stuck_seconds)
            views = cwd / "project" / "views.py"
            edited = views.read_text().replace("VERSION-1", "VERSION-2")

            async def reloaded() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    if (await server.get(f"{base}/async/"))[1] == "async VERSION-2":
                        return True
                views.write_text(edited)  # until a reloader tick notices (see above)
                await asyncio.sleep(0.3)
                return False

            try:
                await eventually(reloaded)
            except AssertionError:  # the server's own lines say where the reload stopped
                lines = [line for line in server.output.splitlines() if "GET /" not in line]
                raise AssertionError("\n".join(lines[-40:])) from None
            stuck.cancel()
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-2")
        server.signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait)
    assert "still running after the timeout" in server.output  # the stuck view, named


async def test_aiodjango_application_setting(tmp_path: Path) -> None:
    """AIODJANGO_APPLICATION is served, static files come through the finders, and SIGINT
    with --noreload drains a slow request and exits 0."""
    cwd, port, base = new_project(tmp_path)
    args = ["manage.py", "runserver", "--noreload", str(port)]
    with running(args, cwd, tmp_path, {"SERVING_APPLICATION": "1"}) as server:
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-1")
        assert await server.get(f"{base}/static/project/hello.css") == (
            200,
            "body { color: teal; }\n",
        )
        assert (await server.get(f"{base}/static/project/missing.css"))[0] == 404
        assert (await server.get(f"{base}/static/../project/settings.py"))[0] == 404
        async with aiohttp.ClientSession() as session:
            slow = await slow_request(session, base, tmp_path, 1)
            server.signal(signal.SIGINT)
            async with await slow as response:
                assert await response.text() == "slept 1.0"
        assert await asyncio.to_thread(server.wait) == 0


async def test_nostatic(tmp_path: Path) -> None:
    """--nostatic leaves STATIC_URL to Django, which has no such URL."""
    cwd, port, base = new_project(tmp_path)
    args = ["manage.py", "runserver", "--noreload", "--nostatic", f"127.0.0.1:{port}"]
    with running(args, cwd, tmp_path) as server:
        assert (await server.get(f"{base}/static/project/hello.css"))[0] == 404
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0


async def test_ipv6(tmp_path: Path) -> None:
    """-6 listens on ::1 and the banner shows the bracketed address."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("::1 is not available here")
    cwd = copy_project(tmp_path)
    args = ["manage.py", "runserver", "--noreload", "-6", str(port)]
    with running(args, cwd, tmp_path) as server:
        assert await server.get(f"http://[::1]:{port}/async/") == (200, "async VERSION-1")
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0
    assert f"Starting aiodjango development server at http://[::1]:{port}/" in server.output


async def test_port_in_use(tmp_path: Path) -> None:
    """A taken port gives Django's friendly message and exit status 1."""
    cwd = copy_project(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = ["manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
        with running(args, cwd, tmp_path) as server:
            assert await asyncio.to_thread(server.wait) == 1
    assert "Error: That port is already in use." in server.output
    assert "Traceback" not in server.output


def test_command_is_aiodjangos() -> None:
    """With aiodjango above staticfiles, Django picks this runserver, and it keeps staticfiles'
    options."""
    command = load_command_class("aiodjango", "runserver")
    assert isinstance(command, Command)
    parser = command.create_parser("manage.py", "runserver")
    options = vars(parser.parse_args(["--nostatic", "--insecure", "--nothreading", "-6", "8001"]))
    assert options["use_static_handler"] is False
    assert options["insecure_serving"] is True
    assert options["use_threading"] is False
    assert options["use_ipv6"] is True


def _options(**overrides: object) -> dict[str, object]:
    return {
        "use_static_handler": True,
        "insecure_serving": False,
        "use_threading": True,
        **overrides,
    }


def test_nothreading_gives_django_one_thread() -> None:
    """--nothreading runs Django views on a single thread."""
    app = Command().get_handler(**_options(use_threading=False))
    assert isinstance(app, web.Application)
    assert app[BRIDGE_KEY].pool._max_workers == 1


@override_settings(AIODJANGO_WSGI_THREADS=3)
def test_threading_uses_the_setting() -> None:
    """Without --nothreading the pool has AIODJANGO_WSGI_THREADS threads."""
    app = Command().get_handler(**_options())
    assert isinstance(app, web.Application)
    assert app[BRIDGE_KEY].pool._max_workers == 3


@pytest.mark.parametrize("sep", [":", "."])
def test_application_setting_loads_app(sep: str) -> None:
    """AIODJANGO_APPLICATION may name a ready web.Application, dotted or colon."""
    from tests.serving import aio_app

    with override_settings(AIODJANGO_APPLICATION=f"tests.serving.aio_app{sep}APP"):
        assert Command().get_handler(**_options(use_static_handler=False)) is aio_app.APP


@override_settings(AIODJANGO_APPLICATION="tests.serving.aio_app.make_app")
def test_application_setting_calls_factory() -> None:
    """AIODJANGO_APPLICATION may name a function returning the app."""
    assert isinstance(Command().get_handler(**_options()), web.Application)


@override_settings(AIODJANGO_APPLICATION="tests.serving.aio_app.application")
def test_application_setting_wraps_wsgi_and_nothreading() -> None:
    """Django's WSGI application is wrapped (it was a raw TypeError); --nothreading: 1 thread."""
    app = Command().get_handler(**_options(use_threading=False))
    assert isinstance(app, web.Application)
    assert app[BRIDGE_KEY].pool._max_workers == 1


@pytest.mark.parametrize("target", TARGETS)
async def test_runserver_serves_every_kind_of_target(tmp_path: Path, target: str) -> None:
    """AIODJANGO_APPLICATION as the combined app, an async or plain factory or Django's WSGI
    app, dotted or colon: runserver serves both kinds of view."""
    cwd, port, base = new_project(tmp_path)
    args = ["manage.py", "runserver", "--noreload", str(port)]
    with running(args, cwd, tmp_path, {"SERVING_APPLICATION": target}) as server:
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-1")
        assert (await server.get(f"{base}/static/project/hello.css"))[0] == 200
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0


@pytest.mark.parametrize(("target", "what"), BAD_TARGETS)
async def test_runserver_bad_target(tmp_path: Path, target: str, what: str) -> None:
    """A wrong AIODJANGO_APPLICATION stops runserver with the loader's message."""
    cwd = copy_project(tmp_path)
    args = ["manage.py", "runserver", "--noreload", "0"]
    with running(args, cwd, tmp_path, {"SERVING_APPLICATION": target}) as server:
        assert await asyncio.to_thread(server.wait) != 0
    assert refusal(target, what) in server.output


@pytest.mark.parametrize(
    ("dotted", "message"),
    [
        ("tests.serving.nowhere.app", "No module named 'tests.serving.nowhere'"),
        ("tests.serving.aio_app.NOT_AN_APP", "it is 'a string'"),
    ],
)
def test_application_setting_errors(dotted: str, message: str) -> None:
    """A wrong AIODJANGO_APPLICATION raises ImproperlyConfigured saying what is wrong."""
    with (
        override_settings(AIODJANGO_APPLICATION=dotted),
        pytest.raises(ImproperlyConfigured, match=f"Cannot serve {dotted!r}") as raised,
    ):
        Command().get_handler(**_options())
    assert message in str(raised.value)


def test_runserver_refuses_without_allowed_hosts() -> None:
    """Django's own argument checks still run (DEBUG=False needs ALLOWED_HOSTS)."""
    from django.core.management.base import CommandError

    with (
        override_settings(ALLOWED_HOSTS=[], DEBUG=False),
        pytest.raises(CommandError, match="ALLOWED_HOSTS"),
    ):
        call_command("runserver", "--noreload")
