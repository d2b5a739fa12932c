"""The demo project (demo/) works: pages, login, websocket chat, history and the JSON API.

The demo has its own settings, so ``tests/demo_probe.py`` serves it in a subprocess through
``aiodjango.testing.serve`` with real HTTP and websocket clients, on a fresh database, and
reports what it saw; each test below checks one behaviour of that run. It runs twice: on SQLite
(the default) and on PostgreSQL through ``DATABASE_URL`` (skipped when psycopg is missing or no
server answers at ``AIODJANGO_TEST_POSTGRES``, default postgres://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("AIODJANGO_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty database for the demo: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
        return
    psycopg = pytest.importorskip("psycopg", reason="the PostgreSQL run needs psycopg")
    name = f"aiodjango_demo_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def seen(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One probe run of the demo: the observations it printed."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DATABASE_URL": database_url,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "demo"), str(ROOT)]),
    }
    env["DJANGO_DEBUG"] = "0"  # as in production: the 404 template, STATIC_ROOT served
    env["DJANGO_STATIC_ROOT"] = str(tmp_path_factory.mktemp("static"))
    run = subprocess.run(
        [sys.executable, "-W", "error", "-m", "tests.demo_probe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, f"probe failed:\n{run.stdout}\n{run.stderr}"
    line = next(line for line in run.stdout.splitlines() if line.startswith("PROBE "))
    observations: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    observations["stdout"] = run.stdout
    return observations


def test_createdemo_prints_the_credentials(seen: dict[str, Any]) -> None:
    """createdemo prints both demo users with their passwords."""
    assert "alice / alice-demo-pw" in seen["stdout"]
    assert "bob / bob-demo-pw" in seen["stdout"]


def test_anonymous_is_sent_to_login(seen: dict[str, Any]) -> None:
    """Pages redirect anonymous users to Django's login view, with next=."""
    assert seen["anonymous_root"] == [302, "/accounts/login/?next=/"]
    assert seen["anonymous_room"] == [302, "/accounts/login/?next=/rooms/lobby/"]


def test_anonymous_cannot_use_api_or_websocket(seen: dict[str, Any]) -> None:
    """The async API answers 403 and the websocket is refused without a session."""
    assert seen["anonymous_api"][0] == 403
    assert seen["anonymous_ws"] == ["refused", 403]


def test_login_through_django_auth_views(seen: dict[str, Any]) -> None:
    """Django's LoginView (sync, through the bridge) logs both users in."""
    assert seen["login_alice"] == [302, "/"]
    assert seen["login_bob"] == [302, "/"]


def test_room_list_links_rooms_with_url_tag(seen: dict[str, Any]) -> None:
    """The room list links the migration's rooms with {% url %}, sorted ignoring case."""
    status, html = seen["room_list"]
    assert status == 200
    links = re.findall(r'href="/rooms/([\w-]+)/"', html)
    assert links == ["aiohttp", "django", "lobby"]  # "aiohttp" < "Django" < "Lobby"


def test_friendly_404_with_debug_off(seen: dict[str, Any]) -> None:
    """An unknown room is the demo's own 404 page (DEBUG off), not Django's technical one."""
    status, html = seen["friendly_404"]
    assert status == 404
    assert "Nothing here" in html
    assert 'href="/"' in html  # back to the rooms


def test_static_files_and_favicon(seen: dict[str, Any]) -> None:
    """With DEBUG off the collected CSS, JS and favicon are served; /favicon.ico redirects."""
    assert seen["static_chat.css"] == [200, "text/css"]
    assert seen["static_chat.js"][0] == 200
    assert seen["static_chat.js"][1] in {"text/javascript", "application/javascript"}
    assert seen["static_favicon.svg"] == [200, "image/svg+xml"]
    assert seen["favicon"] == [302, "/static/chat/favicon.svg"]


def test_room_page_has_websocket_url(seen: dict[str, Any]) -> None:
    """The room page's ws_url tag gives the absolute ws:// URL of the chat-ws view."""
    status, html = seen["room_page"]
    assert status == 200
    assert f'data-ws-url="{seen["ws_url"]}"' in html
    assert seen["missing_room_page"] == 404


