"""The aiohttp resources that hand a request to the view the ``Router`` picked.

``DjangoResource`` is the single aiohttp resource (canonical ``/``) that asks the router and
hands the request to an async view or to Django; ``LiteralResource`` puts an async view's
literal path in aiohttp's index ahead of it. ``add_named_views`` makes
``app.router[name].url_for()`` agree with ``reverse()``. Under a path prefix
(``FORCE_SCRIPT_NAME``, ``interop.path_info``) the router sees the path without it, async
views get it as their script prefix (``reverse()``), and a path without it is taken as
already stripped by the proxy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sized
from contextlib import nullcontext
from typing import TYPE_CHECKING, Final, cast

from aiohttp import web
from django.urls import get_script_prefix, reverse, set_script_prefix
from django.utils import translation
from yarl import URL

from .discovery import Endpoint
from .interop import (
    path_info,
    script_prefix,
)
from .routing import DjangoMatchInfo, Match, Router, captured_text, captures_text, django_path

if TYPE_CHECKING:  # aiohttp types get_info() with a TypedDict it does not export
    from aiohttp.web_urldispatcher import _InfoDict

__all__ = (
    "DjangoResource",
    "LiteralResource",
    "NamedViewResource",
    "add_named_views",
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Route(web.AbstractRoute):
    def __init__(
        self,
        handler: Handler,
        resource: web.AbstractResource,
        name: str | None,
        expect_handler: Callable[[web.Request], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__("*", handler, expect_handler=expect_handler, resource=resource)
        self._name = name

    @property
    def name(self) -> str | None:
        return self._name

    def get_info(self) -> _InfoDict:
        return {"formatter": self._name or ""}

    def url_for(self, *args: str, **kwargs: str) -> URL:
        return URL("/")


def _in_language(handler: Handler) -> Handler:
    # The async view runs with the request's language active, as LocaleMiddleware does it.
    async def serve(request: web.Request) -> web.StreamResponse:
        language = cast(DjangoMatchInfo, request.match_info).language
        with translation.override(language) if language else nullcontext():
            return await handler(request)

    return serve


# resolve()'s "methods allowed" for a match: aiohttp reads it only when nothing matched.
_NO_METHODS: Final[set[str]] = set()
_NO_TEXT: Final[dict[str, str]] = {}  # copied by UrlMappingMatchInfo, never changed


class DjangoResource(web.AbstractResource):
    """The one aiohttp resource: every path is resolved through the URLconf's order."""

    def __init__(
        self,
        router: Router,
        handlers: dict[int, Handler],
        fallback: Handler,
        fallback_expect: Callable[[web.Request], Awaitable[None]] | None = None,
        view_expect: Callable[[web.Request], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(name=None)
        self._router = router
        wrap = _in_language if router.language_dependent else (lambda handler: handler)
        self._routes = {
            index: _Route(wrap(handler), self, router.endpoints[index].name, view_expect)
            for index, handler in handlers.items()
        }
        self._fallback = _Route(fallback, self, "django", fallback_expect)  # 413 before 100
        # The endpoints whose match_info is always empty (no named group on their chain):
        # most async views; their requests skip captured_text(). By id: an endpoint made for
        # a recursive include() per request is a new object, never in this set.
        self._textless: Final = frozenset(
            id(endpoint) for endpoint in router.endpoints if not captures_text(endpoint)
        )

    @property
    def canonical(self) -> str:
        return "/"

    def url_for(self, *args: str, **kwargs: str) -> URL:
        return URL("/")

    async def resolve(
        self, request: web.Request
    ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        path = django_path(request)
        prefix = script_prefix()
        if prefix:
            path = path_info(request, path, prefix) or "/"
            # reverse() in the async view, as WSGIHandler sets it for Django's (resolve()
            # runs in the handler's task); without a prefix, nothing is set.
            set_script_prefix(prefix)
        if path.startswith("/"):
            router = self._router
            if not router.language_dependent:
                found = self._match(path[1:], None)
            else:
                language = router.request_language(request, path)
                with translation.override(language):
                    found = self._match(path[1:], language)
            if found is not None:
                return found, _NO_METHODS
        return web.UrlMappingMatchInfo({}, self._fallback), _NO_METHODS

    def _match(self, path: str, language: str | None) -> DjangoMatchInfo | None:
        match = self._router.match(path)
        if match is not None:
            endpoint = match[0]
            route = self._routes.get(endpoint.index)
            if route is not None:
                captured = _NO_TEXT if id(endpoint) in self._textless else None
                if captured is None:
                    captured = captured_text(endpoint, path)
                return DjangoMatchInfo(match, route, captured, language)
        return None

    def literal_resources(self) -> list[LiteralResource]:
        """One ``LiteralResource`` per async view path that is a whole literal route."""
        found = []
        for path, match in self._router.literals().items():
            endpoint = match[0]
            route = self._routes.get(endpoint.index)
            if route is not None and id(endpoint) in self._textless and "%" not in path:
                found.append(LiteralResource(self, "/" + path, route, match))
        return found

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("aiodjango's resource cannot be mounted under a prefix.")

    def get_info(self) -> _InfoDict:
        return {"path": "/"}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return len(self._routes) + 1

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        yield from self._routes.values()
        yield self._fallback


class LiteralResource(web.AbstractResource, Sized):
    """An async view's literal path (``/hello/``) in aiohttp's path index, ahead of ``/``.

    aiohttp's router looks a path up in its index, then each shorter prefix down to ``/``;
    indexed under its own path, a literal async view is found at the first lookup, with its
    match prepared once. Any other request (under ``FORCE_SCRIPT_NAME``, a percent-encoded
    path) is resolved by the ``DjangoResource``, so the answer is always the same.
    """

    def __init__(self, owner: DjangoResource, path: str, route: _Route, match: Match) -> None:
        super().__init__(name=None)
        self._owner = owner
        self._path = path
        self._route = route
        self._match = match

    @property
    def canonical(self) -> str:
        return self._path

    def url_for(self, *args: str, **kwargs: str) -> URL:
        return URL(self._path)

    async def resolve(
        self, request: web.Request
    ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        if request.rel_url.raw_path != self._path or script_prefix():
            return await self._owner.resolve(request)
        endpoint, args, kwargs = self._match
        match = (endpoint, args, dict(kwargs) if kwargs else {})  # a view may change them
        return DjangoMatchInfo(match, self._route, _NO_TEXT), _NO_METHODS

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("aiodjango's resources cannot be mounted under a prefix.")

    def get_info(self) -> _InfoDict:
        return {"path": self._path}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        return iter(())  # its route is the DjangoResource's


class NamedViewResource(web.AbstractResource, Sized):
    """``app.router[name]`` for an async view: never matches, builds URLs with ``reverse()``."""

    def __init__(self, endpoint: Endpoint) -> None:
        assert endpoint.name is not None
        super().__init__(name=endpoint.name)
        self._endpoint = endpoint

    @property
    def canonical(self) -> str:
        return "/" + self._endpoint.route

    def url_for(self, *args: str, **kwargs: str) -> URL:
        """The same URL as ``reverse(name, args=args, kwargs=kwargs)`` in a request.

        Under ``FORCE_SCRIPT_NAME`` the URL has the prefix even outside a request, where
        ``reverse()`` uses whatever script prefix the thread or task has.
        """
        assert self.name is not None
        args_, kwargs_ = args or None, kwargs or None
        prefix = script_prefix()
        if prefix and get_script_prefix() != prefix + "/":
            previous = get_script_prefix()
            set_script_prefix(prefix)
            try:
                return URL(reverse(self.name, args=args_, kwargs=kwargs_), encoded=True)
            finally:
                set_script_prefix(previous)
        return URL(reverse(self.name, args=args_, kwargs=kwargs_), encoded=True)

    async def resolve(
        self, request: web.Request
    ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        return None, set()

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("aiodjango's resources cannot be mounted under a prefix.")

    def get_info(self) -> _InfoDict:
        return {"formatter": "/" + self._endpoint.route}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        return iter(())


def add_named_views(router: web.UrlDispatcher, endpoints: Iterable[Endpoint]) -> None:
    """Register ``app.router[name]`` for each named async view, outside aiohttp's path index.

    ``resolve()`` never visits these resources (they would never match), so names cost
    nothing per request. aiohttp only takes identifier-like names without keywords
    (``"async-hello"`` is refused); ``reverse()`` still builds those.
    """
    named: set[str] = set()
    for endpoint in endpoints:
        if endpoint.view_def is None or not endpoint.name or endpoint.name in named:
            continue
        named.add(endpoint.name)
        resource = NamedViewResource(endpoint)
        try:
            router.register_resource(resource)
        except ValueError:
            continue
        router.unindex_resource(resource)
