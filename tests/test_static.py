"""Static files in production: aiodjango's STATIC_ROOT middleware, WhiteNoise, and W010/W011.

The first half serves a temporary ``STATIC_ROOT`` in process through ``aiodjango.testing.serve``.
The second half runs ``tests/static_site`` (DEBUG off, ManifestStaticFilesStorage, after
``collectstatic``) under each production way of serving, ``python -m aiodjango``, gunicorn with
aiodjango's worker (2 workers) and ``runserver`` without DEBUG or ``--insecure``, once with
aiodjango serving the files and once with WhiteNoise's middleware behind the WSGI bridge.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from django.core.checks import CheckMessage
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from aiodjango import get_aio_application
from aiodjango.static import HASHED_CACHE_CONTROL, PLAIN_CACHE_CONTROL, check_static_files
from aiodjango.testing import serve
from tests import urls as test_urls
from tests.serving.harness import REPO, free_port, running

# Its @async_view views register at import: before any app here freezes the registry.
assert test_urls.urlpatterns

JAVASCRIPT = {"text/javascript", "application/javascript"}  # 3.12+ mimetypes say text/


@pytest.fixture
def static_root(settings: Any, tmp_path: Path) -> Path:
    """A collected STATIC_ROOT: a plain and a hashed stylesheet, a script, a folder."""
    root = tmp_path / "collected"
    (root / "site").mkdir(parents=True)
    (root / "site" / "app.css").write_text("body{}")
    (root / "site" / "app.0123456789ab.css").write_text("body{}")
    (root / "site" / "app.js").write_text("'use strict';")
    (tmp_path / "secret.txt").write_text("not for you")
    settings.STATIC_ROOT = str(root)
    settings.AIODJANGO_SERVE_STATIC = True
    settings.ROOT_URLCONF = "tests.static_site.urls"  # only "/": no catch-all answers 200
    return root


async def test_serves_css_with_validators_and_short_cache(static_root: Path) -> None:
    """A plain name is text/css with ETag, Last-Modified, a one-minute cache, and 304s."""
    async with serve(get_aio_application()) as client:
        response = await client.get("/static/site/app.css")
        assert response.status == 200
        assert response.content_type == "text/css"
        assert response.headers["Cache-Control"] == PLAIN_CACHE_CONTROL
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert await response.text() == "body{}"
        etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
        again = await client.get("/static/site/app.css", headers={"If-None-Match": etag})
        assert again.status == 304
        since = await client.get("/static/site/app.css", headers={"If-Modified-Since": modified})
        assert since.status == 304


async def test_hashed_names_are_immutable_for_a_year(static_root: Path) -> None:
    """A ManifestStaticFilesStorage name (12 hex digits) gets a year-long immutable cache."""
    async with serve(get_aio_application()) as client:
        response = await client.get("/static/site/app.0123456789ab.css")
        assert response.status == 200
        assert response.headers["Cache-Control"] == HASHED_CACHE_CONTROL
        head = await client.head("/static/site/app.0123456789ab.css")
        assert (head.status, head.headers["Content-Length"]) == (200, "6")


async def test_javascript_content_type(static_root: Path) -> None:
    """Scripts are served as JavaScript, so browsers with nosniff run them."""
    async with serve(get_aio_application()) as client:
        response = await client.get("/static/site/app.js")
        assert response.status == 200
        assert response.content_type in JAVASCRIPT


@pytest.mark.parametrize(
    "path",
    [
        "/static/site/",
        "/static/site",
        "/static/",
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/site/%2e%2e/%2e%2e/secret.txt",
        "/static/site/..%2f..%2fsecret.txt",
        "/static/site//app.css",
        "/static/nope.css",
    ],
)
async def test_no_listing_no_traversal_missing_falls_to_django(
    static_root: Path, path: str
) -> None:
    """Folders, '..' (plain or encoded) and missing names are Django's 404, never a file."""
    async with serve(get_aio_application()) as client:
        response = await client.get(path)
        assert response.status == 404
        body = await response.text()
        assert "not for you" not in body
        assert "app.css" not in body


async def test_include_static_without_the_setting(settings: Any, static_root: Path) -> None:
    """get_aio_application(include_static=True) serves STATIC_ROOT when the setting is off."""
    settings.AIODJANGO_SERVE_STATIC = False
    async with serve(get_aio_application()) as client:
        assert (await client.get("/static/site/app.css")).status == 404
    async with serve(get_aio_application(include_static=True)) as client:
        assert (await client.get("/static/site/app.css")).status == 200


def test_bad_setting_value_is_refused(settings: Any) -> None:
    """AIODJANGO_SERVE_STATIC must be a bool or None: the error and check E003 say so."""
    settings.AIODJANGO_SERVE_STATIC = "yes"
    with pytest.raises(ImproperlyConfigured, match="AIODJANGO_SERVE_STATIC"):
        get_aio_application()
    assert _ids(check_static_files(None)) == ["aiodjango.E003"]


def _ids(messages: list[CheckMessage]) -> list[str]:
    return [str(message.id) for message in messages]


