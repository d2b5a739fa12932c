"""The documentation site builds in strict mode and its API reference covers ``__all__``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import aiodjango

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by ``mkdocs build --strict`` (skipped without the docs group)."""
    pytest.importorskip("mkdocs", reason="pip install mkdocs-material mkdocstrings[python]")
    pytest.importorskip("mkdocstrings_handlers.python")
    site_dir = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return site_dir


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    """Each name of aiodjango.__all__ has its own entry (an anchor) on the API page."""
    html = (site / "api" / "index.html").read_text()
    anchors = set(re.findall(r'id="(aiodjango\.[\w.]+)"', html))
    missing = [name for name in aiodjango.__all__ if f"aiodjango.{name}" not in anchors]
    assert missing == []


def test_snippets_are_included(site: Path) -> None:
    """The tutorial shows the demo's real code, not an unresolved snippet marker."""
    html = (site / "tutorial" / "index.html").read_text()
    assert "--8&lt;--" not in html
    assert "chat_ws" in html
    assert "arecent_messages" in html


def test_screenshots_are_shown(site: Path) -> None:
    """The demo's screenshots (made by the browser test) are in the site and on its pages."""
    for name in ("demo-desktop.png", "demo-phone.png"):
        assert (site / "img" / name).stat().st_size > 10_000
    assert "img/demo-desktop.png" in (site / "index.html").read_text()
    assert "img/demo-phone.png" in (site / "tutorial" / "index.html").read_text()


def test_quickstart_is_in_the_nav(site: Path) -> None:
    """The Quickstart page is built and linked from the navigation."""
    html = (site / "quickstart" / "index.html").read_text()
    assert "from <code>startproject</code> to a websocket" in html
    assert 'href="quickstart/"' in (site / "index.html").read_text()
