"""A dev stack started as a user would (``stepline dev``), on free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stepline.testing.ports import free_port

READY = "Stepline dev stack ready: "
STARTUP_DEADLINE = 90.0


def signed_client(base_url: str, **options: Any) -> httpx.Client:
    """An HTTP client that signs every request as the dev stack's account root (SigV4)."""
    from stepline.client.auth import SigV4

    return httpx.Client(base_url=base_url, auth=SigV4(base_url), **options)


@dataclass
class RunningStack:
    """The dev stack process and what it printed."""

    url: str
    aws_endpoint: str
    public_url: str
    process: subprocess.Popen[str]
    lines: list[str]

    def client(self) -> httpx.Client:
        """A signed client of the API (``/workflows/v1``)."""
        return signed_client(self.url + "/workflows/v1", timeout=30)

    @property
    def grpc_endpoint(self) -> str:
        """``host:port`` of the gRPC endpoint the stack printed."""
        prefix = "gRPC endpoint: "
        return next(line[len(prefix) :] for line in self.lines if line.startswith(prefix))

    def workflow_id(self, name: str) -> str:
        """The id the stack printed for an example workflow."""
        prefix = f"workflow {name}: "
        return next(line[len(prefix) :] for line in self.lines if line.startswith(prefix))


def launch_dev_stack(*extra: str) -> RunningStack:
    """Start ``stepline dev`` (plus ``extra`` options) in a subprocess; return once it serves."""
    port, aws_port, public_port, grpc_port = free_port(), free_port(), free_port(), free_port()
    command = [
        sys.executable,
        "-m",
        "stepline",
        "dev",
        "--port",
        str(port),
        "--aws-port",
        str(aws_port),
        "--public-port",
        str(public_port),
        "--grpc-port",
        str(grpc_port),
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
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
    while not ready.is_set():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("dev stack did not start:\n" + "\n".join(lines))
        ready.wait(0.1)
    url = next(line for line in lines if line.startswith(READY))[len(READY) :]
    public = f"http://127.0.0.1:{public_port}"
    return RunningStack(url, f"http://127.0.0.1:{aws_port}", public, process, lines)


def stop_dev_stack(stack: RunningStack) -> None:
    """Ctrl-C the stack if it still runs; kill it when it does not stop in time."""
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            stack.process.kill()


@pytest.fixture(scope="session")
def dev_stack() -> Iterator[RunningStack]:
    """``stepline dev`` in a subprocess, ready to serve."""
    stack = launch_dev_stack()
    yield stack
    stop_dev_stack(stack)
