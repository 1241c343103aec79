"""``stepline task success|failure|heartbeat`` against a running dev stack: the colon routes
reach TasksFunction through the dev gateway, signed like every call."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Stepline
from tests.cli.test_cli import create

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
SPEC = r"""yawl: "0.1"
start: approve
steps:
  approve:
    waitForTask:
      notify:
        url: 'http://127.0.0.1:PORT/approve'
        body: '\({token: $taskToken})'
      timeout: 1h
      heartbeatTimeout: 30m
      output: '\({approved: .approved})'
"""


class _Inbox(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.server.tokens.append(json.loads(self.rfile.read(length))["token"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def inbox() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Inbox)
    server.tokens = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _first_token(inbox: Any) -> str:
    deadline = time.monotonic() + DEADLINE
    while not inbox.tokens and time.monotonic() < deadline:
        time.sleep(0.05)
    assert inbox.tokens, "no notification came"
    return str(inbox.tokens[0])


def _status(stepline: Stepline, execution_id: str, wanted: str) -> str:
    deadline = time.monotonic() + DEADLINE
    while True:
        status = str(stepline("execution", "get", execution_id).json()["status"])
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_answer_a_waiting_step_from_the_cli(stepline: Stepline, tmp_path: Path, inbox: Any) -> None:
    workflow_id = create(stepline, tmp_path, SPEC.replace("PORT", str(inbox.server_address[1])))
    started = stepline("execution", "start", "--workflow-id", workflow_id).json()
    token = _first_token(inbox)

    beat = stepline("task", "heartbeat", "-", input=token + "\n")
    done = stepline("task", "success", token, "--output-json", '{"approved": true}')
    again = stepline("task", "failure", token, "--error-code", "STEP_FAIL", "--message", "no")
    forged = stepline("task", "heartbeat", token[:-4] + "AAAA")

    assert (beat.code, done.code) == (0, 0), beat.err + done.err
    assert "sendTaskSuccess: accepted" in done.out
    assert again.code != 0 and "FAILED_PRECONDITION" in again.err
    assert (
        forged.code != 0 and "NOT_FOUND" in forged.err and "task token is not valid" in forged.err
    )
    assert _status(stepline, started["executionId"], "FINISHED") == "FINISHED"
    result = stepline("execution", "get", started["executionId"]).json()["result"]
    assert json.loads(result["resultJson"]) == {"approved": True}
