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
