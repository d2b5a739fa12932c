"""Browser tests of the demo project (Playwright driving Debian's Chromium)."""
