"""A URLconf where an async view and a Django view share one URL name (check E002)."""

from __future__ import annotations

from django.urls import URLPattern, path

from .check_urls import aio_named, django_named

urlpatterns: list[URLPattern] = [
    path("a/", aio_named, name="shared"),
    path("b/", django_named, name="shared"),
]
