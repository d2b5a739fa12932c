"""Dispatch follows Django's resolution order and arguments exactly (a differential test)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from django.urls import Resolver404, resolve
from hypothesis import given, settings
from hypothesis import strategies as st

from aiodjango.discovery import discover
from aiodjango.patterns import literal_prefix
from aiodjango.registry import default_registry
from aiodjango.routing import Router

SEGMENTS = [
    "hello",
    "django",
    "items",
    "new",
    "abc",
    "12",
    "007",
    "legacy",
    "2024",
    "x",
    "y",
    "api",
    "nested",
    "v1",
    "v22",
    "status",
    "ids",
    "re",
    "pos",
    "files",
    "fil",
    "filez",
    "any",
    "u",
    "registry",
    "native",
    "a.b",
    "été",
    "-",
    "_",
    "0",
    "9999",
    "Z",
    "ws-tests",
    "0b9e2c4a-1f6d-4c1e-9d43-3a6f0e7c8b21",
    "even",
    "twice",
    "aa",
    "ab",
    "zz",
    "AB)",
    "ab]",
    "3",
    "4",
    "q",
    "xzz",
]
EDGE_PATHS = [
    *("/4/even/", "/3/even/", "/aa/twice/", "/ab/twice/", "/AB)/12/", "/ab]/12/", "/abx/1/"),
    *("/ab(/x/", "/qzz/", "/x/zz/", "/zz/"),
    "/",
    "/hello/",
    "/hello",
    "/items/3/",
    "/items/abc/",
    "/items/new/",
    "/items/-1/",
    "/legacy/12/ab/",
    "/legacy/2024/7/",
    "/legacy/202/7/",
    "/api/items/4/",
    "/api/items/x/",
    "/api/legacy/1/z/",
    "/api/nested/0b9e2c4a-1f6d-4c1e-9d43-3a6f0e7c8b21/",
    "/api/nested/nope/",
    "/v2/status/",
    "/v2/ids/7/",
    "/v2/anything/else",
    "/vx/status/",
    "/re/abc/12/",
    "/re/abc/1/2/",
    "/re/abc/slug/",
    "/re/ABC/12/",
    "/pos/5/12/",
    "/pos/5/1/2/",
    "/pos/5/s/",
    "/files/a.txt",
    "/files/a.txt/",
    "/filez/",
    "/fil/",
    "/any/x/rest/of/it",
    "/any/z/1",
    "/registry/bob/",
    "/native/",
    "/u/été/",
    "/abc/",
    "/abc/12/",
    "/abc/12",
    "//",
    "/a//b/",
]


def _router() -> Router:
    return Router(discover(mode="annotated", registry=default_registry))


def _django(path: str) -> tuple[Any, tuple[Any, ...], dict[str, Any]] | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.func, tuple(match.args), match.kwargs


def _ours(router: Router, path: str) -> tuple[Any, tuple[Any, ...], dict[str, Any]] | None:
    found = router.match(path[1:])
    if found is None:
        return None
    endpoint, args, kwargs = found
    return endpoint.urlpattern.callback, args, kwargs


@pytest.mark.parametrize("path", EDGE_PATHS)
def test_edge_paths_match_django(path: str) -> None:
    """Hand-picked overlapping paths resolve to Django's view and arguments."""
    assert _ours(_router(), path) == _django(path)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(SEGMENTS) | st.text(max_size=4), min_size=0, max_size=4),
    st.booleans(),
)
def test_generated_paths_match_django(parts: list[str], trailing: bool) -> None:
    """Generated paths resolve exactly as django.urls.resolve() says."""
    path = "/" + "/".join(parts) + ("/" if trailing and parts else "")
    assert _ours(_router(), path) == _django(path)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"^hello/$", ("hello/", False)),
        (r"^a\.b/(?P<x>\d+)/$", ("a.b/", False)),
        (r"^ab?c/$", ("a", False)),
        (r"^x|y/$", ("", False)),
        (r"^(?:x|y)/$", ("", False)),
        (r"^files/", ("files/", True)),
        (r"hello/$", ("", False)),
        (r"^fil(?P<tail>\w+)/$", ("fil", False)),
    ],
)
def test_literal_prefix_of_regexes(pattern: str, expected: tuple[str, bool]) -> None:
    """The index key of a regex is only text every match must start with."""
    from django.urls.resolvers import RegexPattern

    assert literal_prefix(RegexPattern(pattern)) == expected


def test_trailing_dollar_of_an_endpoint_is_a_complete_literal() -> None:
    """^about/$ ends a view's chain: Django fullmatches it, so it is a static route."""
    from django.urls.resolvers import RegexPattern

    assert literal_prefix(RegexPattern(r"^about/$"), endpoint=True) == ("about/", True)
    assert literal_prefix(RegexPattern(r"^about/\$"), endpoint=True) == ("about/$", True)
    assert literal_prefix(RegexPattern(r"^about/$")) == ("about/", False)  # an include()
    assert literal_prefix(RegexPattern(r"^a|b/$"), endpoint=True) == ("", False)


async def test_server_dispatch_matches_resolve(aio_client: TestClient[Any, Any]) -> None:
    """Over a real server, the view that answers and its arguments are resolve()'s."""
    for path in EDGE_PATHS:
        expected = _django(path)
        if expected is None or expected[0].__name__ not in {"aio_args", "django_args"}:
            continue
        response = await aio_client.get(path)
        assert response.status == 200, path
        body = await response.json()
        server = "aiohttp" if expected[0].__name__ == "aio_args" else "django"
        assert body["server"] == server, path
        assert body["args"] == [a if isinstance(a, int | str) else str(a) for a in expected[1]]
        assert body["kwargs"] == {
            k: v if isinstance(v, int | str) else str(v) for k, v in expected[2].items()
        }


