"""Dispatch in Django's URLconf order, at a per-request cost that stays flat as patterns grow.

``Router`` answers "which URL pattern would Django pick for this path?" with Django's own pattern
objects, but only tries the endpoints whose literal prefix can match (``patterns`` reads the
prefixes): endpoints are indexed by the path segments of that prefix, a path that is an
endpoint's whole literal route is answered from a table, and the endpoints with no literal
segment are narrowed by one combined regex. URLconfs with translated routes or
``i18n_patterns`` get one such index per language, built when a request first needs it, and
each request is matched in the language Django's ``LocaleMiddleware`` would activate.
``DjangoMatchInfo`` is what an async view gets as ``request.match_info`` for a match.
The aiohttp resources that hand a request to the view the router picked are in ``resources``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import Any, Final, cast
from urllib.parse import unquote_to_bytes

from aiohttp import web
from django.conf import settings
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.urls import URLPattern, URLResolver
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern
from django.utils import translation
from django.utils.encoding import repercent_broken_unicode

from .discovery import Endpoint, Level, level_of, make_endpoint
from .patterns import chain_prefix, depends_on_language, prefilter

__all__ = (
    "DjangoMatchInfo",
    "Router",
    "captured_text",
    "captures_text",
    "django_path",
)

Match = tuple[Endpoint, tuple[Any, ...], dict[str, Any]]
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


def captures_text(endpoint: Endpoint) -> bool:
    """Whether a match of ``endpoint`` can have named groups (a non-empty ``captured_text()``)."""
    return any(map(_has_named_groups, _chain(endpoint)))


class DjangoMatchInfo(web.UrlMappingMatchInfo):
    """``request.match_info`` for an async view.

    The mapping holds the named groups as the text in the URL, as aiohttp's does (``'007'``
    for ``<int:pk>`` on ``/n/007/``); ``args`` and ``kwargs`` hold exactly what Django would
    pass to the view: converted by the path converters (``7``), with ``path()``'s extra
    kwargs. ``endpoint`` names the match; ``language`` is the language the path was resolved
    in (URLconfs with translated routes or ``i18n_patterns``; None otherwise).
    """

    __slots__ = ("args", "endpoint", "kwargs", "language")  # one per request: no __dict__

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
