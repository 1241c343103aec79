"""Headless Debian Chromium, driven by Playwright, against a dev stack started for the tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import READY, STARTUP_DEADLINE, RunningStack, free_port

ROOT = Path(__file__).parents[2]
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
    port, aws_port = free_port(), free_port()
    command = [sys.executable, "-m", "stepline", "dev", "--port", str(port)]
    command += ["--aws-port", str(aws_port), "--functions", str(FUNCTIONS)]
    command += ["--time-scale", TIME_SCALE]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith(READY):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + STARTUP_DEADLINE
    while not ready.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("dev stack did not start:\n" + "\n".join(lines))
    url = next(line for line in lines if line.startswith(READY))[len(READY) :]
    yield RunningStack(url, f"http://127.0.0.1:{aws_port}", process, lines)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


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
