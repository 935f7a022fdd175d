"""Headless Debian Chromium driven by Playwright, for the dashboard tests.

Never downloads a browser: Playwright's bundled driver talks to ``/usr/bin/chromium``.
Without it the tests skip with a reason, unless ``LORE_REQUIRE_BROWSER=1`` (CI), which
turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _need_browser(reason: str) -> None:
    if os.environ.get("LORE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (LORE_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (launching costs about a second).

    Module scope, not session: Playwright's sync API owns an event loop while it runs,
    and the async (pytest-asyncio) tests of other modules must not run inside it.
    """
    if not CHROMIUM.exists():
        _need_browser("Debian's chromium is not installed: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need_browser("the playwright Python package is not installed")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """A factory of pages in fresh browser contexts (separate cookie jars)."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None) -> Any:
        ctx = browser.new_context(viewport=viewport or DESKTOP)
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        def console(msg: Any) -> None:
            # 4xx pages the tests ask for on purpose log "Failed to load resource";
            # anything else (a CSP violation, a missing asset) is an error
            if msg.type == "error" and "Failed to load resource" not in msg.text:
                errors.append(msg.text)

        page.on("console", console)
        page.on(
            "requestfailed",
            # ERR_ABORTED: a navigation cancelled a load in flight (e.g. the favicon)
            lambda req: None
            if "ERR_ABORTED" in (req.failure or "")
            else errors.append(f"request failed: {req.url} {req.failure}"),
        )
        page.lore_errors = errors
        return page

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Any]:
    """Save full-page screenshots under the test's tmp dir and print their paths."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    saved: list[Path] = []

    def take(page: Any, name: str, full_page: bool = True) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        saved.append(path)
        return path

    yield take
    for path in saved:
        print(f"screenshot: {path}")
