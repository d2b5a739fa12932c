"""Dispatch in Django's URLconf order, at a per-request cost that stays flat as patterns grow.

``Router`` answers "which URL pattern would Django pick for this path?" with Django's own pattern
objects, but only tries the endpoints whose literal prefix can match (``patterns`` reads the
prefixes): endpoints are indexed by the path segments of that prefix, a path that is an
endpoint's whole literal route is answered from a table, and the endpoints with no literal
segment are narrowed by one combined regex. URLconfs with translated routes or
``i18n_patterns`` get one such index per language, built when a request first needs it, and
each request is matched in the language Django's ``LocaleMiddleware`` would activate.
``DjangoResource`` is the single aiohttp resource (canonical ``/``) that asks the router and
hands the request to an async view or to Django. ``add_named_views`` makes
``app.router[name].url_for()`` agree with ``reverse()``. Under a path prefix
(``FORCE_SCRIPT_NAME``, ``interop.path_info``) the router sees the path without it, async
views get it as their script prefix (``reverse()``), and a path without it is taken as
already stripped by the proxy.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sized
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import unquote_to_bytes

from aiohttp import web
from django.conf import settings
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.urls import URLPattern, URLResolver, get_script_prefix, reverse, set_script_prefix
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern
from django.utils import translation
from django.utils.encoding import repercent_broken_unicode
from yarl import URL

from .discovery import Endpoint, Level, level_of, make_endpoint
from .interop import (
    path_info,
    script_prefix,
)
from .patterns import chain_prefix, depends_on_language, prefilter

if TYPE_CHECKING:  # aiohttp types get_info() with a TypedDict it does not export
    from aiohttp.web_urldispatcher import _InfoDict

__all__ = (
    "DjangoMatchInfo",
    "DjangoResource",
    "LiteralResource",
    "NamedViewResource",
    "Router",
    "add_named_views",
    "captured_text",
    "django_path",
)

Match = tuple[Endpoint, tuple[Any, ...], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_LOCALE_MIDDLEWARE: Final = "django.middleware.locale.LocaleMiddleware"
_MAX_LANGUAGES: Final = 64  # indexes kept; get_language() only returns configured languages


def django_path(request: web.BaseRequest) -> str:
    """The request path exactly as Django sees it (``PATH_INFO`` decoded the WSGI way)."""
    raw = request.rel_url.raw_path
    if "%" not in raw:
        return raw
    return repercent_broken_unicode(unquote_to_bytes(raw)).decode()


class Router:
    """Finds the first endpoint of the URLconf matching a path, as ``django.urls.resolve``.

    Matching uses the active language, as Django's resolver does. ``language_dependent`` says
    whether the URLconf has translated routes or ``i18n_patterns``; only then does the
    language matter (``request_language``), and the index is kept per language.
    """

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.endpoints: Final = endpoints
        self.language_dependent: Final = any(map(_depends_on_language, endpoints))
        # Django's is_language_prefix_patterns_used(): the first top-level i18n_patterns().
        self._prefixed: tuple[bool, bool] = (False, True)
        for endpoint in endpoints:
            first = endpoint.levels[0].pattern if endpoint.levels else None
            if isinstance(first, LocalePrefixPattern):
                self._prefixed = (True, first.prefix_default_language)
                break
        canonical: dict[int, Endpoint] = {}
        for endpoint in endpoints:
            if endpoint.subtree is None:
                canonical.setdefault(id(endpoint.urlpattern), endpoint)
        self._canonical: Final = canonical
        self._single: Final = None if self.language_dependent else _Index(endpoints, canonical)
        self._by_language: Final[dict[str | None, _Index]] = {}

    def match(self, path: str) -> Match | None:
        """Resolve ``path`` (without its leading ``/``) to an endpoint and its view arguments."""
        index = self._single
        if index is None:
            language = translation.get_language()
            index = self._by_language.get(language)
            if index is None:
                index = self._index_for(language)
        return index.match(path)

    def literals(self) -> dict[str, Match]:
        """The paths (without their leading ``/``) that are an endpoint's whole literal route,
        with their match; empty when the URLconf depends on the language."""
        return {} if self._single is None else dict(self._single._static)

    def _index_for(self, language: str | None) -> _Index:
        if len(self._by_language) >= _MAX_LANGUAGES:
            self._by_language.clear()
        index = self._by_language[language] = _Index(self.endpoints, self._canonical)
        return index

    def request_language(self, request: web.BaseRequest, path: str) -> str:
        """The language Django's ``LocaleMiddleware`` would activate for this request."""
        if _LOCALE_MIDDLEWARE not in settings.MIDDLEWARE:
            return str(settings.LANGUAGE_CODE)
        used, prefixed_default = self._prefixed
        probe = _LanguageProbe(path, request.headers)
        language = translation.get_language_from_request(cast(HttpRequest, probe), check_path=used)
        if used and not prefixed_default and not translation.get_language_from_path(path):
            language = settings.LANGUAGE_CODE
        return str(language)


