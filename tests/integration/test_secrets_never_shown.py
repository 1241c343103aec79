"""Secrets read through lockboxPayload are never stored or shown as they are.

Workflows on the deployed stack (IAM enforced, the runner driven in this process) push one
secret value through every way out: a Fail's errorMessage, a FunctionCall whose function fails
quoting its input, an HTTPCall whose URL, header and failing reply carry it (retried, then
caught into the state and the result), an adapter crash the runner logs, a message the runner
gives up on, and a value put into the state before a Wait — whose snapshot must not hold it,
while the step after the Wait still gets the real value. Then every table item, every object of
the payload bucket and every line the runner wrote (logs and metrics) is searched for the
value, in its plain, JSON-escaped and base64 forms; Get and GetHistory show ``***``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stepline.integrations.secrets import MARK
from stepline.service import runner
from stepline.service.runner import calls
from stepline.store.log import unpacked
from stepline.store.queue import StepMessage
from stepline.testing import drive
from stepline.yawl.integration import HTTPCall
from tests.integration.conftest import Api, Runs

SECRET_ID = "stepline-never-shown"
SECRET = "s3cr3t-" + uuid.uuid4().hex
READ = f'lockboxPayload("{SECRET_ID}"; "token")'
# Past the 64 KB inline limit, and incompressible: snapshots and the result go to the bucket.
PAD = base64.b64encode(os.urandom(72 * 1024)).decode()

FAIL = rf"""
yawl: "0.1"
start: stop
steps:
  stop:
    fail:
      errorMessage: 'denied: \({READ})'
"""
FUNCTION_FAILS = rf"""
yawl: "0.1"
start: call
steps:
  call:
    functionCall:
      functionId: stepline-quote
      input: '\({{token: {READ}}})'
"""
HTTP_FAILS = r"""
yawl: "0.1"
start: call
steps:
  call:
    httpCall:
      url: 'http://127.0.0.1:PORT/denied/\(READ)'
      headers: {authorization: 'Bearer \(READ)'}
      retryPolicy: {errorList: [HTTP_CALL_500], initialDelay: 1s, retryCount: 1}
      catch:
        - errorList: [HTTP_CALL_500]
          output: '\({caught: .message})'
          next: done
  done:
    success: {}
"""
KEPT_OVER_A_WAIT = rf"""
yawl: "0.1"
start: keep
steps:
  keep:
    noOp:
      output: '\({READ} as $t | {{token: $t, auth: "Bearer \($t)"}})'
      next: nap
  nap:
    wait: {{duration: 1s, next: call}}
  call:
    functionCall:
      functionId: stepline-echo
      input: '\({{auth: .auth, pad: .input.pad}})'
      output: '\({{got: (.echo.auth == "Bearer " + {READ}), auth: .echo.auth, pad: .echo.pad}})'
      next: done
  done:
    success: {{}}
"""
ADAPTER_CRASHES = rf"""
yawl: "0.1"
start: call
steps:
  call:
    httpCall:
      url: 'http://crash.stepline.test/\({READ})'
"""
GIVEN_UP = rf"""
yawl: "0.1"
start: call
steps:
  call:
    functionCall:
      functionId: stepline-echo
      input: '\({{token: {READ}}})'
