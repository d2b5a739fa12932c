"""A URLconf like a typical app's, not ours: literal, converter-led and regex patterns, an
``include()``, and the measured async routes (``hello/``, ``ws/echo/``) last.

None of the patterns before them matches ``/hello/`` or ``/ws/echo/``, so Django's own
``resolve()`` would walk all of them too.
"""

from __future__ import annotations

from django.urls import include, path, re_path

from . import views

blog = [
    path("", views.other, name="index"),
    path("<int:year>/<slug:slug>/", views.other, name="post"),
    path("tag/<str:tag>/", views.other, name="tag"),
]

urlpatterns = [
    path("", views.other, name="home"),
    path("about/", views.other, name="about"),
    path("accounts/login/", views.other, name="login"),
    path("accounts/<int:pk>/", views.other, name="account"),
    path("<slug:username>/profile/", views.other, name="profile"),
    path("<int:year>/<int:month>/", views.other, name="archive"),
    re_path(r"^articles/(?P<year>[0-9]{4})/$", views.other, name="articles"),
    re_path(r"^feeds/(?P<kind>rss|atom)\.xml$", views.other, name="feed"),
    path("blog/", include((blog, "blog"))),
    path("api/items/<uuid:pk>/", views.other, name="api-item"),
    path("search/", views.other, name="search"),
    path("django/hello/", views.django_hello, name="django-hello"),
    path("", include("aiodjango.urls")),  # hello/ and ws/echo/: last
]
