"""Headless Debian Chromium, driven by Playwright, against a dev stack started for the tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import RunningStack, launch_dev_stack, stop_dev_stack

FUNCTIONS = Path(__file__).parent / "functions"
TIME_SCALE = "0.05"  # retry delays of 1 s take 50 ms; a Wait of 10 h still outlasts a test
CHROMIUM = os.environ.get("STEPLINE_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network: no background calls home, no sandbox (CI runs as root).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    """``stepline dev`` with the examples and this folder's functions, on free ports."""
    running = launch_dev_stack("--functions", str(FUNCTIONS), "--time-scale", TIME_SCALE)
    yield running
    stop_dev_stack(running)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium (installed by .ci/run), launched headless once per session."""
    if not (shutil.which(CHROMIUM) or os.path.isfile(CHROMIUM)):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, stack: RunningStack) -> Iterator[Page]:
    """A fresh page on the console; fails the test if the page throws."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=stack.url)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert not errors, f"the console threw: {errors}"
