"""The demo chat in a real browser: live chat, presence, chat across 2 gunicorn workers,
history, reconnects, logged-out tabs, screenshots.

The screenshots of the docs (docs/img/demo-desktop.png, demo-phone.png) are made here.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

    from .conftest import DemoServer

TIMEOUT_MS = 20_000


async def log_in(
    browser: Browser, base: str, username: str, width: int = 1280, height: int = 720
) -> Page:
    """A new browser context (its own cookies) logged in through Django's login form."""
    phone = width < 600
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    await page.goto(f"{base}/")
    await page.fill("#id_username", username)
    await page.fill("#id_password", f"{username}-demo-pw")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")
    return page


async def join(page: Page, base: str, room: str) -> None:
    """Open a room from the room list (a {% url %} link) and wait for its history."""
    await page.click(f'a[href="/rooms/{room}/"]')
    await page.wait_for_url(f"{base}/rooms/{room}/")
    await page.wait_for_selector('#chat[data-joined="true"]')


async def say(page: Page, text: str) -> None:
    """Type a message and press Enter."""
    await page.fill("#text", text)
    await page.press("#text", "Enter")


# --8<-- [start:chat]
async def test_two_users_chat_live(browser: Browser, demo_server: str, artifacts: Path) -> None:
    """Alice and Bob see each other's messages without reloading; a reload shows history."""
    from playwright.async_api import expect

    alice = await log_in(browser, demo_server, "alice")
    bob = await log_in(browser, demo_server, "bob")
    await expect(alice.locator("#whoami")).to_have_text("alice")
    await join(alice, demo_server, "lobby")
    await join(bob, demo_server, "lobby")
    # A page that reloads loses this flag: its survival proves the messages came live.
    for page in (alice, bob):
        await page.evaluate("window.stillTheSamePage = true")

    tag = uuid.uuid4().hex[:8]
    from_alice, from_bob = f"Hello Bob ({tag})", f"Hi Alice ({tag})"
    await say(alice, from_alice)
    await expect(bob.locator("#messages li", has_text=from_alice)).to_contain_text("alice")
    await say(bob, from_bob)
    await expect(alice.locator("#messages li", has_text=from_bob)).to_contain_text("bob")
    await expect(alice.locator("#messages li", has_text=from_alice)).to_be_visible()
    for page in (alice, bob):
        assert await page.evaluate("window.stillTheSamePage") is True

    await bob.reload()
    await bob.wait_for_selector('#chat[data-joined="true"]')
    assert await bob.evaluate("window.stillTheSamePage") is None
    lines = bob.locator("#messages li")
    await expect(lines.filter(has_text=tag)).to_have_count(2)
    texts = await lines.filter(has_text=tag).locator(".text").all_inner_texts()
    assert texts == [from_alice, from_bob]

    await alice.screenshot(path=str(artifacts / "e2e-chat-alice.png"), full_page=True)
    await bob.screenshot(path=str(artifacts / "e2e-chat-bob.png"), full_page=True)


# --8<-- [end:chat]


async def test_two_users_chat_across_two_workers(browser: Browser, demo_cluster: str) -> None:
    """Under gunicorn with 2 workers and Redis, alice and bob on different workers (forced:
    bob's page reloads until its socket is served by the other worker) see each other's
    messages and each other in the Online list."""
    from playwright.async_api import expect

    alice = await log_in(browser, demo_cluster, "alice")
    bob = await log_in(browser, demo_cluster, "bob")
    await join(alice, demo_cluster, "lobby")
    await join(bob, demo_cluster, "lobby")
    alice_worker = await alice.locator("#chat").get_attribute("data-worker")
    for _ in range(40):
        if await bob.locator("#chat").get_attribute("data-worker") != alice_worker:
            break
        await bob.reload()
        await bob.wait_for_selector('#chat[data-joined="true"]')
    bob_worker = await bob.locator("#chat").get_attribute("data-worker")
    assert alice_worker and bob_worker and alice_worker != bob_worker

    await expect(alice.locator("#online-users li")).to_have_text(["alice (you)", "bob"])
    await expect(bob.locator("#online-users li")).to_have_text(["alice", "bob (you)"])
    tag = uuid.uuid4().hex[:8]
    await say(alice, f"From worker {alice_worker} ({tag})")
    await expect(bob.locator("#messages li", has_text=tag)).to_contain_text("alice")
    await say(bob, f"From worker {bob_worker} ({tag})")
    await expect(alice.locator("#messages li", has_text=f"{bob_worker} ({tag})")).to_be_visible()
    for page in (alice, bob):
        await expect(page.locator("#chat")).to_have_attribute("data-pending", "0")
    await bob.context.close()
    await expect(alice.locator("#online-users li")).to_have_text(["alice (you)"])


