"""The ``@async_view`` decorator and the registry of aiohttp views it fills.

``async_view`` returns the handler unchanged and marks it (``handler.__aiodjango__``), so a view
placed in the URLconf is recognised by discovery, and a view given a pattern is recorded in a
registry whose ``urls`` can be ``include()``-d into the URLconf (so ``reverse()`` knows it).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast, overload

from aiohttp import web

if TYPE_CHECKING:
    from django.urls import URLPattern

__all__ = (
    "AsyncViewDef",
    "AsyncViewRegistry",
    "DuplicateAsyncView",
    "Handler",
    "WebSocketHandler",
    "async_view",
    "default_registry",
    "get_view_def",
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WebSocketHandler = Callable[[web.Request, web.WebSocketResponse], Awaitable[None]]
AnyHandler = Callable[..., Awaitable[Any]]
H = TypeVar("H", bound=AnyHandler)

MARK: Final = "__aiodjango__"


class DuplicateAsyncView(ValueError):
    """Two async views in one registry share a name or a pattern."""


@dataclass(frozen=True)
class AsyncViewDef:
    """What ``@async_view`` recorded about one handler.

    A ``pattern`` starting with ``^`` is a regular expression (as with ``re_path()``); any other
    pattern uses Django's route syntax (as with ``path()``). ``pattern=None`` only marks the
    handler, which is then placed in the URLconf by hand.
    """

    handler: AnyHandler
    pattern: str | None = None
    name: str | None = None
    websocket: bool = False
    protocols: tuple[str, ...] = ()

    @property
    def is_regex(self) -> bool:
        """True when ``pattern`` is a regular expression rather than a Django route."""
        return self.pattern is not None and self.pattern.startswith("^")

    def __repr__(self) -> str:
        parts = [repr(self.name), self.pattern or "(URLconf)"]
        if self.websocket:
            parts.append("ws")
        return f"<AsyncViewDef {' '.join(parts)} {_qualname(self.handler)}>"

    def to_urlpattern(self) -> URLPattern:
        """The Django URL pattern for this view, so ``reverse()`` and ``{% url %}`` know it."""
        from django.urls import path, re_path

        assert self.pattern is not None, "only views with a pattern have a URL pattern"
        make = re_path if self.is_regex else path
        # Django's stubs expect views returning HttpResponse; aiodjango serves this one.
        urlpattern: URLPattern = make(self.pattern, cast(Any, self.handler), name=self.name)
        return urlpattern


def _qualname(handler: object) -> str:
    module = getattr(handler, "__module__", "?")
    return f"{module}.{getattr(handler, '__qualname__', repr(handler))}"


def get_view_def(view: object) -> AsyncViewDef | None:
    """The ``AsyncViewDef`` that ``@async_view`` attached to ``view``, if any."""
    view_def = getattr(view, MARK, None)
    return view_def if isinstance(view_def, AsyncViewDef) else None


class AsyncViewRegistry:
    """An ordered set of async views with patterns; ``include(registry.urls)`` mounts them."""

    def __init__(self) -> None:
        self._views: list[AsyncViewDef] = []
        self._frozen = False

    def __iter__(self) -> Iterator[AsyncViewDef]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __repr__(self) -> str:
        return f"<AsyncViewRegistry {len(self._views)} views>"

    def freeze(self) -> None:
        """Refuse later registrations: the app's routes are already built."""
        self._frozen = True

    def add(self, view_def: AsyncViewDef) -> None:
        """Record ``view_def``; a second view with its name or pattern is an error."""
        if self._frozen:
            raise RuntimeError(
                f"Cannot register {view_def!r}: get_aio_application() has already built the "
                "app from this registry. Import the module defining it before building the app."
            )
        for existing in self._views:
            if view_def.name is not None and existing.name == view_def.name:
                raise DuplicateAsyncView(
                    f"Duplicate name {view_def.name!r}: {_qualname(view_def.handler)} "
                    f"clashes with {_qualname(existing.handler)}."
                )
            if view_def.pattern is not None and existing.pattern == view_def.pattern:
                raise DuplicateAsyncView(
                    f"Duplicate pattern {view_def.pattern!r}: {_qualname(view_def.handler)} "
                    f"clashes with {_qualname(existing.handler)}."
                )
        self._views.append(view_def)

    @property
    def urls(self) -> list[URLPattern]:
        """Django URL patterns for every registered view, for ``include()``."""
        return [view_def.to_urlpattern() for view_def in self._views if view_def.pattern]

    @overload
    def async_view(self, pattern_or_handler: H, /) -> H: ...

    @overload
    def async_view(
        self,
        pattern_or_handler: str | None = None,
        /,
        *,
        name: str | None = None,
        websocket: bool = False,
        protocols: tuple[str, ...] = (),
    ) -> Callable[[H], H]: ...

    def async_view(
        self,
        pattern_or_handler: str | H | None = None,
        /,
        *,
        name: str | None = None,
        websocket: bool = False,
        protocols: tuple[str, ...] = (),
    ) -> H | Callable[[H], H]:
        """Mark an ``async def`` handler for aiohttp, optionally giving it a URL pattern.

        Parameters:
            pattern_or_handler: a Django route (``"hello/<str:name>/"``) or a regex starting
                with ``^``; omit it to only mark a view that the URLconf places itself.
            name: the URL name for ``reverse()``, ``{% url %}`` and aiohttp's ``url_for``.
            websocket: the handler is ``async def handler(request, ws)`` and gets a prepared
                websocket.
            protocols: websocket subprotocols offered in the handshake.
        """
        if callable(pattern_or_handler):
            return self._mark(pattern_or_handler, AsyncViewDef(pattern_or_handler))

        pattern = pattern_or_handler
        if pattern is not None and not isinstance(pattern, str):
            raise TypeError(f"@async_view pattern must be a str, got {pattern!r}")

        def decorator(handler: H) -> H:
            view_def = AsyncViewDef(handler, pattern, name, websocket, tuple(protocols))
            return self._mark(handler, view_def)

        return decorator

    def _mark(self, handler: H, view_def: AsyncViewDef) -> H:
        if not inspect.iscoroutinefunction(cast(Any, handler)):  # keep H, not narrowed
            raise TypeError(
                f"@async_view needs an async function, got {_qualname(handler)} ({handler!r}). "
                "Define it with 'async def'."
            )
        if view_def.pattern is not None:
            self.add(view_def)
        setattr(handler, MARK, view_def)
        return handler


default_registry: Final = AsyncViewRegistry()
"""The registry ``@async_view`` fills; ``include("aiodjango.urls")`` mounts it."""

async_view: Final = default_registry.async_view
"""Mark an ``async def`` aiohttp handler, optionally with a URL pattern (see
``AsyncViewRegistry.async_view``): ``@async_view``, ``@async_view("hello/<str:name>/",
name="hello")``, ``@async_view("ws/chat/<slug:room>/", name="chat", websocket=True)``."""
