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
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern

from .registry import AsyncViewDef, AsyncViewRegistry, get_view_def

__all__ = (
    "Endpoint",
    "Level",
    "classify",
    "discover",
    "is_ambiguous",
    "literal_prefix",
    "regex_tokens",
)

_REGEX_META = frozenset(".^$*+?{}[]\\|()")
_QUANTIFIERS = frozenset("*+?{")


@dataclass(frozen=True, slots=True)
class Level:
    """One ``include()`` on the way to an endpoint: its pattern and extra kwargs."""

    pattern: Any
    default_kwargs: dict[str, Any]
    namespace: str | None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One URL pattern of the URLconf, in Django's resolution order (``index``)."""

    index: int
    levels: tuple[Level, ...]
    urlpattern: URLPattern
    name: str | None
    view_def: AsyncViewDef | None
    prefix: str = field(default="")

    @property
    def route(self) -> str:
        """The whole route, prefixes joined, as Django's ``ResolverMatch.route`` shows it."""
        return "".join(str(level.pattern) for level in self.levels) + str(self.urlpattern.pattern)


def literal_prefix(pattern: object) -> tuple[str, bool]:
    """The text every match of ``pattern`` starts with, and whether that text is all of it.

    Unknown pattern kinds, unanchored regexes and inline flags give ``("", False)``: the
    endpoint is then tried for every path, which is slower but always correct.
    """
    if isinstance(pattern, RoutePattern):
        route = str(pattern)
        head, sep, _ = route.partition("<")
        return head, not sep
    if isinstance(pattern, RegexPattern) and not isinstance(pattern, LocalePrefixPattern):
        return _regex_literal_prefix(str(pattern))
    return "", False


def _regex_literal_prefix(regex: str) -> tuple[str, bool]:
    if not regex.startswith("^") or _has_top_level_alternation(regex):
        return "", False
    out: list[str] = []
    i = 1
    while i < len(regex):
        char = regex[i]
        if char == "\\":
            if i + 1 < len(regex) and not regex[i + 1].isalnum():
                literal, width = regex[i + 1], 2
            else:
                break
        elif char in _REGEX_META:
            break
        else:
            literal, width = char, 1
        if i + width < len(regex) and regex[i + width] in _QUANTIFIERS:
            break  # the quantifier may repeat or drop this character
        out.append(literal)
        i += width
    return "".join(out), i == len(regex)


def regex_tokens(regex: str) -> Iterator[tuple[int, str, bool]]:
    """``(position, token, inside a [class])`` for each token of ``regex``.

    An escape (``\\d``, ``\\(``) is one token; a ``]`` just after ``[`` or ``[^`` is a
    literal, as ``re`` reads it. Enough to find groups and alternations, not a full parser.
    """
    i, in_class, class_body = 0, False, 0
    while i < len(regex):
        token = regex[i : i + 2] if regex[i] == "\\" else regex[i]
        if in_class:
            in_class = token != "]" or i == class_body
            yield i, token, True
        else:
            if token == "[":
                in_class = True
                class_body = i + (2 if regex[i + 1 : i + 2] == "^" else 1)
            yield i, token, False
        i += len(token)


def _has_top_level_alternation(regex: str) -> bool:
    depth = 0
    for _, token, in_class in regex_tokens(regex):
        if in_class:
            continue
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif token == "|" and depth == 0:
            return True
    return False


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


def _walk(
    patterns: Iterable[URLPattern | URLResolver], levels: tuple[Level, ...]
) -> Iterator[tuple[tuple[Level, ...], URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            level = Level(entry.pattern, dict(entry.default_kwargs), entry.namespace)
            yield from _walk(entry.url_patterns, (*levels, level))
        else:
            yield levels, entry


def _chain_prefix(levels: tuple[Level, ...], leaf: object) -> str:
    prefix = ""
    for pattern in (*(level.pattern for level in levels), leaf):
        head, complete = literal_prefix(pattern)
        prefix += head
        if not complete:
            break
    return prefix


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
    for levels, urlpattern in _walk(resolver.url_patterns, ()):
        view_def = classify(urlpattern.callback, mode)
        if view_def is not None:
            seen.add(id(view_def))
        endpoints.append(_endpoint(len(endpoints), levels, urlpattern, view_def))
    for view_def in registry or ():
        if id(view_def) not in seen:
            endpoints.append(_endpoint(len(endpoints), (), view_def.to_urlpattern(), view_def))
    return endpoints


def _endpoint(
    index: int, levels: tuple[Level, ...], urlpattern: URLPattern, view_def: AsyncViewDef | None
) -> Endpoint:
    namespaces = [level.namespace for level in levels if level.namespace]
    name = ":".join([*namespaces, urlpattern.name]) if urlpattern.name else None
    prefix = _chain_prefix(levels, urlpattern.pattern)
    return Endpoint(index, levels, urlpattern, name, view_def, prefix)
