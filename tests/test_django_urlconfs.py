"""The router agrees with ``django.urls.resolve()`` on Django's own URL test suites.

The URLconfs of ``tests/urlpatterns_reverse``, ``tests/urlpatterns`` and ``tests/i18n/patterns``
come from the source distribution of the installed Django version, fetched with pip at test
time (cached under ``~/.cache/aiodjango-tests``), not copied into this repository. They hold
what a hand-written corpus would miss: a URLconf that includes itself, translated routes and
``i18n_patterns`` with and without a prefixed default language, unanchored alternations,
every converter, namespaces and default kwargs. Paths: those written in Django's tests,
random paths drawn from each pattern's regex in each language, their reverse() round trips,
and mutations (trailing slash, changed characters, ``%XX``, non-ASCII, ``//``).
"""

from __future__ import annotations

import importlib
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern
from django.utils import translation

from aiodjango.discovery import Endpoint, discover
from aiodjango.routing import Router

SUITES = ("urlpatterns_reverse", "urlpatterns", "i18n/patterns")
LANGUAGES = ("en-us", "nl", "pt-br", "de", "fr")
SAMPLES_PER_ENDPOINT = 12
Outcome = tuple[Any, ...] | None


def _cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "aiodjango-tests" / f"django-{django.get_version()}"


def _fetch_django_tests() -> Path:
    """Django's test packages of the installed version, extracted once into the cache."""
    root = _cache_root()
    if (root / ".complete").exists():
        return root
    with tempfile.TemporaryDirectory() as download:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
            + [f"django=={django.get_version()}", "-d", download],
            capture_output=True,
            text=True,
            timeout=600,
        )
        archives = list(Path(download).glob("*.tar.gz"))
        if done.returncode or not archives:
            reason = f"Django's sdist is not reachable with pip: {done.stderr[-300:]}"
            if os.environ.get("CI"):  # CI must compare, never skip
                pytest.fail(reason)
            pytest.skip(reason)
        wanted = ("tests/i18n/__init__.py", *(f"tests/{suite}/" for suite in SUITES))
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                inner = member.name.partition("/")[2]
                if inner.startswith(wanted) and member.isfile():
                    target = root / inner.removeprefix("tests/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None
                    target.write_bytes(source.read())
    (root / ".complete").touch()
    return root


@pytest.fixture(scope="module")
def django_tests() -> Iterator[Path]:
    """Django's test packages on sys.path for this module's tests."""
    root = _fetch_django_tests()
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


def _urlconfs(root: Path) -> list[str]:
    names = []
    for suite in SUITES:
        for file in sorted((root / suite).rglob("*.py")):
            module = ".".join(file.relative_to(root).with_suffix("").parts)
            if "urls" in file.stem or file.parent.name == "urls":
                names.append(module)
    return names


def _test_paths(root: Path) -> set[str]:
    found: set[str] = set()
    for suite in SUITES:
        for file in (root / suite).rglob("test*.py"):
            found.update(re.findall(r"""['"](/[^'"\s]*)['"]""", file.read_text()))
    return found


def _regex_of(endpoint: Endpoint) -> str:
    """One regex for the whole chain, in the active language (for drawing samples)."""
    last = endpoint.urlpattern.pattern if endpoint.subtree is None else endpoint.subtree.pattern
    parts = []
    for pattern in (*(level.pattern for level in endpoint.levels), last):
        if isinstance(pattern, LocalePrefixPattern):
            parts.append(re.escape(pattern.language_prefix))
        elif isinstance(pattern, RoutePattern | RegexPattern):
            parts.append(pattern.regex.pattern.removeprefix("^"))
    return "".join(parts)


# A path drawn from a regex: re's own parser gives the tree, each node yields matching text.
_POOL = "abcxyzABZ0129-_.~/é日 "
_CATEGORIES = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_NOT_DIGIT": "abZ-_./é",
    "CATEGORY_WORD": "abzAZ019_é",
    "CATEGORY_NOT_WORD": "-./~ ",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "ab1-_./é",
}


def _class_chars(items: list[tuple[Any, Any]], rnd: random.Random) -> str:
    negate = bool(items) and str(items[0][0]) == "NEGATE"
    chars: set[str] = set()
    for op, value in items:
        name = str(op)
        if name == "LITERAL":
            chars.add(chr(value))
        elif name == "RANGE":
            chars.update(chr(rnd.randint(*value)) for _ in range(3))
        elif name == "CATEGORY":
            chars.update(_CATEGORIES.get(str(value), ""))
    if negate:
        chars = set(_POOL) - chars
    return rnd.choice(sorted(chars)) if chars else ""