async def test_logout_in_another_tab_closes_the_chat(browser: Browser, demo_server: str) -> None:
    """Logging out in another tab closes this tab's chat (4001): it says so, disables the
    input, stops showing the user, links to the login page, and does not reconnect."""
    from playwright.async_api import expect

    room = await log_in(browser, demo_server, "alice")
    await join(room, demo_server, "django")
    await expect(room.locator("#text")).to_be_enabled()
    other_tab = await room.context.new_page()
    await other_tab.goto(f"{demo_server}/")
    await other_tab.click("form.logout button")
    await other_tab.wait_for_url(re.compile(r"/accounts/login/$"))
    await expect(room.locator("#chat")).to_have_attribute("data-state", "disconnected")
    await expect(room.locator("#status")).to_contain_text("You are logged out")
    await expect(room.locator("#status a")).to_have_attribute(
        "href", "/accounts/login/?next=/rooms/django/"
    )
    await expect(room.locator("#text")).to_be_disabled()
    await expect(room.locator("#send button")).to_be_disabled()
    await expect(room.locator("#whoami")).to_have_count(0)


async def test_reconnects_after_a_server_restart(browser: Browser, demo: DemoServer) -> None:
    """When the server restarts, the room shows "Reconnecting in N s", then reconnects by
    itself and chats again, without a reload."""
    from playwright.async_api import expect

    page = await log_in(browser, demo.base, "bob")
    await join(page, demo.base, "lobby")
    await page.evaluate("window.stillTheSamePage = true")
    demo.stop()
    try:
        await expect(page.locator("#chat")).to_have_attribute("data-state", "reconnecting")
        await expect(page.locator("#status")).to_contain_text(re.compile(r"Reconnecting"))
        await expect(page.locator("#text")).to_be_disabled()
    finally:
        demo.start()
    await expect(page.locator("#chat")).to_have_attribute("data-state", "connected", timeout=60_000)
    await expect(page.locator("#status")).to_have_text("Connected")
    text = f"Back after the restart ({uuid.uuid4().hex[:8]})"
    await say(page, text)
    await expect(page.locator("#messages li.own", has_text=text)).to_be_visible()
    assert await page.evaluate("window.stillTheSamePage") is True


CONVERSATION = (
    ("alice", "Hi Bob! Is the new release out?"),
    ("bob", "Almost: the websocket tests are green, static files too."),
    ("alice", "Nice. Does it work with gunicorn?"),
    ("bob", "Yes, and with python -m aiodjango. One server, Django views and websockets."),
    ("alice", "Then let's ship it today."),
)


async def test_screenshots_for_the_docs(
    browser: Browser, demo_server: str, docs_images: Path
) -> None:
    """A conversation in the aiohttp room, photographed at desktop (1280) and phone (390)
    widths for the docs; own messages are marked as such, both users are online."""
    from playwright.async_api import expect

    alice = await log_in(browser, demo_server, "alice", 1280, 640)
    bob = await log_in(browser, demo_server, "bob", 390, 760)
    await join(alice, demo_server, "aiohttp")
    await join(bob, demo_server, "aiohttp")
    pages = {"alice": alice, "bob": bob}
    for user, text in CONVERSATION:
        await say(pages[user], text)
        for page in pages.values():
            await expect(page.locator("#messages li", has_text=text)).to_be_visible()
    await expect(alice.locator("#messages li.own")).to_have_count(3)
    await expect(bob.locator("#messages li.own")).to_have_count(2)
    for page in pages.values():  # the Online list is in the pictures
        await expect(page.locator("#online-users li")).to_have_count(2)
    for page in pages.values():
        await page.locator("#text").blur()
    await alice.screenshot(path=str(docs_images / "demo-desktop.png"))
    await bob.screenshot(path=str(docs_images / "demo-phone.png"))


async def test_anonymous_is_redirected_to_login(browser: Browser, demo_server: str) -> None:
    """A browser without a session asking for a room lands on Django's login page."""
    from playwright.async_api import expect

    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{demo_server}/rooms/lobby/", timeout=TIMEOUT_MS)
    await expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/rooms/lobby/$"))
    await expect(page.locator("h1")).to_have_text("Log in")