"""


class _Refusing(BaseHTTPRequestHandler):
    """Answers 500, quoting the credentials it was sent."""

    def do_GET(self) -> None:
        body = json.dumps({"refused": self.headers.get("authorization"), "path": self.path})
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_: Any) -> None:
        pass


@contextlib.contextmanager
def _refusing_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


_REAL_ADAPTER_FOR = calls.adapter_for


def _crashing_adapter_for(body: Any) -> Any:
    """The real adapters, but HTTPCalls to crash.stepline.test crash (an adapter bug)."""
    if isinstance(body, HTTPCall) and "crash.stepline.test" in body.url:

        def crash(step: Any, step_input: Any, ctx: Any) -> Any:
            raise RuntimeError(f"adapter bug while calling {ctx.render(step.url)}")

        return crash
    return _REAL_ADAPTER_FOR(body)


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Ran:
    """The executions of the module, by workflow, and what the runner wrote meanwhile."""

    ids: dict[str, str] = field(default_factory=dict)
    output: str = ""


def _ended(svc: Any, *execution_ids: str) -> Any:
    def check() -> bool:
        return all(svc.executions.get(i).status in drive.ENDED for i in execution_ids)

    return check


@pytest.fixture(scope="module")
def ran(svc: Any, admin: Any) -> Iterator[Ran]:
    from stepline.api.http import logger

    boto3.client("secretsmanager").create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"token": SECRET})
    )
    runs, done = Runs(admin), Ran()
    captured = io.StringIO()
    handler: Any = logger.registered_handler
    with (
        _refusing_server() as port,
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(captured),  # EMF metrics
    ):
        previous = handler.setStream(captured)  # the runner's log lines
        root = logging.StreamHandler(captured)  # other loggers' (the tracer's, botocore's, ...)
        logging.getLogger().addHandler(root)
        # Powertools' own loggers (the tracer's) reach the root only when debugging: here too.
        patch.setattr(logging.getLogger("aws_lambda_powertools"), "propagate", True)
        try:
            patch.setattr(calls, "adapter_for", _crashing_adapter_for)
            started = {
                "fail": (FAIL, {}),
                "function": (FUNCTION_FAILS, {}),
                "http": (HTTP_FAILS.replace("PORT", str(port)).replace("READ", READ), {}),
                "kept": (KEPT_OVER_A_WAIT, {"pad": PAD}),  # its snapshots go to the bucket
                "kept_inline": (KEPT_OVER_A_WAIT, {}),  # its snapshots stay in the table
                "crash": (ADAPTER_CRASHES, {}),
            }
            for name, (spec, execution_input) in started.items():
                done.ids[name] = runs.start(spec, json.dumps(execution_input))
            drive.drain(svc, until=_ended(svc, *done.ids.values()), deadline=60)

            done.ids["given_up"] = runs.start(GIVEN_UP)

            def lost(run: Any, calls: list[Any]) -> None:
                raise RuntimeError(f"lost the calls {[call.step_input for call in calls]}")

            patch.setattr(calls, "perform", lost)
            record = SQSRecord(
                {
                    "messageId": "m1",
                    "receiptHandle": "r1",
                    "body": StepMessage(done.ids["given_up"], 0).to_json(),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                }
            )
            runner.process_record(svc, record, _Context(), Tracer(disabled=True))
        finally:
            handler.setStream(previous)
            logging.getLogger().removeHandler(root)
    done.output = captured.getvalue()
    yield done


def _get(api: Api, execution_id: str) -> dict[str, Any]:
    reply = api.call("get", path={"executionId": execution_id})
    assert reply.status == 200, reply.body
    execution: dict[str, Any] = reply.body["execution"]
    return execution


def _history(api: Api, execution_id: str) -> list[dict[str, Any]]:
    reply = api.call("history", path={"executionId": execution_id})
    assert reply.status == 200, reply.body
    entries: list[dict[str, Any]] = reply.body.get("entries", [])
    return entries


def _forms(value: str) -> list[str]:
    """The value, base64-encoded too, and its first 10 characters (as jq quotes it)."""
    return [value, base64.b64encode(value.encode()).decode(), value[:10]]


def _shows_secret(text: str) -> bool:
    return any(form in text for form in _forms(SECRET))


def test_get_shows_errors_and_results_redacted(ran: Ran, api: Api) -> None:
    failed = _get(api, ran.ids["fail"])
    assert failed["status"] == "FAILED"
    assert failed["error"] == {"message": "denied: ***", "errorCode": "STEP_FAIL"}

    function = _get(api, ran.ids["function"])
    assert function["status"] == "FAILED"
    assert 'cannot use {"token": "***"}' in function["error"]["message"]

    http = _get(api, ran.ids["http"])
    assert http["status"] == "FINISHED", http
    caught = json.loads(http["result"]["resultJson"])["caught"]
    assert caught.startswith("GET http://127.0.0.1:") and "/denied/*** answered 500" in caught
    assert '"refused": "Bearer ***"' in caught and '"path": "/denied/***"' in caught

    crash = _get(api, ran.ids["crash"])
    assert crash["error"]["errorCode"] == "STEP_INTERNAL"
    assert crash["error"]["message"].endswith("crash.stepline.test/***")

    given_up = _get(api, ran.ids["given_up"])
    assert given_up["status"] == "FAILED"
    assert given_up["error"]["message"] == (
        "internal error: RuntimeError: lost the calls [{'token': '***'}]"
    )
    for execution in (failed, function, http, crash, given_up):
        assert not _shows_secret(json.dumps(execution)), execution


@pytest.mark.parametrize(("name", "pad"), [("kept", PAD), ("kept_inline", None)])
def test_the_step_after_a_wait_gets_the_value_and_the_result_shows_it_redacted(
    ran: Ran, api: Api, name: str, pad: str | None
) -> None:
    kept = _get(api, ran.ids[name])
    assert kept["status"] == "FINISHED", kept
    result = json.loads(kept["result"]["resultJson"])
    assert result["got"] is True  # the echo function was sent the real value, after the Wait
    assert result["auth"] == "Bearer ***"
    assert result["pad"] == pad
    assert not _shows_secret(kept["result"]["resultJson"])


def test_history_shows_inputs_outputs_and_errors_redacted(ran: Ran, api: Api) -> None:
    entries = {name: _history(api, ran.ids[name]) for name in ran.ids}
    for name, listed in entries.items():
        assert listed or name == "given_up", name  # that one failed before its first write
        assert not _shows_secret(json.dumps(listed)), (name, listed)

    (stop,) = entries["fail"]
    assert stop["error"]["message"] == "denied: ***"

    (call,) = entries["function"]
    assert json.loads(call["input"]["inputJson"]) == {"token": "***"}
    assert 'cannot use {"token": "***"}' in call["lastError"]["message"]
    assert 'cannot use {"token": "***"}' in call["error"]["message"]

    call = entries["http"][0]
    assert call["attempts"] == "2"
    assert "/denied/*** answered 500" in call["lastError"]["message"]
    assert json.loads(call["output"]["outputJson"])["caught"] == call["error"]["message"]

    for name in ("kept", "kept_inline"):
        keep, nap, echo, _done = entries[name]
        assert json.loads(keep["output"]["outputJson"]) == {"token": "***", "auth": "Bearer ***"}
        assert nap["type"] == "Wait"
        assert json.loads(echo["input"]["inputJson"])["auth"] == "Bearer ***"

    (crash,) = entries["crash"]
    assert crash["error"]["message"].endswith("crash.stepline.test/***")


def _table_texts(table_name: str) -> Iterator[tuple[str, str]]:
    """(key, text) of every attribute of every table item; compressed parts unpacked."""
    table = boto3.resource("dynamodb").Table(table_name)
    start: dict[str, Any] = {}
    while True:
        page = table.scan(**start)
        for item in page["Items"]:
            key = f"{item.get('PK')}/{item.get('SK')}"
            for name, value in item.items():
                if hasattr(value, "value") and name.endswith("Z"):  # a compressed log part
                    yield key, json.dumps(unpacked(item, name[:-1], None), ensure_ascii=False)
                elif hasattr(value, "value"):
                    yield key, bytes(value.value).decode(errors="replace")
                else:
                    yield key, json.dumps(value, ensure_ascii=False, default=str)
        if "LastEvaluatedKey" not in page:
            return
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def _bucket_texts(bucket: str) -> Iterator[tuple[str, str]]:
    s3 = boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for listed in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
            yield listed["Key"], body.decode(errors="replace")


def test_no_table_item_holds_the_secret(ran: Ran, svc: Any) -> None:
    texts = list(_table_texts(svc.settings.table_name))
    assert texts
    assert [key for key, text in texts if _shows_secret(text)] == []
    # The snapshot written before the Wait held the value behind a marker: in the table, and
    # in the bucket for the execution whose large input made its snapshots large.
    marker = f"{MARK}secret:0{MARK}"
    assert any(ran.ids["kept_inline"] in key and marker in text for key, text in texts)
    objects = _bucket_texts(svc.settings.payload_bucket)
    assert any(ran.ids["kept"] in key and marker in text for key, text in objects)


def test_no_payload_object_holds_the_secret(ran: Ran, svc: Any) -> None:
    objects = list(_bucket_texts(svc.settings.payload_bucket))
    assert any(ran.ids["kept"] in key and "/log/" in key for key, _ in objects)
    assert any(key.endswith(f"{ran.ids['kept']}/result.json") for key, _ in objects)
    assert [key for key, text in objects if _shows_secret(text)] == []


def test_no_log_line_holds_the_secret(ran: Ran) -> None:
    # Lines "[function] ..." are the test functions' own (STEPLINE_TEST_LOGS=1).
    lines = [line for line in ran.output.splitlines() if not re.match(r"\[[^\]]+\] ", line)]
    assert any('"integration step crashed"' in line for line in lines)
    assert any("failing the execution" in line for line in lines)
    assert any("Exception received from 'stepline.service.runner.handle'" in x for x in lines)
    # The traceback of what escaped the runner, as other loggers show it, is redacted too.
    assert "RuntimeError: lost the calls [{'token': '***'}]" in lines
    assert any('"_aws"' in line for line in lines)  # metrics
    assert [line for line in lines if _shows_secret(line)] == []
    assert any("crash.stepline.test/***" in line for line in lines)
