"""URLs of the serving tests' project: Django and async pages, websockets, a slow view, groups."""

from __future__ import annotations

from django.apps import apps
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
    path("room/", views.room),
    path("publish/", views.publish),
    path("group-stats/", views.group_stats),
]
if apps.is_installed("django.contrib.auth"):  # SERVING_GROUPS_PREFIX (tests/test_multiworker.py)
    from django.contrib.auth.views import LogoutView

    urlpatterns += [
        path("login/", views.log_in),
        path("logout/", LogoutView.as_view()),
    ]
