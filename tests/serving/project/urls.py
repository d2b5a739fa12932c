"""URLs of the serving tests' project: a Django page, an async page, a websocket, a slow view."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("sync/", views.sync_page),
    path("async/", views.async_page),
    path("ws/", views.echo),
    path("slow/", views.slow),
    path("fail/", views.fail),
    path("body/", views.body_size),
    path("async-body/", views.async_body_size),
]