class _LanguageProbe:
    # What get_language_from_request() reads of a Django request, without building one.
    def __init__(self, path: str, headers: Any) -> None:
        self.path_info = path
        self.COOKIES = parse_cookie(headers.get("Cookie", ""))
        self.META = {"HTTP_ACCEPT_LANGUAGE": headers.get("Accept-Language", "")}


def _chain(endpoint: Endpoint) -> tuple[object, ...]:
    last = endpoint.urlpattern.pattern if endpoint.subtree is None else endpoint.subtree.pattern
    return (*(level.pattern for level in endpoint.levels), last)


def _depends_on_language(endpoint: Endpoint) -> bool:
    return any(map(depends_on_language, _chain(endpoint)))


class _Index:
    """The lookup structures of one URLconf in the active language (built in it)."""

    def __init__(self, endpoints: list[Endpoint], canonical: dict[int, Endpoint]) -> None:
        self._canonical = canonical
        own: dict[str, list[tuple[Endpoint, str]]] = {}
        unkeyed: list[Endpoint] = []
        literals: list[tuple[Endpoint, str]] = []
        for endpoint in endpoints:
            prefix, complete = chain_prefix(_chain(endpoint), endpoint=endpoint.subtree is None)
            slash = prefix.rfind("/")
            if slash < 0:
                unkeyed.append(endpoint)
            else:
                own.setdefault(prefix[: slash + 1], []).append((endpoint, prefix))
            if complete and endpoint.subtree is None:
                literals.append((endpoint, prefix))
        self._keyed: Final = {
            key: tuple(sorted(_with_ancestors(key, own), key=lambda pair: pair[0].index))
            for key in own
        }
        self._unkeyed: Final = _runs(unkeyed)
        # Paths that are an endpoint's whole literal route resolve the same way every time:
        # resolve them once here and answer them with one dict lookup per request.
        self._static: Final[dict[str, Match]] = {}
        for endpoint, prefix in literals:
            if prefix not in self._static:
                found = self._match(prefix)
                if found is not None and found[0] is endpoint:
                    self._static[prefix] = found

    def match(self, path: str) -> Match | None:
        static = self._static.get(path)
        if static is not None:
            endpoint, args, kwargs = static
            return endpoint, args, dict(kwargs) if kwargs else {}  # a view may change them
        return self._match(path)

    def _match(self, path: str) -> Match | None:
        # The keyed candidates first; the unkeyed endpoints only matter above the keyed hit.
        hit: Match | None = None
        limit = sys.maxsize
        slash = path.rfind("/")
        while slash >= 0:
            candidates = self._keyed.get(path[: slash + 1])
            if candidates is not None:
                for endpoint, prefix in candidates:
                    if path.startswith(prefix):
                        hit = self._match_endpoint(endpoint, path)
                        if hit is not None:
                            limit = endpoint.index
                            break
                break
            slash = path.rfind("/", 0, slash)
        for regex, endpoints in self._unkeyed:
            if endpoints[0].index >= limit:
                break
            start = 0
            if regex is not None:
                found = regex.match(path)
                if found is None:
                    continue
                start = int(str(found.lastgroup)[1:])
            for endpoint in endpoints[start:]:
                if endpoint.index >= limit:
                    return hit
                earlier = self._match_endpoint(endpoint, path)
                if earlier is not None:
                    return earlier
        return hit

    def _match_endpoint(self, endpoint: Endpoint, path: str) -> Match | None:
        # Mirrors URLResolver.resolve: match each include() prefix, then the pattern itself, and
        # merge arguments inside out (named groups anywhere drop the positional ones).
        captured: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        for level in endpoint.levels:
            match = level.pattern.match(path)
            if match is None:
                return None
            path, args, kwargs = match
            captured.append((args, kwargs))
        levels = endpoint.levels
        if endpoint.subtree is None:
            match = endpoint.urlpattern.pattern.match(path)
            if match is None:
                return None
            _, args, kwargs = match
            args, kwargs = tuple(args), {**kwargs, **endpoint.urlpattern.default_args}
        else:
            inner = _resolve_subtree(endpoint.subtree, path)
            if inner is None:
                return None
            sublevels, leaf, args, kwargs = inner
            levels = (*levels, *sublevels)
            walked = self._canonical.get(id(leaf))
            index = endpoint.index if walked is None else walked.index
            view_def = None if walked is None else walked.view_def
            endpoint = make_endpoint(index, levels, leaf, view_def)
        args, kwargs = _merge(endpoint.levels[: len(captured)], captured, args, kwargs)
        return endpoint, args, kwargs


