# mypy: disable-error-code="arg-type"
"""A URLconf that includes itself, as Django's ``namespace_urls`` does."""

from __future__ import annotations

from django.urls import include, path

from . import views

urlpatterns = [
    path("leaf/<int:pk>/", views.aio_args, name="leaf"),
    path("again/", include("tests.urls_i18n_self")),
]