def _draw(tree: Any, rnd: random.Random, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, value in tree:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(value))
        elif name == "NOT_LITERAL":
            out.append(rnd.choice([c for c in _POOL if ord(c) != value]))
        elif name == "ANY":
            out.append(rnd.choice(_POOL))
        elif name == "IN":
            out.append(_class_chars(value, rnd))
        elif name.endswith("REPEAT"):
            low, high, sub = value
            count = rnd.randint(low, min(high, low + 3))
            out.extend(_draw(sub, rnd, groups) for _ in range(count))
        elif name in {"SUBPATTERN", "ATOMIC_GROUP"}:
            group, sub = (value[0], value[3]) if name == "SUBPATTERN" else (None, value)
            text = _draw(sub, rnd, groups)
            if group:
                groups[group] = text
            out.append(text)
        elif name == "BRANCH":
            out.append(_draw(rnd.choice(value[1]), rnd, groups))
        elif name == "GROUPREF":
            out.append(groups.get(value, ""))
        elif name == "CATEGORY":
            out.append(rnd.choice(_CATEGORIES.get(str(value), "a")))
    return "".join(out)


def sample(regex: str, rnd: random.Random) -> str:
    """A string that (usually) matches ``regex``; anchors and lookarounds are ignored."""
    from re import _parser  # type: ignore[attr-defined]

    return _draw(_parser.parse(regex), rnd, {})


def _mutations(path: str, rnd: random.Random) -> list[str]:
    i = rnd.randrange(len(path)) if path else 0
    return [
        path[:-1] if path.endswith("/") else path + "/",
        path[:i] + rnd.choice("aZ0-_.~") + path[i + 1 :],
        path[:i] + rnd.choice(("%41", "%2F", "%E9", "%")) + path[i:],
        path[:i] + rnd.choice("éß日\u0301") + path[i:],
        path.replace("/", "//", 1),
        path + "x",
    ]


def _django(path: str, urlconf: str) -> Outcome:
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return None
    except Exception as exc:  # a converter may raise: ours must raise the same
        return ("error", type(exc))
    name = ":".join([*match.namespaces, match.url_name]) if match.url_name else None
    return match.func, tuple(match.args), match.kwargs, match.route, name


def _ours(router: Router, path: str) -> Outcome:
    try:
        found = router.match(path[1:]) if path.startswith("/") else None
    except Exception as exc:
        return ("error", type(exc))
    if found is None:
        return None
    endpoint, args, kwargs = found
    return endpoint.urlpattern.callback, args, kwargs, endpoint.route, endpoint.name


def _reverse_round_trip(outcome: Outcome, urlconf: str) -> str | None:
    if outcome is None or outcome[0] == "error" or outcome[4] is None:
        return None
    try:
        return reverse(outcome[4], urlconf, args=outcome[1] or None, kwargs=outcome[2] or None)
    except (NoReverseMatch, ValueError, TypeError):
        return None


def test_router_agrees_with_django_on_djangos_url_tests(
    django_tests: Path, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Router.match and resolve() agree path by path: same view, args, kwargs, route, name."""
    settings.USE_I18N = True
    settings.LANGUAGE_CODE = "en-us"
    settings.LANGUAGES = [(code, code) for code in ("en", "nl", "pt-br", "de", "fr")]
    settings.LOCALE_PATHS = [
        str(django_tests / "i18n/patterns/locale"),
        str(django_tests / "urlpatterns_reverse/translations/locale"),
    ]
    rnd = random.Random(14)
    from_tests = sorted(_test_paths(django_tests))
    counts = {"urlconfs": 0, "skipped": 0, "endpoints": 0, "compared": 0, "matched": 0}
    disagreements: list[str] = []
    for urlconf in _urlconfs(django_tests):
        try:
            importlib.import_module(urlconf)
            endpoints = discover(urlconf, mode="all")
        except Exception:  # Django's deliberately broken URLconfs: Django cannot load them either
            try:
                resolve("/", urlconf)
            except Resolver404:
                raise  # Django can resolve with it, so discover() must not fail
            except Exception:
                counts["skipped"] += 1
                continue
        router = Router(endpoints)
        counts["urlconfs"] += 1
        counts["endpoints"] += len(endpoints)
        for language in LANGUAGES:
            with translation.override(language):
                paths = set(from_tests)
                for endpoint in endpoints:
                    try:
                        regex = _regex_of(endpoint)
                    except ImproperlyConfigured:  # Django's invalid-regex case: paths still run
                        continue
                    for _ in range(SAMPLES_PER_ENDPOINT):
                        drawn = "/" + sample(regex, rnd)
                        paths.add(drawn)
                        paths.update(_mutations(drawn, rnd))
                for path in sorted(paths):
                    expected = _compare(router, path, urlconf, language, counts, disagreements)
                    trip = _reverse_round_trip(expected, urlconf)
                    if trip is not None and trip not in paths:
                        _compare(router, trip, urlconf, language, counts, disagreements)
    with capsys.disabled():
        print(f"\nDjango {django.get_version()} URL test corpus: {counts}")
    assert counts["urlconfs"] >= 30
    assert counts["matched"] > 1000
    assert disagreements == [], "\n".join(disagreements[:20])


def _compare(
    router: Router,
    path: str,
    urlconf: str,
    language: str,
    counts: dict[str, int],
    disagreements: list[str],
) -> Outcome:
    expected, got = _django(path, urlconf), _ours(router, path)
    counts["compared"] += 1
    counts["matched"] += expected is not None
    if got != expected:
        disagreements.append(f"{urlconf} [{language}] {path!r}: {got} != {expected}")
    return expected