def test_messages_are_broadcast_both_ways(seen: dict[str, Any]) -> None:
    """A message reaches its sender and the other user, in both directions, stripped."""
    history = seen["history_on_join"]
    assert (history["type"], history["messages"]) == ("history", [])
    assert isinstance(history["worker"], int)  # the serving process, for multi-worker tests
    own, bobs_copy = seen["alice_sees_own"], seen["bob_sees_alice"]
    assert own == bobs_copy
    assert own["type"] == "message"
    assert (own["message"]["user"], own["message"]["text"]) == ("alice", "hello bob")
    assert seen["alice_sees_bob"]["message"]["user"] == "bob"
    assert seen["alice_sees_bob"]["message"]["text"] == "hi alice"
    assert seen["alice_sees_bob"]["message"]["seq"] == own["message"]["seq"] + 1


def test_messages_with_an_id_are_acknowledged_once(seen: dict[str, Any]) -> None:
    """A message with a client id is acknowledged with the stored message; sending the same id
    again (a resend after a reconnect) acknowledges the same message and stores nothing new."""
    ack = seen["alice_ack"]
    assert ack == {"type": "ack", "id": "alice-1", "message": seen["alice_sees_own"]["message"]}
    assert seen["resend_ack"] == ack
    assert [m["text"] for m in seen["api"][1]["messages"]] == ["hello bob", "hi alice"]


def test_presence_lists_who_is_in_the_room(seen: dict[str, Any]) -> None:
    """Each join and leave sends the room's sorted user list, with a growing version."""
    both, after = seen["presence_both"], seen["presence_after_bob_left"]
    assert both["users"] == ["alice", "bob"]
    assert after["users"] == ["alice"]
    assert after["version"] > both["version"]


def test_bad_frames_get_errors_and_are_not_stored(seen: dict[str, Any]) -> None:
    """Non-JSON, blank, too long, badly identified and binary frames get an error each, with
    the frame's client id when it had a valid one."""
    errors = seen["frame_errors"]
    assert [e["type"] for e in errors] == ["error"] * 5
    assert "JSON" in errors[0]["error"]
    assert "non-empty" in errors[1]["error"]
    assert errors[1]["id"] == "alice-2"
    assert "at most 1000" in errors[2]["error"]
    assert '"id" must be a string' in errors[3]["error"]
    assert "text frames" in errors[4]["error"]
    assert [m["text"] for m in seen["api"][1]["messages"]] == ["hello bob", "hi alice"]


def test_history_on_rejoin(seen: dict[str, Any]) -> None:
    """Joining again sends the stored messages, oldest first; ?after=N only those after N."""
    history = seen["history_on_rejoin"]
    assert history["type"] == "history"
    assert [(m["user"], m["text"]) for m in history["messages"]] == [
        ("alice", "hello bob"),
        ("bob", "hi alice"),
    ]
    assert [m["text"] for m in seen["history_after"]["messages"]] == ["hi alice"]


def test_unknown_room_websocket_closes_4404(seen: dict[str, Any]) -> None:
    """A websocket for a room that does not exist is closed with 4404."""
    assert seen["missing_room_ws"] == 4404


def test_json_api_recent_messages(seen: dict[str, Any]) -> None:
    """The discovered async view returns recent messages and validates ?limit=."""
    status, body = seen["api"]
    assert status == 200
    assert body["room"] == "lobby"
    assert seen["api_limit_1"][0] == 200
    assert [m["text"] for m in seen["api_limit_1"][1]["messages"]] == ["hi alice"]
    assert seen["api_limit_0"][0] == 400
    assert "from 1 to 50" in seen["api_limit_0"][1]["error"]
    assert seen["api_limit_text"][0] == 400
    assert seen["api_missing_room"][0] == 404


def test_json_api_message_detail(seen: dict[str, Any]) -> None:
    """<int:pk> reaches the async view converted; non-integers fall through to Django's 404."""
    status, body = seen["api_message"]
    assert status == 200
    assert body["text"] == "hello bob"
    assert seen["api_missing_message"][0] == 404
    assert seen["api_message_not_int"] == 404


def test_logout_through_django(seen: dict[str, Any]) -> None:
    """Django's LogoutView (POST) logs out, closes the user's open chat socket (4001), and the
    pages redirect to login again."""
    assert seen["logout"] == [302, "/accounts/login/"]
    assert seen["logout_closes_ws"] == 4001
    assert seen["after_logout_root"] == [302, "/accounts/login/?next=/"]