def test_check_warns_when_nothing_serves_static(settings: Any, tmp_path: Path) -> None:
    """W010: DEBUG off, staticfiles installed, neither aiodjango nor WhiteNoise serving."""
    settings.DEBUG = False
    del settings.AIODJANGO_SERVE_STATIC
    assert _ids(check_static_files(None)) == ["aiodjango.W010"]
    settings.DEBUG = True
    assert _ids(check_static_files(None)) == []
    settings.DEBUG = False
    settings.AIODJANGO_SERVE_STATIC = False  # a proxy serves them
    assert _ids(check_static_files(None)) == []
    settings.AIODJANGO_SERVE_STATIC = None
    settings.STATIC_URL = "https://cdn.example.com/static/"
    assert _ids(check_static_files(None)) == []


def test_check_warns_when_static_root_is_not_collected(settings: Any, tmp_path: Path) -> None:
    """W011: served by aiodjango or WhiteNoise, but STATIC_ROOT is unset, missing or empty."""
    settings.DEBUG = False
    settings.AIODJANGO_SERVE_STATIC = True
    settings.STATIC_ROOT = None
    assert _ids(check_static_files(None)) == ["aiodjango.W011"]
    settings.STATIC_ROOT = str(tmp_path / "missing")
    assert _ids(check_static_files(None)) == ["aiodjango.W011"]
    settings.AIODJANGO_SERVE_STATIC = None
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "whitenoise.middleware.WhiteNoiseMiddleware"]
    (tmp_path / "missing").mkdir()
    assert _ids(check_static_files(None)) == ["aiodjango.W011"]
    (tmp_path / "missing" / "app.css").write_text("body{}")
    assert _ids(check_static_files(None)) == []


def test_check_is_registered(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """manage.py check runs W010 (registered in AppConfig.ready())."""
    settings.DEBUG = False
    settings.AIODJANGO_SERVE_STATIC = None
    call_command("check")
    assert "aiodjango.W010" in capsys.readouterr().err


# --- The production ways of serving, in subprocesses -------------------------------------------

SITE_SETTINGS = "tests.static_site.settings"
SERVERS = {
    "python -m aiodjango": ["-m", "aiodjango", "tests.static_site.wsgi:app", "--port", "{port}"],
    "gunicorn worker": [
        "-m",
        "gunicorn",
        "tests.static_site.wsgi:app",
        "--worker-class",
        "aiodjango.workers.GunicornWorker",
        "--workers",
        "2",
        "--bind",
        "127.0.0.1:{port}",
        "--no-control-socket",
    ],
    "runserver, DEBUG off": [
        "tests/static_site/manage.py",
        "runserver",
        "--noreload",
        "127.0.0.1:{port}",
    ],
}


@pytest.fixture(scope="module", params=["aiodjango", "whitenoise"])
def collected(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The site's environment after ``collectstatic``, with aiodjango or WhiteNoise serving."""
    if request.param == "whitenoise":
        pytest.importorskip("whitenoise", reason="the WhiteNoise run needs whitenoise")
    root = tmp_path_factory.mktemp("collected")
    env = {"DJANGO_SETTINGS_MODULE": SITE_SETTINGS, "STATIC_SITE_ROOT": str(root)}
    env["STATIC_SITE_MODE"] = request.param
    done = subprocess.run(
        [sys.executable, "tests/static_site/manage.py", "collectstatic", "--no-input"],
        cwd=REPO,
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield env


def _base_env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.mark.parametrize("server", list(SERVERS))
async def test_production_serving_ways(
    server: str, collected: dict[str, str], tmp_path: Path
) -> None:
    """Each production server, DEBUG off, answers the page's hashed CSS and JS with 200, the
    right content type and a year-long immutable cache; unhashed names get a short cache."""
    port = free_port()
    args = [arg.format(port=port) for arg in SERVERS[server]]
    with running(args, REPO, tmp_path, env=collected) as process:
        status, page = await process.get(f"http://127.0.0.1:{port}/")
        assert status == 200, process.output
        css = re.search(r'href="(/static/site/app\.[0-9a-f]{12}\.css)"', page)
        js = re.search(r'src="(/static/site/app\.[0-9a-f]{12}\.js)"', page)
        assert css and js, page
        async with aiohttp.ClientSession() as session:
            for url, types in ((css[1], {"text/css"}), (js[1], JAVASCRIPT)):
                async with session.get(f"http://127.0.0.1:{port}{url}") as response:
                    assert response.status == 200, process.output
                    assert response.content_type in types
                    cache = response.headers["Cache-Control"]
                    assert "immutable" in cache
                    age = re.search(r"max-age=(\d+)", cache)
                    assert age and int(age[1]) >= 365 * 24 * 3600
                    assert "ETag" in response.headers or "Last-Modified" in response.headers
            async with session.get(f"http://127.0.0.1:{port}/static/site/app.css") as response:
                assert response.status == 200
                cache = response.headers["Cache-Control"]
                assert "immutable" not in cache
            async with session.get(f"http://127.0.0.1:{port}/static/site/") as response:
                assert response.status == 404
