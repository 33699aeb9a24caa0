"""Drive the dashboard the way an officer does: the app served by waitress on 127.0.0.1 in a
background thread, Debian's Chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from tests.peers import peer_unavailable
from tests.waitress_thread import served_in_thread

if TYPE_CHECKING:  # playwright is imported only once Chromium is known to start (chromium_peer)
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"


def screenshot_dir() -> Path:
    """test-artifacts/dashboard/, or DASHBOARD_SCREENSHOTS (docs/img when refreshing the docs)."""
    return Path(os.environ.get("DASHBOARD_SCREENSHOTS") or ARTIFACTS)


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve `app` on a free port; yields its base URL and stops the server afterwards."""
    with served_in_thread(app, name="dashboard-waitress") as port:
        yield f"http://127.0.0.1:{port}"


@contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    """A headless Chromium; raises whatever Playwright raises when it cannot start."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def chromium_peer(*extra_args: str) -> Iterator[Browser]:
    """chromium() as a test peer: when it cannot start, peer_unavailable (a skip with the reason
    outside CI, a failure under CI=true)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        peer_unavailable("Playwright", str(error))
    if not Path(CHROMIUM).exists():
        peer_unavailable("Chromium", f"{CHROMIUM} is not installed")
    try:
        context = chromium(*extra_args)
        browser = context.__enter__()
    except Exception as error:
        peer_unavailable("Chromium", f"{type(error).__name__}: {error}")
    try:
        yield browser
    finally:
        context.__exit__(None, None, None)


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/dashboard/sign-in")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def screenshot(page: Page, name: str, directory: Path | None = None) -> Path:
    directory = directory or screenshot_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
