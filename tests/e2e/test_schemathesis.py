"""Schemathesis over the whole OpenAPI document against a dev stack of its own: examples,
coverage, fuzzing and stateful phases (the document's links: Create or List workflows →
Get/Update/Start/…, Start → Get/GetHistory/Stop/Terminate), every request signed with SigV4
(schemathesis_sigv4.py); no response may be a 5xx or break the document (status, content type,
headers, body schema). Bounded and deterministic: every run sends the same cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningStack, launch_dev_stack, stop_dev_stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = "5"  # per operation and phase; with coverage and stateful about 1,300 requests
RUN_DEADLINE = 360.0  # seconds


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    """A dev stack of its own: what the fuzzer creates stays out of the other tests' way."""
    running = launch_dev_stack()
    yield running
    stop_dev_stack(running)


def test_dev_stack_serves_the_committed_document_and_its_swagger_ui(stack: RunningStack) -> None:
    served = httpx.get(stack.url + "/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == json.loads((ROOT / "docs" / "openapi.json").read_text())
    page = httpx.get(stack.url + "/docs", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle(" in page.text and '"url": "/openapi.json"' in page.text
    assert "<script src=" not in page.text  # the assets are inline: no network needed


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    stack: RunningStack, tmp_path: Path
) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{stack.url}/openapi.json",
        "--url",
        stack.url,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        CHECKS,
        "--max-examples",
        MAX_EXAMPLES,
        "--generation-deterministic",  # the same cases every run: no seed, no example database
        "--workers",
        "1",  # two threads trip CPython 3.11's ast (hypothesis parses lambdas while drawing)
        "--request-timeout",
        "30",
        "--no-color",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_sigv4", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        command,
        cwd=tmp_path,  # where it keeps its replay files
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
