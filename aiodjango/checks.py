"""Django system checks for aiodjango (IDs ``aiodjango.E###`` and ``aiodjango.W###``).

Every ID is listed in docs/checks.md. ``register_all()`` runs from ``AppConfig.ready()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver

from .conf import conf
from .discovery import Endpoint, discover, is_ambiguous
from .registry import AsyncViewRegistry, default_registry
from .static import check_static_files

__all__ = (
    "check_app_order",
    "check_discovery",
    "check_registry",
    "check_settings",
    "register_all",
    "setting_names",
    "urlconf_endpoints",
)

Messages = list[checks.CheckMessage]
_SHADOWING_APPS = ("django.contrib.staticfiles", "daphne", "channels")


def setting_names() -> list[str]:
    """Every setting ``conf`` knows, without the prefix: one property each, so none is missed."""
    return sorted(name for name, value in vars(type(conf)).items() if isinstance(value, property))


def check_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> Messages:
    """E003: every ``AIODJANGO_*`` setting has a valid value."""
    messages: Messages = []
    for name in setting_names():
        try:
            getattr(conf, name)
        except ImproperlyConfigured as exc:
            messages.append(
                checks.Error(
                    str(exc),
                    hint=f"Fix AIODJANGO_{name}; docs/settings.md lists the valid values.",
                    id="aiodjango.E003",
                )
            )
    return messages


def check_app_order(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> Messages:
    """W002: ``aiodjango`` must come before apps whose ``runserver`` would shadow ours."""
    installed = list(settings.INSTALLED_APPS)
    names = [app.split(".apps.")[0] for app in installed]
    if "aiodjango" not in names:
        return []
    ours = names.index("aiodjango")
    return [
        checks.Warning(
            f"'aiodjango' is listed after {other!r} in INSTALLED_APPS, so {other!r}'s "
            "runserver command shadows aiodjango's.",
            hint=f"Move 'aiodjango' above {other!r} in INSTALLED_APPS.",
            obj="INSTALLED_APPS",
            id="aiodjango.W002",
        )
        for other in _SHADOWING_APPS
        if other in names and names.index(other) < ours
    ]


def _mode() -> str:
    return conf.DISCOVERY if _valid_discovery() else "annotated"


# The last URLconf walk: (resolver, mode) -> its endpoints. The checks of one ``manage.py
# check`` run share it, so the URLconf is walked once; a changed ROOT_URLCONF gives Django a
# new resolver, hence a new walk.
_walks: dict[tuple[int, str], tuple[object, list[Endpoint]]] = {}


def urlconf_endpoints() -> list[Endpoint]:
    """The URLconf's endpoints (``discover()`` without a registry), walked once per URLconf."""
    resolver, mode = get_resolver(), _mode()
    key = (id(resolver), mode)
    found = _walks.get(key)
    if found is None or found[0] is not resolver:
        try:
            endpoints = discover(mode=mode)
        except ImproperlyConfigured:  # a pattern does not compile: E001 and Django say so
            endpoints = []
        _walks.clear()
        found = _walks[key] = (resolver, endpoints)
    return found[1]


def check_registry(
    app_configs: Sequence[AppConfig] | None,
    *,
    registry: AsyncViewRegistry = default_registry,
    **kwargs: Any,
) -> Messages:
    """E001: registered patterns compile. E002: async view names are unique in the URLconf.

    W004: a registry view is not in the URLconf, so ``reverse()`` cannot build its URL.
    """
    messages: Messages = []
    for view_def in registry:
        assert view_def.pattern is not None
        try:
            regex = view_def.to_urlpattern().pattern.regex
            assert isinstance(regex, re.Pattern)
        except (re.error, ImproperlyConfigured) as exc:
            messages.append(
                checks.Error(
                    f"The pattern {view_def.pattern!r} of {view_def!r} does not compile: {exc}",
                    hint="Patterns starting with '^' are regexes, others use path() syntax.",
                    obj=view_def.handler,
                    id="aiodjango.E001",
                )
            )
    if messages:
        return messages
    endpoints = urlconf_endpoints()
    walked = {id(e.view_def) for e in endpoints if e.view_def is not None}
    unmounted = [view_def for view_def in registry if id(view_def) not in walked]
    # (name, view_def or None, callback): the URLconf's, then the registry views served anyway.
    named = [(e.name, e.view_def, e.urlpattern.callback) for e in endpoints if e.name]
    named += [(v.name, v, v.handler) for v in unmounted if v.name]
    callbacks: dict[str, set[int]] = {}
    qualnames: dict[str, set[str]] = {}
    for name, _, callback in named:
        callbacks.setdefault(name, set()).add(id(callback))
        qualnames.setdefault(name, set()).add(_qualname(callback))
    for name, named_def, _ in named:
        if named_def is not None and len(callbacks[name]) > 1:
            others = ", ".join(sorted(qualnames[name]))
            messages.append(
                checks.Error(
                    f"URL name {name!r} of async view {named_def!r} is also "
                    f"used by another view ({others}); reverse() can build only one of them.",
                    hint="Give each view its own URL name.",
                    obj=named_def.handler,
                    id="aiodjango.E002",
                )
            )
    messages.extend(
        checks.Warning(
            f"Async view {view_def!r} is registered with a pattern but is not in the URLconf, "
            "so reverse() and {% url %} cannot build its URL.",
            hint="Add path('', include('aiodjango.urls')) to your URLconf.",
            obj=view_def.handler,
            id="aiodjango.W004",
        )
        for view_def in unmounted
    )
    return messages


def check_discovery(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> Messages:
    """W001: a coroutine view that could be Django-native or an aiohttp handler."""
    mode = _mode()
    messages: Messages = []
    for endpoint in urlconf_endpoints():
        callback = endpoint.urlpattern.callback
        if not is_ambiguous(callback):
            continue
        served = "aiohttp serves it" if mode == "all" else "Django serves it as a native async view"
        messages.append(
            checks.Warning(
                f"Coroutine view {_qualname(callback)} at {endpoint.route!r} is ambiguous: it "
                f"has no @async_view mark and no annotations. With AIODJANGO_DISCOVERY="
                f"{mode!r}, {served}.",
                hint="Decorate it with @async_view if it is an aiohttp handler, or annotate its "
                "request parameter (aiohttp.web.Request or django.http.HttpRequest).",
                obj=callback,
                id="aiodjango.W001",
            )
        )
    return messages


def _valid_discovery() -> bool:
    try:
        return bool(conf.DISCOVERY)
    except ImproperlyConfigured:
        return False


def _qualname(view: object) -> str:
    return f"{getattr(view, '__module__', '?')}.{getattr(view, '__qualname__', repr(view))}"


def register_all() -> None:
    """Register every aiodjango check with Django's check framework."""
    plain: list[Callable[..., Messages]] = [check_settings, check_app_order]
    for check in plain:
        checks.register(check, "aiodjango")
    for check in (check_registry, check_discovery):
        checks.register(check, "aiodjango", checks.Tags.urls)
    # W010, W011: static files in production
    checks.register(check_static_files, "aiodjango", checks.Tags.staticfiles)
