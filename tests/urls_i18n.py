# mypy: disable-error-code="arg-type"
"""A URLconf with what the router must not index: translated routes, i18n_patterns, alternation.

The translated segments use language names from Django's own catalog (``Dutch`` is
``Nederlands`` in Dutch, ``Niederländisch`` in German), so no catalog of ours is needed.
"""

from __future__ import annotations

from aiohttp import web
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path, re_path
from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from . import views


async def language(request: web.Request) -> web.Response:
    """The language active while an async view runs."""
    return web.Response(text=translation.get_language())


urlpatterns = [
    *i18n_patterns(path("lang/", language, name="language")),
    re_path(r"^a|b/", views.aio_args, name="alternation"),
    re_path(r"^(\w+)/$", views.django_args, name="word"),
    path(format_lazy("{}/<int:pk>/", _("Dutch")), views.aio_args, name="translated"),
    path("plain/<int:pk>/", views.aio_args, name="plain"),
    path("n/<int:pk>/", views.aio_args, {"extra": "yes"}, name="padded"),
    path("self/", include("tests.urls_i18n_self")),
]
