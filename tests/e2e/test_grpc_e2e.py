"""The official gRPC stubs against the dev stack's gRPC endpoint (``stepline dev``).

Each RPC answers what the same call answers over REST: the same ids, statuses, pages and
error codes. The README's example runs as written; ``stepline grpc-gateway`` in front of the
same API answers as the dev stack's own endpoint does.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2
from yandex.cloud.serverless.workflows.v1 import execution_pb2, workflow_pb2
from yandex.cloud.serverless.workflows.v1 import (
    execution_service_pb2 as ex,
)
from yandex.cloud.serverless.workflows.v1 import (
    execution_service_pb2_grpc as ex_grpc,
)
from yandex.cloud.serverless.workflows.v1 import (
    workflow_service_pb2 as wf,
)
from yandex.cloud.serverless.workflows.v1 import (
    workflow_service_pb2_grpc as wf_grpc,
)

from stepline.gateway import extensions_pb2 as xt
from stepline.gateway import extensions_pb2_grpc as xt_grpc
from tests.e2e.conftest import RunningStack, free_port

pytestmark = pytest.mark.e2e

FAST = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"
SLOW = "yawl: '0.1'\nstart: nap\nsteps:\n  nap:\n    wait: {duration: 1h}\n"


@pytest.fixture(scope="module")
def channel(dev_stack: RunningStack) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(dev_stack.grpc_endpoint) as opened:
        yield opened


@pytest.fixture
def rest(dev_stack: RunningStack) -> httpx.Client:
    return dev_stack.client()


def _create(channel: grpc.Channel, spec: str, name: str) -> str:
    workflows = wf_grpc.WorkflowServiceStub(channel)
    operation = workflows.Create(
        wf.CreateWorkflowRequest(
            folder_id="grpc-e2e",
            name=name,
            specification=workflow_pb2.WorkflowSpecification(spec_yaml=spec),
        )
    )
    assert operation.done
    metadata = wf.CreateWorkflowMetadata()
    assert operation.metadata.Unpack(metadata)
    return metadata.workflow_id


def test_start_get_list_and_history_answer_as_rest_does(
    channel: grpc.Channel, rest: httpx.Client
) -> None:
    workflow_id = _create(channel, FAST, f"fast-{time.monotonic_ns()}")
    executions = ex_grpc.ExecutionServiceStub(channel)
    started = executions.Start(
        ex.StartExecutionRequest(
            workflow_id=workflow_id, input=execution_pb2.ExecutionInput(input_json='{"n": 1}')
        )
    )
    end = time.monotonic() + 30
    while True:
        got = executions.Get(ex.GetExecutionRequest(execution_id=started.execution_id))
        if got.execution.status == got.execution.FINISHED:
            break
        assert time.monotonic() < end, got
        time.sleep(0.1)

    over_rest = rest.get(f"/execution/{started.execution_id}").json()["execution"]
    assert got.execution.id == over_rest["id"] == started.execution_id
    assert got.execution.workflow_id == over_rest["workflowId"] == workflow_id
    assert json.loads(got.execution.input.input_json) == {"n": 1}
    assert over_rest["status"] == "FINISHED"

    listed = executions.List(ex.ListExecutionsRequest(workflow_id=workflow_id))
    assert [e.id for e in listed.executions] == [started.execution_id]
    history = executions.GetHistory(
        ex.GetExecutionHistoryRequest(execution_id=started.execution_id)
    )
    rest_history = rest.get(f"/execution/{started.execution_id}/history").json()
    assert [e.id for e in history.entries] == [e["id"] for e in rest_history["entries"]]


def test_whole_numbers_of_an_input_value_stay_whole(
    channel: grpc.Channel, rest: httpx.Client
) -> None:
    workflow_id = _create(channel, SLOW, f"value-{time.monotonic_ns()}")
    executions = ex_grpc.ExecutionServiceStub(channel)
    value = struct_pb2.Struct()
    value.update({"n": 3, "price": 2.5, "items": [1, 2]})
    started = executions.Start(
        ex.StartExecutionRequest(
            workflow_id=workflow_id,
            input=execution_pb2.ExecutionInput(input_value=struct_pb2.Value(struct_value=value)),
        )
    )

    shown = rest.get(f"/execution/{started.execution_id}").json()["execution"]
    text = shown["input"]["inputJson"]
    assert json.loads(text) == {"n": 3, "price": 2.5, "items": [1, 2]}
    assert "3.0" not in text and "1.0" not in text
    executions.Terminate(ex.TerminateExecutionRequest(execution_id=started.execution_id))


def test_list_pages_and_filters_as_rest_does(channel: grpc.Channel, rest: httpx.Client) -> None:
    workflow_id = _create(channel, SLOW, f"slow-{time.monotonic_ns()}")
    executions = ex_grpc.ExecutionServiceStub(channel)
    ids = [
        executions.Start(ex.StartExecutionRequest(workflow_id=workflow_id)).execution_id
        for _ in range(3)
    ]
    executions.Stop(ex.StopExecutionRequest(execution_id=ids[0]))

    seen, token = [], ""
    while True:
        page = executions.List(
            ex.ListExecutionsRequest(workflow_id=workflow_id, page_size=2, page_token=token)
        )
        assert len(page.executions) <= 2
        seen += [e.id for e in page.executions]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    stopped = executions.List(
        ex.ListExecutionsRequest(workflow_id=workflow_id, filter="status=STOPPED")
    )
    over_rest = rest.get(
        "/execution", params={"workflowId": workflow_id, "filter": "status=STOPPED"}
    ).json()
    assert [e.id for e in stopped.executions] == [e["id"] for e in over_rest["executions"]]
    assert [e.id for e in stopped.executions] == [ids[0]]
    for execution_id in ids[1:]:
        executions.Terminate(ex.TerminateExecutionRequest(execution_id=execution_id))


@pytest.mark.parametrize(
    ("call", "code"),
    [
        ("get_unknown", grpc.StatusCode.NOT_FOUND),
        ("get_malformed", grpc.StatusCode.INVALID_ARGUMENT),
        ("start_unknown_workflow", grpc.StatusCode.NOT_FOUND),
        ("list_bad_filter", grpc.StatusCode.INVALID_ARGUMENT),
        ("create_bad_spec", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_errors_carry_the_status_code_and_message_rest_gives(
    channel: grpc.Channel, rest: httpx.Client, call: str, code: grpc.StatusCode
) -> None:
    executions = ex_grpc.ExecutionServiceStub(channel)
    workflows = wf_grpc.WorkflowServiceStub(channel)
    unknown = "swnothere000000000000-00000000-0000-4000-8000-000000000000"
    attempts = {
        "get_unknown": (
            lambda: executions.Get(ex.GetExecutionRequest(execution_id=unknown)),
            lambda: rest.get(f"/execution/{unknown}"),
        ),
        "get_malformed": (
            lambda: executions.Get(ex.GetExecutionRequest(execution_id="nope")),
            lambda: rest.get("/execution/nope"),
        ),
        "start_unknown_workflow": (
            lambda: executions.Start(ex.StartExecutionRequest(workflow_id="swnothere00000000000")),
            lambda: rest.post("/execution/start", json={"workflowId": "swnothere00000000000"}),
        ),
        "list_bad_filter": (
            lambda: executions.List(
                ex.ListExecutionsRequest(workflow_id="swnothere00000000000", filter="color=red")
            ),
            lambda: rest.get(
                "/execution", params={"workflowId": "swnothere00000000000", "filter": "color=red"}
            ),
        ),
        "create_bad_spec": (
            lambda: workflows.Create(
                wf.CreateWorkflowRequest(
                    folder_id="grpc-e2e",
                    name="broken",
                    specification=workflow_pb2.WorkflowSpecification(
                        spec_yaml="yawl: '0.1'\nstart: x\n"
                    ),
                )
            ),
            lambda: rest.post(
                "/workflow",
                json={
                    "folderId": "grpc-e2e",
                    "name": "broken",
                    "specification": {"specYaml": "yawl: '0.1'\nstart: x\n"},
                },
            ),
        ),
    }
    over_grpc, over_rest = attempts[call]
    with pytest.raises(grpc.RpcError) as raised:
        over_grpc()
    error = over_rest().json()
    assert raised.value.code() == code
    assert code.value[0] == error["code"]
    assert raised.value.details() == error["message"]


APPROVAL = r"""
yawl: "0.1"
start: approve
steps:
  approve:
    waitForTask:
      notify:
        url: 'http://127.0.0.1:@PORT@/approve'
        body: '\({token: $taskToken})'
      output: '\({approved: .approved})'
