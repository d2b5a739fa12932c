"""The database scenarios' URLconf: one path per view and server kind."""

from __future__ import annotations

from django.urls import path

from . import dbviews, views

urlpatterns = [
    path("django/hello/", views.django_hello),
    path("db/aio/item/", dbviews.aio_item),
    path("db/aio/sleep/", dbviews.aio_sleep),
    path("db/async/item/", dbviews.async_item),
    path("db/async/sleep/", dbviews.async_sleep),
    path("db/sync/item/", dbviews.sync_item),
    path("db/sync/sleep/", dbviews.sync_sleep),
]
