"""Dispatch in Django's URLconf order, at a per-request cost that stays flat as patterns grow.

``Router`` answers "which URL pattern would Django pick for this path?" with Django's own pattern
objects, but only tries the endpoints whose literal prefix can match: endpoints are indexed by
the first path segment of that prefix, so a request looks at its segment's bucket plus the
endpoints with no literal segment, still in URLconf order. ``DjangoResource`` is the single
aiohttp resource (canonical ``/``) that asks the router and hands the request to an async view
or to Django. ``NamedViewResource`` makes ``app.router[name].url_for()`` agree with
``reverse()``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Sized
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote_to_bytes

from aiohttp import web
from django.urls import reverse
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern
from django.utils.encoding import repercent_broken_unicode
from yarl import URL

from .discovery import Endpoint, literal_prefix, regex_tokens

if TYPE_CHECKING:  # aiohttp types get_info() with a TypedDict it does not export
    from aiohttp.web_urldispatcher import _InfoDict

__all__ = (
    "DjangoMatchInfo",
    "DjangoResource",
    "NamedViewResource",
    "Router",
    "django_path",
)

Match = tuple[Endpoint, tuple[Any, ...], dict[str, Any]]


def django_path(request: web.BaseRequest) -> str:
    """The request path exactly as Django sees it (``PATH_INFO`` decoded the WSGI way)."""
    raw = request.rel_url.raw_path
    if "%" not in raw:
        return raw
    return repercent_broken_unicode(unquote_to_bytes(raw)).decode()


class Router:
    """Finds the first endpoint of the URLconf matching a path, as ``django.urls.resolve``.

    Endpoints whose literal prefix has a ``/`` are indexed by that prefix up to its last
    ``/``; a path only tries the endpoints under its own segment prefixes, in URLconf order.
    Endpoints without one (``<slug:page>/``) are tried through one combined regex, a C-speed
    prefilter that names the first candidate, which Django's own ``match`` then confirms.
    """

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.endpoints: Final = endpoints
        own: dict[str, list[Endpoint]] = {}
        unkeyed: list[Endpoint] = []
        for endpoint in endpoints:
            slash = endpoint.prefix.rfind("/")
            if slash < 0:
                unkeyed.append(endpoint)
            else:
                own.setdefault(endpoint.prefix[: slash + 1], []).append(endpoint)
        self._keyed: Final = {
            key: tuple(sorted(_with_ancestors(key, own), key=lambda e: e.index)) for key in own
        }
        self._unkeyed: Final = _runs(unkeyed)
        # Paths that are an endpoint's whole literal route resolve the same way every time:
        # resolve them once here and answer them with one dict lookup per request.
        self._static: Final[dict[str, Match]] = {}
        for endpoint in endpoints:
            if _is_literal(endpoint) and endpoint.prefix not in self._static:
                found = self._match(endpoint.prefix)
                if found is not None and found[0] is endpoint:
                    self._static[endpoint.prefix] = found

    def _keyed_candidates(self, path: str) -> tuple[Endpoint, ...]:
        slash = path.rfind("/")
        while slash >= 0:
            candidates = self._keyed.get(path[: slash + 1])
            if candidates is not None:
                return candidates
            slash = path.rfind("/", 0, slash)
        return ()

    def match(self, path: str) -> Match | None:
        """Resolve ``path`` (without its leading ``/``) to an endpoint and its view arguments."""
        static = self._static.get(path)
        if static is not None:
            endpoint, args, kwargs = static
            return endpoint, args, dict(kwargs)  # a view may change its kwargs
        return self._match(path)

    def _match(self, path: str) -> Match | None:
        unkeyed = _first_in_runs(self._unkeyed, path) if self._unkeyed else None
        limit = unkeyed[0].index if unkeyed is not None else len(self.endpoints)
        for endpoint in self._keyed_candidates(path):
            if endpoint.index > limit:
                break
            if path.startswith(endpoint.prefix):
                found = _match_endpoint(endpoint, path)
                if found is not None:
                    return endpoint, found[0], found[1]
        return unkeyed


def _is_literal(endpoint: Endpoint) -> bool:
    patterns = (*(level.pattern for level in endpoint.levels), endpoint.urlpattern.pattern)
    return all(literal_prefix(pattern)[1] for pattern in patterns)


def _with_ancestors(key: str, own: dict[str, list[Endpoint]]) -> list[Endpoint]:
    endpoints = list(own[key])
    slash = key.rfind("/", 0, len(key) - 1)
    while slash >= 0:
        endpoints.extend(own.get(key[: slash + 1], ()))
        slash = key.rfind("/", 0, slash)
    return endpoints


# A run is either a combined prefilter regex over several endpoints or one endpoint that
# cannot be prefiltered (unanchored regex, backreference, inline flags, i18n prefix).
_Run = tuple[re.Pattern[str] | None, tuple[Endpoint, ...]]


def _runs(endpoints: list[Endpoint]) -> tuple[_Run, ...]:
    runs: list[_Run] = []
    batch: list[tuple[Endpoint, str]] = []

    def flush() -> None:
        if batch:
            body = "|".join(f"(?P<e{i}>{regex})" for i, (_, regex) in enumerate(batch))
            runs.append((re.compile(body), tuple(e for e, _ in batch)))
            batch.clear()

    for endpoint in endpoints:
        regex = _prefilter(endpoint)
        if regex is None:
            flush()
            runs.append((None, (endpoint,)))
        else:
            batch.append((endpoint, regex))
    flush()
    return tuple(runs)


def _first_in_runs(runs: tuple[_Run, ...], path: str) -> Match | None:
    for prefilter, endpoints in runs:
        start = 0
        if prefilter is not None:
            hit = prefilter.match(path)
            if hit is None:
                continue
            start = int(str(hit.lastgroup)[1:])
        for endpoint in endpoints[start:]:
            found = _match_endpoint(endpoint, path)
            if found is not None:
                return endpoint, found[0], found[1]
    return None


def _prefilter(endpoint: Endpoint) -> str | None:
    """A regex accepting every path the endpoint's chain accepts (maybe more), or None."""
    parts = []
    for pattern in (*(level.pattern for level in endpoint.levels), endpoint.urlpattern.pattern):
        if isinstance(pattern, LocalePrefixPattern) or not isinstance(
            pattern, RoutePattern | RegexPattern
        ):
            return None
        regex = pattern.regex.pattern
        if not regex.startswith("^"):
            return None
        body = _uncapture(regex[1:])
        if body is None:
            return None
        parts.append(body)
    combined = "".join(parts)
    try:
        re.compile(combined)
    except re.error:
        return None
    return combined


