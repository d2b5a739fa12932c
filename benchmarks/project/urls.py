"""The full app's URLconf: Django views and async views side by side."""

from __future__ import annotations

from django.urls import include, path

from . import views

urlpatterns = [
    path("django/hello/", views.django_hello, name="django-hello"),
    path("django/async-hello/", views.django_async_hello, name="django-async-hello"),
    path("slow/", views.slow, name="slow"),
    path("stream/", views.stream, name="stream"),
    path("", include("aiodjango.urls")),
]