"""


class _Inbox(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        self.server.tokens.put(body["token"])
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def test_the_extensions_pause_resume_and_answer_a_task_over_grpc(channel: grpc.Channel) -> None:
    inbox: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Inbox)
    inbox.tokens = queue.Queue()
    threading.Thread(target=inbox.serve_forever, daemon=True).start()
    try:
        spec = APPROVAL.replace("@PORT@", str(inbox.server_address[1]))
        workflow_id = _create(channel, spec, f"approval-{time.monotonic_ns()}")
        executions = ex_grpc.ExecutionServiceStub(channel)
        extensions = xt_grpc.ExecutionExtensionServiceStub(channel)
        started = executions.Start(ex.StartExecutionRequest(workflow_id=workflow_id))
        token = inbox.tokens.get(timeout=30)  # the step parked and sent its token

        paused = extensions.Pause(xt.PauseExecutionRequest(execution_id=started.execution_id))
        assert paused.execution_id == started.execution_id
        got = executions.Get(ex.GetExecutionRequest(execution_id=started.execution_id))
        assert got.execution.status == got.execution.PAUSED
        xt_grpc.TaskServiceStub(channel).SendTaskSuccess(
            xt.SendTaskSuccessRequest(task_token=token, output_json='{"approved": true}')
        )  # a PAUSED execution takes the answer; its step goes on once resumed
        extensions.Resume(xt.ResumeExecutionRequest(execution_id=started.execution_id))

        end = time.monotonic() + 30
        while got.execution.status != got.execution.FINISHED:
            assert time.monotonic() < end, got
            time.sleep(0.1)
            got = executions.Get(ex.GetExecutionRequest(execution_id=started.execution_id))
        assert json.loads(got.execution.result.result_json) == {"approved": True}
        with pytest.raises(grpc.RpcError) as again:
            extensions.Redrive(xt.RedriveExecutionRequest(execution_id=started.execution_id))
        assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        inbox.shutdown()
        inbox.server_close()


def test_the_readme_example_runs_against_the_dev_stack(dev_stack: RunningStack) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Over gRPC, with the official clients", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    env = {**os.environ, "STEPLINE_GRPC_ENDPOINT": dev_stack.grpc_endpoint}

    ran = subprocess.run(
        [sys.executable, "-c", example], env=env, capture_output=True, text=True, timeout=60
    )

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["FINISHED"]


def test_the_grpc_gateway_command_answers_as_the_dev_stack_does(dev_stack: RunningStack) -> None:
    port = free_port()
    gateway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stepline",
            "grpc-gateway",
            "--api",
            dev_stack.url,
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert gateway.stdout is not None
        assert gateway.stdout.readline().startswith(f"gRPC gateway ready: 127.0.0.1:{port}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as through_gateway:
            workflow_id = _create(through_gateway, FAST, f"gw-{time.monotonic_ns()}")
            with grpc.insecure_channel(dev_stack.grpc_endpoint) as direct:
                got = wf_grpc.WorkflowServiceStub(direct).Get(
                    wf.GetWorkflowRequest(workflow_id=workflow_id)
                )
        assert got.workflow.id == workflow_id
    finally:
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=10) == 0