def _merge(
    levels: Iterable[Level],
    captured: list[tuple[tuple[Any, ...], dict[str, Any]]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    for level, (level_args, level_kwargs) in zip(
        reversed(tuple(levels)), reversed(captured), strict=True
    ):
        merged = {**level_kwargs, **level.default_kwargs, **kwargs}
        args = args if merged else (*level_args, *args)
        kwargs = merged
    return args, kwargs


def _resolve_subtree(
    resolver: URLResolver, path: str
) -> tuple[tuple[Level, ...], URLPattern, tuple[Any, ...], dict[str, Any]] | None:
    # URLResolver.resolve, keeping the URLPattern and the chain it was found under.
    match = resolver.pattern.match(path)
    if match is None:
        return None
    rest, args, kwargs = match
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = _resolve_subtree(entry, rest)
            if inner is None:
                continue
            sublevels, leaf, sub_args, sub_kwargs = inner
        else:
            leaf_match = entry.pattern.match(rest)
            if leaf_match is None:
                continue
            sublevels, leaf = (), entry
            sub_args, sub_kwargs = tuple(leaf_match[1]), {**leaf_match[2], **entry.default_args}
        merged = {**kwargs, **resolver.default_kwargs, **sub_kwargs}
        all_args = sub_args if merged else (*args, *sub_args)
        return (level_of(resolver), *sublevels), leaf, all_args, merged
    return None


def _with_ancestors(
    key: str, own: dict[str, list[tuple[Endpoint, str]]]
) -> list[tuple[Endpoint, str]]:
    endpoints = list(own[key])
    slash = key.rfind("/", 0, len(key) - 1)
    while slash >= 0:
        endpoints.extend(own.get(key[: slash + 1], ()))
        slash = key.rfind("/", 0, slash)
    return endpoints


# A run is either a combined prefilter regex over several endpoints or one endpoint that
# cannot be prefiltered (see patterns.prefilter).
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
        regex = None if endpoint.subtree is not None else prefilter(_chain(endpoint))
        if regex is None:
            flush()
            runs.append((None, (endpoint,)))
        else:
            batch.append((endpoint, regex))
    flush()
    return tuple(runs)


def _has_named_groups(pattern: object) -> bool:
    if isinstance(pattern, RoutePattern):
        return bool(pattern.converters)
    if isinstance(pattern, RegexPattern):
        return bool(pattern.regex.groupindex)
    return not isinstance(pattern, LocalePrefixPattern)


def captured_text(endpoint: Endpoint, path: str) -> dict[str, str]:
    """The named groups of the match of ``path``, as the text in the URL (``'007'``).

    ``path`` is without its leading ``/`` and must match ``endpoint`` in the active language.
    """
    chain = _chain(endpoint)
    if not any(map(_has_named_groups, chain)):
        return {}
    captured: dict[str, str] = {}
    for i, pattern in enumerate(chain):
        if isinstance(pattern, LocalePrefixPattern):
            path = path.removeprefix(pattern.language_prefix)
            continue
        if isinstance(pattern, RoutePattern | RegexPattern):
            regex = pattern.regex
            whole = i == len(chain) - 1 and isinstance(pattern, RegexPattern)
            found = (
                regex.fullmatch(path)
                if whole and regex.pattern.endswith("$")
                else regex.search(path)
            )
            assert found is not None, (pattern, path)
            captured.update((k, v) for k, v in found.groupdict().items() if v is not None)
            path = path[found.end() :]
        else:  # a pattern class of its own: its converted values as text
            match = pattern.match(path)  # type: ignore[attr-defined]
            assert match is not None, (pattern, path)
            path = match[0]
            captured.update((k, str(v)) for k, v in match[2].items())
    return captured


class DjangoMatchInfo(web.UrlMappingMatchInfo):
    """``request.match_info`` for an async view.

    The mapping holds the named groups as the text in the URL, as aiohttp's does (``'007'``
    for ``<int:pk>`` on ``/n/007/``); ``args`` and ``kwargs`` hold exactly what Django would
    pass to the view: converted by the path converters (``7``), with ``path()``'s extra
    kwargs. ``endpoint`` names the match; ``language`` is the language the path was resolved
    in (URLconfs with translated routes or ``i18n_patterns``; None otherwise).
    """

    def __init__(
        self,
        match: Match,
        route: web.AbstractRoute,
        captured: dict[str, str],
        language: str | None = None,
    ) -> None:
        endpoint, args, kwargs = match
        super().__init__(captured, route)
        self.endpoint: Final = endpoint
        self.args: Final = args
        self.kwargs: Final = kwargs
        self.language: Final = language

    @property
    def url_name(self) -> str | None:
        """The namespaced URL name, as ``reverse()`` takes it."""
        return self.endpoint.name


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
    ) -> None:
        super().__init__(name=None)
        self._router = router
        wrap = _in_language if router.language_dependent else (lambda handler: handler)
        self._routes = {
            index: _Route(wrap(handler), self, router.endpoints[index].name)
            for index, handler in handlers.items()
        }
        self._fallback = _Route(fallback, self, "django", fallback_expect)  # 413 before 100
        # The endpoints whose match_info is always empty (no named group on their chain):
        # most async views; their requests skip captured_text(). By id: an endpoint made for
        # a recursive include() per request is a new object, never in this set.
        self._textless: Final = frozenset(
            id(endpoint)
            for endpoint in router.endpoints
            if not any(map(_has_named_groups, _chain(endpoint)))
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
