"""A URLconf mixing Django views and aiohttp views in overlapping patterns."""

from __future__ import annotations

from django.urls import include, path, re_path, register_converter

from . import views


class EvenConverter:
    """Accepts digits, but to_python refuses odd numbers: Django then tries the next pattern."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        if int(value) % 2:
            raise ValueError(f"{value} is odd")
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(EvenConverter, "even")

api_patterns = [
    path("items/<int:pk>/", views.aio_args, name="item"),
    path("items/<slug:slug>/", views.django_args, name="item-slug"),
    re_path(r"^legacy/(\d+)/(\w+)/$", views.aio_args, name="legacy"),
    path("nested/", include(([path("<uuid:key>/", views.aio_args, name="deep")], "inner"))),
]

versioned_patterns = [
    path("status/", views.aio_args, name="status"),
    re_path(r"^ids/(\d+)/$", views.django_args, name="ids"),
    path("<path:rest>", views.django_args, name="version-rest"),
]

section_patterns = [
    re_path(r"^(?P<page>\d+)/$", views.aio_args, name="section-page"),
    re_path(r"^(\d+)/(\d+)/$", views.aio_args, name="section-pos"),
    path("<str:slug>/", views.django_args, name="section-slug"),
]

urlpatterns = [
    re_path(r"^hello/$", views.hello, name="async-hello"),
    path("django/", views.django_args, name="django-plain"),
    path("items/<int:pk>/", views.aio_args, name="aio-item"),
    path("items/<slug:slug>/", views.django_args, name="django-item-slug"),
    path("items/new/", views.aio_args, name="aio-shadowed"),
    re_path(r"^legacy/(\d+)/(\w+)/$", views.aio_args, name="legacy-positional"),
    re_path(r"^legacy/(?P<year>\d{4})/(\d+)/$", views.django_args, name="legacy-mixed"),
    re_path(r"^files/(?P<name>[\w.-]+)$", views.aio_args, name="files"),
    re_path(r"^fil(?P<tail>\w+)/$", views.django_args, name="fil-prefix"),
    path("api/", include((api_patterns, "api"), namespace="api")),
    path("v<int:version>/", include(versioned_patterns), {"extra": "yes"}),
    re_path(r"^re/(?P<section>[a-z]+)/", include(section_patterns)),
    re_path(r"^pos/(\d+)/", include(section_patterns)),
    path("native/", views.native_async, name="native"),
    path("", include("aiodjango.urls")),
    path("", include("tests.ws_urls")),
    path("u/<str:name>/", views.unicode_name, name="unicode"),
    path("cookies/", views.cookies),
    path("stream/", views.stream),
    path("download/", views.big_file),
    path("slow/", views.slow),
    path("thread/", views.thread_name),
    path("sync-boom/", views.sync_boom),
    path("echo-json/", views.echo_json),
    path("async-boom/", views.boom, name="async-boom"),
    path("teapot/", views.teapot),
    path("hang/", views.hang),
    path("echo-body/", views.echo_body, name="echo-body"),
    path("url-for/", views.url_for_view, name="url-for"),
    path("not-found/", views.not_found),
    path("mutating/", views.mutating, {"fixed": 1}),
    path("template-urls/", views.template_urls),
    re_path(r"^any/(?P<a>x|y)/(?P<b>.*)$", views.aio_args, name="alternation"),
    path("<even:n>/even/", views.aio_args, name="even"),
    path("<int:n>/even/", views.django_args, name="odd"),
    re_path(r"^(?P<w>[a-z])(?P=w)/twice/$", views.aio_args, name="backref"),
    re_path(r"^(?:ab|AB)[]()x]/(?=\d)(\d+)/$", views.aio_args, name="classy"),
    re_path(r"(?P<anywhere>zz)/$", views.django_args, name="unanchored"),
    path("<slug:first>/<int:second>/", views.aio_args, name="catch-two"),
    path("<slug:first>/", views.django_args, name="catch-one"),
]