I18N_URLCONF = "tests.urls_i18n"
I18N_LANGUAGES = [("en", "English"), ("nl", "Dutch"), ("de", "German")]
I18N_PATHS = [
    *("/xb/", "/a/", "/ab/", "/zb/q", "/word/", "/b/", "/Dutch/5/", "/Nederlands/5/", "/nl/lang/"),
    *("/Niederländisch/5/", "/plain/5/", "/n/007/", "/lang/", "/nl/lang/", "/de/lang/"),
    *("/en/lang/", "/self/leaf/1/", "/self/again/again/leaf/2/", "/self/again/x/"),
]


@pytest.mark.parametrize("language", ["en", "nl", "de"])
def test_special_patterns_match_django(settings: Any, language: str) -> None:
    """Unanchored alternation, translated routes, i18n_patterns, a self-include: as resolve()."""
    from django.utils import translation

    settings.LANGUAGES = I18N_LANGUAGES
    settings.LANGUAGE_CODE = "en"
    router = Router(discover(I18N_URLCONF, mode="annotated"))
    assert router.language_dependent
    with translation.override(language):
        for path in I18N_PATHS:
            found = router.match(path[1:])
            ours = None if found is None else (found[0].urlpattern.callback, *found[1:])
            try:
                match = resolve(path, I18N_URLCONF)
                django = (match.func, tuple(match.args), match.kwargs)
            except Resolver404:
                django = None
            assert ours == django, path
            if found is not None:
                assert found[0].route == match.route, path


def test_route_drops_nested_carets() -> None:
    """Endpoint.route is ResolverMatch.route: the ^ of nested regexes is dropped."""
    router = _router()
    found = router.match("re/abc/12/")
    assert found is not None
    assert (
        found[0].route == resolve("/re/abc/12/").route == "^re/(?P<section>[a-z]+)/(?P<page>\\d+)/$"
    )


def test_self_including_urlconf_is_walked_once() -> None:
    """discover() stops at the cycle and leaves that include to lazy resolution."""
    endpoints = discover("tests.urls_i18n_self")
    assert [e.route for e in endpoints] == ["leaf/<int:pk>/", "again/"]
    assert endpoints[1].subtree is not None
    found = Router(endpoints).match("again/again/leaf/4/")
    assert found is not None
    assert (found[0].index, found[0].route, found[2]) == (
        0,
        "again/again/leaf/<int:pk>/",
        {"pk": 4},
    )


async def _get(
    settings: Any, locale: bool, path: str, urlconf: str = I18N_URLCONF, **headers: str
) -> tuple[int, str]:
    from aiodjango import get_aio_application
    from aiodjango.testing import serve

    settings.ROOT_URLCONF = urlconf
    settings.LANGUAGES = I18N_LANGUAGES
    settings.LANGUAGE_CODE = "en"
    if locale:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.locale.LocaleMiddleware"]
    async with serve(get_aio_application()) as client:
        response = await client.get(path, headers=headers)
        return response.status, await response.text()


@pytest.mark.parametrize(
    ("path", "headers", "locale", "expected"),
    [
        ("/nl/lang/", {}, True, "nl"),
        ("/de/lang/", {"Cookie": "django_language=nl"}, True, "de"),  # the path decides
        ("/en/lang/", {"Accept-Language": "nl"}, False, "en"),  # no LocaleMiddleware
    ],
)
async def test_async_view_runs_in_the_request_language(
    settings: Any, path: str, headers: dict[str, str], locale: bool, expected: str
) -> None:
    """The language LocaleMiddleware would pick is active in the async view."""
    assert await _get(settings, locale, path, **headers) == (200, expected)


async def test_unprefixed_default_language(settings: Any) -> None:
    """prefix_default_language=False: an unprefixed path is in LANGUAGE_CODE, as Django says."""
    urlconf = "tests.urls_i18n_unprefixed"
    got = await _get(settings, True, "/lang/", urlconf, **{"Accept-Language": "de"})
    assert got == (200, "en")
    assert await _get(settings, True, "/nl/lang/", urlconf) == (200, "nl")


@pytest.mark.parametrize(
    ("path", "headers", "locale", "served"),
    [
        ("/Nederlands/5/", {"Accept-Language": "nl"}, True, True),
        ("/Dutch/5/", {"Accept-Language": "nl"}, True, False),
        ("/Nederlands/5/", {"Cookie": "django_language=nl"}, True, True),
        ("/Dutch/5/", {"Accept-Language": "nl"}, False, True),
        ("/Niederländisch/5/", {"Accept-Language": "de-at,nl;q=0.5"}, True, True),
    ],
)
async def test_translated_route_follows_the_request_language(
    settings: Any, path: str, headers: dict[str, str], locale: bool, served: bool
) -> None:
    """A translated route matches in the request's language, as Django resolves it."""
    status, body = await _get(settings, locale, path, **headers)
    assert status in {200, 404}
    assert (status == 200 and '"aiohttp"' in body) is served, body


async def test_match_info_holds_the_text_of_the_url(settings: Any) -> None:
    """match_info maps names to the URL's text ('007'); kwargs are Django's (7, extra)."""
    import json

    status, body = await _get(settings, False, "/n/007/")
    data = json.loads(body)
    assert status == 200
    assert data["match_info"] == {"pk": "007"}
    assert data["kwargs"] == {"pk": 7, "extra": "yes"}