def _uncapture(regex: str) -> str | None:
    """``regex`` with every group made non-capturing; None if it relies on group numbers."""
    out: list[str] = []
    skip_to = 0
    for i, token, in_class in regex_tokens(regex):
        if i < skip_to:
            continue
        if token[0] == "\\" and token[1:].isdigit():
            return None  # backreference
        if in_class or token != "(":
            out.append(token)
        elif regex.startswith("(?P<", i):
            out.append("(?:")
            skip_to = regex.index(">", i) + 1
        elif regex.startswith("(?P=", i) or regex[i + 1 : i + 3] in _FLAG_STARTS:
            return None  # named backreference or inline flags
        else:
            out.append("(" if regex.startswith("(?", i) else "(?:")
    return "".join(out)


_FLAG_STARTS: Final = frozenset(f"?{flag}" for flag in "aiLmsux-")


def _match_endpoint(endpoint: Endpoint, path: str) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    # Mirrors URLResolver.resolve: match each include() prefix, then the pattern itself, and
    # merge arguments inside out (named groups anywhere drop the positional ones).
    captured: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for level in endpoint.levels:
        match = level.pattern.match(path)
        if match is None:
            return None
        path, args, kwargs = match
        captured.append((args, kwargs))
    match = endpoint.urlpattern.pattern.match(path)
    if match is None:
        return None
    _, args, kwargs = match
    args, kwargs = tuple(args), {**kwargs, **endpoint.urlpattern.default_args}
    for level, (level_args, level_kwargs) in zip(
        reversed(endpoint.levels), reversed(captured), strict=True
    ):
        merged = {**level_kwargs, **level.default_kwargs, **kwargs}
        args = args if merged else (*level_args, *args)
        kwargs = merged
    return args, kwargs


class DjangoMatchInfo(web.UrlMappingMatchInfo):
    """``request.match_info`` for an async view.

    The mapping holds the captured named values as strings (aiohttp's convention);
    ``args`` and ``kwargs`` hold exactly what Django would pass to the view, after the path
    converters' ``to_python`` (e.g. an ``int`` for ``<int:pk>``); ``endpoint`` names the match.
    """

    def __init__(self, match: Match, route: web.AbstractRoute) -> None:
        endpoint, args, kwargs = match
        strings = (
            {k: v if isinstance(v, str) else str(v) for k, v in kwargs.items()} if kwargs else {}
        )
        super().__init__(strings, route)
        self.endpoint: Final = endpoint
        self.args: Final = args
        self.kwargs: Final = kwargs

    @property
    def url_name(self) -> str | None:
        """The namespaced URL name, as ``reverse()`` takes it."""
        return self.endpoint.name


class _Route(web.AbstractRoute):
    def __init__(
        self,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
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


class DjangoResource(web.AbstractResource):
    """The one aiohttp resource: every path is resolved through the URLconf's order."""

    def __init__(
        self,
        router: Router,
        handlers: dict[int, Callable[[web.Request], Awaitable[web.StreamResponse]]],
        fallback: Callable[[web.Request], Awaitable[web.StreamResponse]],
        fallback_expect: Callable[[web.Request], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(name=None)
        self._router = router
        self._routes = {
            index: _Route(handler, self, router.endpoints[index].name)
            for index, handler in handlers.items()
        }
        self._fallback = _Route(fallback, self, "django", fallback_expect)  # 413 before 100

    @property
    def canonical(self) -> str:
        return "/"

    def url_for(self, *args: str, **kwargs: str) -> URL:
        return URL("/")

    async def resolve(
        self, request: web.Request
    ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        path = django_path(request)
        match = self._router.match(path[1:]) if path.startswith("/") else None
        if match is not None:
            route = self._routes.get(match[0].index)
            if route is not None:
                return DjangoMatchInfo(match, route), set()
        return web.UrlMappingMatchInfo({}, self._fallback), set()

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
        """The same URL as ``reverse(name, args=args, kwargs=kwargs)``."""
        assert self.name is not None
        return URL(reverse(self.name, args=args or None, kwargs=kwargs or None), encoded=True)

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
