"""URL patterns of the websocket and authentication tests."""

from __future__ import annotations

from django.urls import include, path

from . import ws_views

urlpatterns = [
    path("ws/echo/", ws_views.echo, name="ws-echo"),
    path("ws/whoami/", ws_views.whoami, name="ws-whoami"),
    path("ws/private/", ws_views.private, name="ws-private"),
    path("ws/boom/", ws_views.boom, name="ws-boom"),
    path("ws/once/", ws_views.once, name="ws-once"),
    path("ws/recorder/", ws_views.recorder, name="ws-recorder"),
    path("aio/whoami/", ws_views.whoami_http, name="aio-whoami"),
    path("aio/private/", ws_views.private_http, name="aio-private"),
    path("aio/private-elsewhere/", ws_views.private_elsewhere),
    path("aio/private-sso/", ws_views.private_sso),
    path("ws/late/", ws_views.late_writer),
    path("ws/flood/", ws_views.flood, name="ws-flood"),
    path("aio/exempt-fields/", ws_views.exempt_fields),
    path("dj/whoami/", ws_views.django_whoami),
    path("aio/post/", ws_views.post_form, name="aio-post"),
    path("aio/exempt/", ws_views.exempt_form, name="aio-exempt"),
    path("aio/ws-link/", ws_views.ws_link),
    path("dj/ws-link/", ws_views.ws_link_django),
    path("dj/ws-link-template/", ws_views.ws_link_template),
    path("accounts/", include("django.contrib.auth.urls")),
]
