"""The demo's one URLconf: Django pages, Django's auth views, and the async views.

The async JSON endpoints sit in ``urlpatterns`` like any view; discovery finds them from their
``request: web.Request`` annotation. The websocket handler has its own pattern in
``@async_view(...)``, and ``include("aiodjango.urls")`` mounts it so ``reverse()`` knows it.
"""

from __future__ import annotations

# --8<-- [start:urls]
from django.conf import settings
from django.urls import include, path
from django.views.generic import RedirectView

import chat.sockets  # noqa: F401  (its @async_view registers chat-ws)
from chat import views

urlpatterns = [
    path("", views.room_list, name="room-list"),
    path("rooms/<slug:slug>/", views.room_detail, name="room"),
    path("api/rooms/<slug:room>/messages/", views.recent_messages, name="api-messages"),
    path("api/messages/<int:pk>/", views.message_detail, name="api-message"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("aiodjango.urls")),  # chat-ws: ws/rooms/<slug:room>/
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}chat/favicon.svg")),
]
# --8<-- [end:urls]
