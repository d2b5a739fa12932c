"""Router micro-benchmark: the per-request cost of finding the view, without the network.

``python benchmarks/router.py`` builds two URLconfs of the same shape (10 and 1,000 patterns:
a regex first, apps under ``include()`` with converters and regexes, a converter-led
catch-all every ~100 patterns, flat pages, then converter-led catch-alls and one literal-led
route behind them) and prints, per path kind, the
best-of-rounds time of one ``Router.match`` call and its ratio to a static hit (a path that is
a pattern's whole literal route). A second table times aiohttp's whole
``app.router.resolve()`` on the application ``get_aio_application()`` builds, where every
view is a named async view, and a third the same lookups on an ``i18n_patterns`` URLconf.
Not a test: the numbers depend on the machine; the ratios are what to compare.
"""

from __future__ import annotations

import asyncio
import sys
import time
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROUNDS = 7
ROUND_SECONDS = 0.02


def _configure() -> None:
    settings.configure(
        SECRET_KEY="router-benchmark",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=[],
        ROOT_URLCONF="router_bench_10",
        USE_I18N=True,
        LANGUAGE_CODE="en",
        LANGUAGES=[("en", "English"), ("nl", "Dutch"), ("de", "German")],
        MIDDLEWARE=["django.middleware.locale.LocaleMiddleware"],
    )
    django.setup()


async def view(request: Any) -> Any:
    """Every pattern's view: an aiohttp handler, so every named pattern is a named async view."""
    raise NotImplementedError


# (label, path) per row; the first row is the reference the ratios divide by.
ROWS = [
    ("static hit (reference)", "about/"),
    ("first pattern (a regex)", "hello/"),
    ("literal-led with converters", "articles/2024/some-title/"),
    ("regex pattern", "archive/2024/05/"),
    ("converter-led", "some-page/"),
    ("literal-led behind converter-led", "registry/bob/"),
    ("miss", "nope/x/y/"),
]


def build(size: int) -> list[Any]:
    """A URLconf of ``size`` patterns (at least 10) with the rows' targets where ROWS says."""
    from django.urls import include, path, re_path

    head = [
        re_path(r"^hello/$", view, name="hello"),
        path("about/", view, name="about"),
        path("articles/<int:year>/<slug:slug>/", view, name="article"),
        re_path(r"^archive/(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$", view, name="archive"),
    ]
    tail = [
        path("<slug:page>/", view, name="page"),
        path("<slug:user>/<int:n>/", view, name="user-item"),
        path("registry/<str:name>/", view, name="registry"),
    ]
    middle: list[Any] = []
    budget = size - len(head) - len(tail)
    app = 0
    while budget >= 6:
        if app % 20 == 19:  # a user catch-all led by a converter every ~100 patterns
            middle.append(path(f"<slug:user>/tab{app}/", view, name=f"tab{app}"))
            budget -= 1
        crud = [
            path("", view, name="list"),
            path("new/", view, name="new"),
            path("<int:pk>/", view, name="detail"),
            path("<int:pk>/edit/", view, name="edit"),
            re_path(r"^(?P<slug>[-\w]+)/$", view, name="slug"),
        ]
        middle.append(path(f"app{app}/", include((crud, f"app{app}"))))
        budget -= len(crud)
        app += 1
    middle += [path(f"page{i}/", view, name=f"page{i}") for i in range(budget)]
    return [*head, *middle, *tail]


def build_i18n(size: int) -> list[Any]:
    """The same URLconf under ``i18n_patterns`` (every path then carries a language prefix)."""
    from django.conf.urls.i18n import i18n_patterns

    return list(i18n_patterns(*build(size)))


def _module(name: str, patterns: list[Any]) -> str:
    module = types.ModuleType(name)
    module.urlpatterns = patterns  # type: ignore[attr-defined]
    sys.modules[name] = module
    return name


def _calls(call: Callable[[], object]) -> int:
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    return max(100, int(ROUND_SECONDS / once))


def _best(call: Callable[[], object]) -> float:
    """Best of ROUNDS rounds of ~ROUND_SECONDS each, in microseconds per call."""
    calls = _calls(call)
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - start) / calls * 1e6)
    return best


def _best_async(make: Callable[[], Any]) -> float:
    async def rounds() -> float:
        start = time.perf_counter()
        await make()
        calls = max(100, int(ROUND_SECONDS / max(time.perf_counter() - start, 1e-7)))
        best = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in range(calls):
                await make()
            best = min(best, (time.perf_counter() - start) / calls * 1e6)
        return best

    return asyncio.run(rounds())


def _table(title: str, sizes: Iterable[int], measure: Callable[[int, str], float]) -> None:
    columns = [(size, [measure(size, path) for _, path in ROWS]) for size in sizes]
    print(f"\n{title}\n")
    header = "| path | " + " | ".join(f"{s:,} patterns: us | ratio" for s, _ in columns) + " |"
    print(header)
    print("|---|" + "---:|---:|" * len(columns))
    for i, (label, path) in enumerate(ROWS):
        cells = " | ".join(f"{us[i]:.2f} | {us[i] / us[0]:.1f}x" for _, us in columns)
        print(f"| {label} `{path}` | {cells} |")


def main() -> None:
    """Print the three tables."""
    _configure()
    from aiohttp.test_utils import make_mocked_request
    from django.urls import clear_url_caches, set_urlconf
    from django.utils import translation

    from aiodjango import get_aio_application
    from aiodjango.discovery import discover
    from aiodjango.registry import AsyncViewRegistry
    from aiodjango.routing import Router

    sizes = (10, 1000)
    urlconfs = {size: _module(f"router_bench_{size}", build(size)) for size in sizes}
    i18n = {size: _module(f"router_bench_i18n_{size}", build_i18n(size)) for size in sizes}
    routers = {size: Router(discover(urlconfs[size], mode="all")) for size in sizes}

    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        raise NotImplementedError

    apps = {}
    for size in sizes:
        set_urlconf(None)
        clear_url_caches()
        apps[size] = get_aio_application(wsgi, urlconf=urlconfs[size], registry=AsyncViewRegistry())
        apps[size].freeze()

    def match(size: int, path: str) -> float:
        router = routers[size]
        assert (router.match(path) is None) == path.startswith("nope/"), path
        return _best(lambda: router.match(path))

    def resolve(size: int, path: str) -> float:
        request = make_mocked_request("GET", "/" + path, app=apps[size])
        router = apps[size].router
        return _best_async(lambda: router.resolve(request))

    print(f"Python {sys.version.split()[0]}, Django {django.get_version()}; best of {ROUNDS}")
    _table("Router.match(path), one call", sizes, match)
    _table("app.router.resolve(request): aiohttp's whole lookup", sizes, resolve)

    routers_i18n = {size: Router(discover(i18n[size], mode="all")) for size in sizes}

    def match_i18n(size: int, path: str) -> float:
        router = routers_i18n[size]
        with translation.override("nl"):
            assert (router.match("nl/" + path) is None) == path.startswith("nope/"), path
            return _best(lambda: router.match("nl/" + path))

    _table(
        "Router.match('nl/' + path) on i18n_patterns, language nl active",
        sizes,
        match_i18n,
    )


if __name__ == "__main__":
    main()
