"""Step data up to the 2 MB limit: kept in the payload bucket, read back as if inline."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from stepline.api import queries
from stepline.cli.client import Client
from stepline.dev.gateway import GatewayServer
from stepline.dev.stack import EmulatedStack
from stepline.store.errors import ITEM_LIMIT
from stepline.store.table import item_size
from stepline.testing import drive
from tests.integration.conftest import Runs

ECHO_THRICE = """
yawl: "0.1"
start: first
steps:
  first:
    functionCall: {functionId: stepline-echo, input: '\\({big: .big})', next: second}
  second:
    functionCall: {functionId: stepline-echo, input: '\\({big: .big})', next: third}
  third:
    functionCall: {functionId: stepline-echo, input: '\\({big: .big})', next: done}
  done:
    success: {}
"""

BIG_OUTPUT = """
yawl: "0.1"
start: make
steps:
  make:
    noOp:
      output: '\\({big: (.seed * 40000)})'
"""


@pytest.fixture(scope="module")
def client(stack: EmulatedStack) -> Iterator[Client]:
    """The CLI's client, through the HTTP API's edge on a loopback port (signed as root)."""
    server = GatewayServer(("127.0.0.1", 0), stack.gateway())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with_client = Client(f"http://127.0.0.1:{server.server_port}")
    yield with_client
    with_client.close()
    server.shutdown()


def _incompressible(size: int) -> str:
    return base64.b64encode(os.urandom(size * 3 // 4)).decode()


def _ended(svc: Any, execution_id: str) -> bool:
    status = queries.get(svc, execution_id)["execution"]["status"]
    return status in ("FINISHED", "FAILED", "STOPPED")


def _largest_item(stack: EmulatedStack) -> int:
    dynamodb = stack.clients("dynamodb")
    table = stack.function("RunnerFunction").environment["TABLE_NAME"]
    largest = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        largest = max([largest, *(item_size(item) for item in page["Items"])])
    return largest


def test_step_data_near_the_two_megabyte_limit_is_kept_and_shown_whole(
    svc: Any, runs: Runs, stack: EmulatedStack, client: Client
) -> None:
    big = _incompressible(900_000)
    execution_id = runs.start(ECHO_THRICE, json.dumps({"big": big}))

    drive.drain(svc, until=lambda: _ended(svc, execution_id))

    execution = client.get_execution(execution_id)
    assert execution["status"] == "FINISHED", execution.get("error")
    result = json.loads(execution["result"]["resultJson"])
    assert result["echo"] == {"big": big}
    entries = client.history(execution_id)["entries"]
    assert [e["id"] for e in entries] == ["first", "second", "third", "done"]
    for entry in entries[:3]:
        assert json.loads(entry["input"]["inputJson"]) == {"big": big}
        assert json.loads(entry["output"]["outputJson"])["echo"] == {"big": big}
    assert _largest_item(stack) <= ITEM_LIMIT


def test_history_of_many_large_steps_comes_in_pages_that_a_lambda_can_answer(
    svc: Any, admin: Any, runs: Runs, stack: EmulatedStack
) -> None:
    big = _incompressible(900_000)
    execution_id = runs.start(ECHO_THRICE, json.dumps({"big": big}))
    drive.drain(svc, until=lambda: _ended(svc, execution_id))

    first = queries.history(admin, execution_id, size=None, token=None)

    assert len(json.dumps(first)) < 6 * 1024 * 1024
    assert first["nextPageToken"]
    rest = queries.history(admin, execution_id, size=None, token=first["nextPageToken"])
    ids = [e["id"] for e in first["entries"] + rest["entries"]]
    assert ids == ["first", "second", "third", "done"]


def test_a_step_output_over_two_megabytes_fails_the_step_with_the_data_limit(
    svc: Any, runs: Runs
) -> None:
    execution_id = runs.start(BIG_OUTPUT, json.dumps({"seed": "0123456789" * 6}))

    drive.drain(svc, until=lambda: _ended(svc, execution_id))

    execution = queries.get(svc, execution_id)["execution"]
    assert execution["status"] == "FAILED"
    assert execution["error"]["errorCode"] == "STEP_DATA_LIMIT_EXCEEDED"


LOUD_FAIL = """
yawl: "0.1"
start: stop
steps:
  stop:
    fail:
      errorMessage: '\\(.text)'
"""


def test_a_long_error_message_fails_with_step_fail_and_the_head_keeps_its_start(
    svc: Any, runs: Runs, client: Client
) -> None:
    text = _incompressible(1_000_000)
    execution_id = runs.start(LOUD_FAIL, json.dumps({"text": text}))

    drive.drain(svc, until=lambda: _ended(svc, execution_id))

    error = client.get_execution(execution_id)["error"]
    assert error["errorCode"] == "STEP_FAIL"
    assert error["message"].startswith(text[:30_000]) and "cut at 32 KB" in error["message"]
    (entry,) = client.history(execution_id)["entries"]
    assert entry["error"]["message"] == text
