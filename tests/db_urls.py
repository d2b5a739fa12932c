"""URL patterns of the database tests (tests/test_database.py): async views only."""

from __future__ import annotations

from django.urls import path

from . import db_views

urlpatterns = [
    path("db/backend/", db_views.backend_view, name="db-backend"),
    path("db/groups/", db_views.groups_view, name="db-groups"),
    path("db/hello/", db_views.hello_view, name="db-hello"),
    path("db/ws/", db_views.backend_socket, name="db-ws"),
]
