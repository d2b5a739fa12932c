"""The fan-out scenario's URLconf: the aiodjango views, and the Channels side's HTTP views."""

from __future__ import annotations

from django.urls import include, path

from . import fanout, views

urlpatterns = [
    path("django/hello/", views.django_hello),
    path("fanout/channels/publish/", fanout.channels_publish),
    path("fanout/channels/ready/", fanout.channels_ready),
    path("", include("aiodjango.urls")),
]
