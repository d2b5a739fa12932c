"""Static files in production: aiohttp serves ``collectstatic``'s ``STATIC_ROOT`` at ``STATIC_URL``.

``AIODJANGO_SERVE_STATIC = True`` (or ``get_aio_application(include_static=True)``) adds one
resource to aiohttp's index, consulted before the URLconf for paths under ``STATIC_URL`` only. A
GET or HEAD under ``STATIC_URL`` naming a regular file in ``STATIC_ROOT`` is answered by
aiohttp's ``FileResponse``: content type from the extension, ``ETag`` and ``Last-Modified`` with
304 answers, ranges, and the ``.br``/``.gz`` file next to it when the client accepts that
encoding. Names hashed by ``ManifestStaticFilesStorage`` (``app.3f2a9c81b4d0.css``) are cached
for a year as immutable; others for a minute. Directories are never listed, ``..`` never leaves
the root, and anything not found falls through to Django (its 404 page, or staticfiles' finders
in DEBUG).

``check_static_files`` warns when ``DEBUG`` is off and nothing would serve static files.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from aiohttp import web
from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from yarl import URL

if TYPE_CHECKING:  # aiohttp types get_info() with a TypedDict it does not export
    from aiohttp.web_urldispatcher import _InfoDict

__all__ = (
    "HASHED_CACHE_CONTROL",
    "PLAIN_CACHE_CONTROL",
    "check_static_files",
    "serve_static_setting",
    "StaticFilesResource",
    "static_resource",
)

HASHED_CACHE_CONTROL: Final = "public, max-age=31536000, immutable"
PLAIN_CACHE_CONTROL: Final = "public, max-age=60"
# ManifestStaticFilesStorage inserts 12 hex digits of the content's MD5 before the extension.
_HASHED_NAME: Final = re.compile(r"^.+\.[0-9a-f]{12}(\.[^.]+)+$")
_WHITENOISE: Final = "whitenoise.middleware.WhiteNoiseMiddleware"


def serve_static_setting() -> bool | None:
    """``AIODJANGO_SERVE_STATIC``: True serves STATIC_ROOT, False says a proxy or CDN does."""
    value = getattr(settings, "AIODJANGO_SERVE_STATIC", None)
    if value is not None and not isinstance(value, bool):
        raise ImproperlyConfigured(
            f"AIODJANGO_SERVE_STATIC must be True, False or None, got {value!r}."
        )
    return value


class StaticFilesResource(web.AbstractResource):
    """Serves ``root`` at ``prefix`` from aiohttp's resource index.

    aiohttp consults it only for paths under ``prefix`` (its index is keyed by path
    segments), so no other request pays for it; a name that is not a file in ``root`` is
    not matched here and goes on to the URLconf.
    """

    def __init__(self, prefix: str, root: Path) -> None:
        super().__init__(name=None)
        self._prefix = prefix
        self._root = root
        self._route = web.ResourceRoute("GET", _serve_file, self)

    @property
    def canonical(self) -> str:
        return self._prefix

    def url_for(self, *args: str, **kwargs: str) -> URL:
        return URL(self._prefix)

    async def resolve(
        self, request: web.Request
    ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        path = request.path
        if request.method not in ("GET", "HEAD") or not path.startswith(self._prefix):
            return None, set()
        found = await asyncio.to_thread(_find, self._root, path[len(self._prefix) :])
        if found is None:
            return None, set()
        return web.UrlMappingMatchInfo({"file": str(found)}, self._route), set()

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("aiodjango's static files cannot be mounted under a prefix.")

    def get_info(self) -> _InfoDict:
        return {"prefix": self._prefix, "directory": self._root}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        yield self._route


async def _serve_file(request: web.Request) -> web.StreamResponse:
    found = Path(request.match_info["file"])
    response = web.FileResponse(found)
    hashed = _HASHED_NAME.match(found.name)
    response.headers["Cache-Control"] = HASHED_CACHE_CONTROL if hashed else PLAIN_CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def static_resource(
    static_url: str | None = None, static_root: str | Path | None = None
) -> StaticFilesResource:
    """The resource serving ``static_root`` (``STATIC_ROOT``) at ``static_url`` (``STATIC_URL``).

    ``get_aio_application()`` registers it (``app.router.register_resource``) when
    ``AIODJANGO_SERVE_STATIC`` is True or ``include_static=True``.

    Parameters:
        static_url: the URL prefix; ``STATIC_URL`` when omitted. Must be a local path.
        static_root: the folder ``collectstatic`` fills; ``STATIC_ROOT`` when omitted.
    """
    url = settings.STATIC_URL if static_url is None else static_url
    root = settings.STATIC_ROOT if static_root is None else static_root
    if not url or not root:
        raise ImproperlyConfigured(
            "Serving static files needs STATIC_URL and STATIC_ROOT (the folder collectstatic "
            f"fills), got STATIC_URL={url!r}, STATIC_ROOT={root!r}."
        )
    prefix = urlsplit(str(url)).path
    if not prefix.endswith("/"):
        prefix += "/"
    return StaticFilesResource(prefix, Path(root))


def _find(base: Path, relative: str) -> Path | None:
    """The regular file ``relative`` names under ``base``, or None (directories, ``..``, NUL)."""
    parts = relative.split("/")
    if any(part in ("", ".", "..") or "\\" in part or "\x00" in part for part in parts):
        return None
    # Checked by name, not by resolving: collectstatic --link leaves symlinks out of the root.
    candidate = base.joinpath(*parts)
    return candidate if candidate.is_file() else None


def check_static_files(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W010: with DEBUG off nothing serves static files. W011: STATIC_ROOT was not collected."""
    from django.apps import apps

    try:
        serve = serve_static_setting()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="Set it to True or False.", id="aiodjango.E003")]
    url = str(settings.STATIC_URL or "")
    if (
        settings.DEBUG  # runserver serves them through the finders
        or serve is False  # a proxy or CDN serves them
        or not apps.is_installed("django.contrib.staticfiles")
        or "://" in url
        or url.startswith("//")  # another host serves them
    ):
        return []
    if not serve and _WHITENOISE not in settings.MIDDLEWARE:
        return [
            checks.Warning(
                "DEBUG is off and nothing serves static files: every URL under "
                f"STATIC_URL ({url!r}) will answer 404.",
                hint="Run collectstatic and set AIODJANGO_SERVE_STATIC = True (aiodjango serves "
                f"STATIC_ROOT), or add {_WHITENOISE!r} to MIDDLEWARE; set "
                "AIODJANGO_SERVE_STATIC = False if your proxy or CDN serves them.",
                obj="STATIC_URL",
                id="aiodjango.W010",
            )
        ]
    root = settings.STATIC_ROOT
    if not root or not Path(root).is_dir() or not any(Path(root).iterdir()):
        state = "not set" if not root else "missing or empty"
        return [
            checks.Warning(
                f"Static files are served from STATIC_ROOT ({root!r}), but it is {state}.",
                hint="Set STATIC_ROOT and run 'python manage.py collectstatic' at each deploy.",
                obj="STATIC_ROOT",
                id="aiodjango.W011",
            )
        ]
    return []
