"""Walks the Django URLconf into a flat, ordered list of endpoints, one per URL pattern.

Each endpoint keeps the chain of Django pattern objects that lead to it, so matching stays
Django's own (``pattern.match``), and says whether aiohttp serves it (a coroutine view meant
for aiohttp) or Django does. Which coroutine views are aiohttp's is the discovery rule:

* ``marked``: only views decorated with ``@async_view``;
* ``annotated`` (default): marked views, plus coroutine views whose first parameter is
  annotated ``aiohttp.web.Request`` or whose return is annotated as an aiohttp response;
* ``all``: every coroutine view, the 2015 behaviour (Django-native async views break).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

from .registry import AsyncViewDef, AsyncViewRegistry, get_view_def

__all__ = (
    "Endpoint",
    "Level",
    "classify",
    "discover",
    "is_ambiguous",
    "level_of",
    "make_endpoint",
)


@dataclass(frozen=True, slots=True)
class Level:
    """One ``include()`` on the way to an endpoint: its pattern and extra kwargs."""

    pattern: Any
    default_kwargs: dict[str, Any]
    namespace: str | None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One URL pattern of the URLconf, in Django's resolution order (``index``).

    ``subtree`` is set on the stand-in for an ``include()`` that includes a URLconf it is
    already inside (Django resolves such recursion lazily): the router then resolves that
    part of the URLconf the way Django does, pattern by pattern, when a request gets there.
    The stand-in's ``urlpattern`` never matches. An endpoint found inside such a subtree
    carries the ``index`` of the walked endpoint with the same URL pattern.
    """

    index: int
    levels: tuple[Level, ...]
    urlpattern: URLPattern
    name: str | None
    view_def: AsyncViewDef | None
    subtree: URLResolver | None = None

    @property
    def route(self) -> str:
        """The whole route as Django's ``ResolverMatch.route`` shows it (nested ``^`` dropped).

        Evaluated when read: a translated route shows the active language's text.
        """
        last = self.urlpattern.pattern if self.subtree is None else self.subtree.pattern
        route = str(last)
        for level in reversed(self.levels):
            prefix = str(level.pattern)
            route = prefix + route.removeprefix("^") if prefix else route
        return route


def _hints(view: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(view)
    except Exception:  # unresolvable string annotations: fall back to the raw ones
        return dict(getattr(view, "__annotations__", {}))


def _is_aiohttp_annotated(view: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(view).parameters.values())
    except (TypeError, ValueError):
        return False
    hints = _hints(view)
    first = hints.get(params[0].name) if params else None
    returned = hints.get("return")
    return _is_subclass(first, web.BaseRequest) or _is_subclass(returned, web.StreamResponse)


def _is_subclass(annotation: object, base: type) -> bool:
    if isinstance(annotation, str):
        return annotation.rpartition(".")[2] in {base.__name__, *_SUBCLASS_NAMES[base]}
    return isinstance(annotation, type) and issubclass(annotation, base)


_SUBCLASS_NAMES: dict[type, set[str]] = {
    web.BaseRequest: {"Request"},
    web.StreamResponse: {"Response", "WebSocketResponse", "FileResponse"},
}


def classify(view: Callable[..., Any], mode: str) -> AsyncViewDef | None:
    """The ``AsyncViewDef`` aiohttp serves ``view`` with, or None when Django serves it."""
    marked = get_view_def(view)
    if marked is not None:
        return marked
    if mode == "marked" or not inspect.iscoroutinefunction(view):
        return None
    if mode == "all" or _is_aiohttp_annotated(view):
        return AsyncViewDef(view)
    return None


def is_ambiguous(view: Callable[..., Any]) -> bool:
    """An unmarked, unannotated coroutine view: Django-native or aiohttp handler? Can't tell."""
    if get_view_def(view) is not None or not inspect.iscoroutinefunction(view):
        return False
    if hasattr(view, "view_class"):  # Django's async class-based views
        return False
    return not _is_aiohttp_annotated(view) and not _hints(view)


def level_of(resolver: URLResolver) -> Level:
    """The ``Level`` an ``include()`` adds to the endpoints below it."""
    return Level(resolver.pattern, dict(resolver.default_kwargs), resolver.namespace)


def _walk(
    patterns: Iterable[URLPattern | URLResolver],
    levels: tuple[Level, ...],
    ancestors: tuple[int, ...],
) -> Iterator[tuple[tuple[Level, ...], URLPattern | URLResolver]]:
    """(levels, URL pattern) in order; (levels, include) for an include of an ancestor."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            included = entry.url_patterns
            if id(included) in ancestors:
                yield levels, entry  # a cycle: resolved lazily, as Django does
            else:
                yield from _walk(included, (*levels, level_of(entry)), (*ancestors, id(included)))
        else:
            yield levels, entry


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("the stand-in of a self-including include() is never called")


_NEVER: Final = URLPattern(RegexPattern(r"(?!)", is_endpoint=True), _never)


def discover(
    urlconf: str | None = None,
    *,
    mode: str = "annotated",
    registry: AsyncViewRegistry | None = None,
) -> list[Endpoint]:
    """Every URL pattern in resolution order; registry views missing from it come last."""
    resolver = get_resolver(urlconf)
    endpoints: list[Endpoint] = []
    seen: set[int] = set()
    root = resolver.url_patterns
    for levels, entry in _walk(root, (), (id(root),)):
        if isinstance(entry, URLResolver):
            endpoints.append(Endpoint(len(endpoints), levels, _NEVER, None, None, entry))
            continue
        view_def = classify(entry.callback, mode)
        if view_def is not None:
            seen.add(id(view_def))
        endpoints.append(make_endpoint(len(endpoints), levels, entry, view_def))
    for view_def in registry or ():
        if id(view_def) not in seen:
            endpoints.append(make_endpoint(len(endpoints), (), view_def.to_urlpattern(), view_def))
    return endpoints


def make_endpoint(
    index: int, levels: tuple[Level, ...], urlpattern: URLPattern, view_def: AsyncViewDef | None
) -> Endpoint:
    """The endpoint of ``urlpattern`` under ``levels``, named as ``reverse()`` takes it."""
    namespaces = [level.namespace for level in levels if level.namespace]
    name = ":".join([*namespaces, urlpattern.name]) if urlpattern.name else None
    return Endpoint(index, levels, urlpattern, name, view_def)
