"""Every RPC over the official gRPC stubs answers what the same call answers over REST.

One dev stack for the module (``stepline dev``, its gRPC endpoint included). Each case sends a
request with the official ``*_pb2_grpc`` stubs and the same request, written as REST,
signed to the HTTP API, and asserts one result: a gRPC message equal (``MessageToDict``) to the
REST JSON read as that message, or a gRPC status whose code is the REST error's ``code`` and
whose details are its message, the HTTP status being the one ``stepline.api.errors`` gives that
code (API Gateway's own answers, which carry no code, through the CLI's table of them).

Requests hold ``<name>`` placeholders for what the module's ``world`` made (workflow and
execution ids, its folder); both sides are filled from the same world.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import grpc
import httpx
import pytest
from google.protobuf import empty_pb2, field_mask_pb2, json_format, struct_pb2
from google.protobuf.message import Message
from yandex.cloud.access import access_pb2
from yandex.cloud.logging.v1 import log_entry_pb2
from yandex.cloud.operation import operation_pb2, operation_service_pb2
from yandex.cloud.operation import operation_service_pb2_grpc as op_grpc
from yandex.cloud.serverless.workflows.v1 import execution_pb2, workflow_pb2
from yandex.cloud.serverless.workflows.v1 import execution_service_pb2 as ex
from yandex.cloud.serverless.workflows.v1 import execution_service_pb2_grpc as ex_grpc
from yandex.cloud.serverless.workflows.v1 import workflow_service_pb2 as wf
from yandex.cloud.serverless.workflows.v1 import workflow_service_pb2_grpc as wf_grpc

from stepline.api.errors import HTTP_STATUS
from stepline.cli import client as http_client
from stepline.client.auth import SigV4
from stepline.errors import Code
from stepline.gateway import extensions_pb2 as xt
from stepline.gateway import extensions_pb2_grpc as xt_grpc
from stepline.gateway import transcoder
from tests.e2e.conftest import RunningStack, launch_dev_stack, signed_client, stop_dev_stack

pytestmark = pytest.mark.e2e

assert empty_pb2.Empty  # registers google.protobuf.Empty for Any (the Delete response)

FAST = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"
PARKED = "yawl: '0.1'\nstart: nap\nsteps:\n  nap:\n    wait: {duration: 48h}\n"
FINISHED_RUNS = 5
DEADLINE = 30.0
VIEWER = "serverless.workflows.viewer"
ACCOUNT_ROOT = ("stepline-dev", "stepline-dev")


# --- the two clients ------------------------------------------------------------------------


@dataclass
class Clients:
    """The official stubs on one channel, and a signed REST client of the same API."""

    channel: grpc.Channel
    rest: httpx.Client
    stubs: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.stubs = {
            "ExecutionService": ex_grpc.ExecutionServiceStub(self.channel),
            "WorkflowService": wf_grpc.WorkflowServiceStub(self.channel),
            "OperationService": op_grpc.OperationServiceStub(self.channel),
            "ExecutionExtensionService": xt_grpc.ExecutionExtensionServiceStub(self.channel),
            "TaskService": xt_grpc.TaskServiceStub(self.channel),
        }

    def rpc(self, request: Message, metadata: tuple[tuple[str, str], ...] = ()) -> Message:
        """Send ``request`` to the RPC that takes it."""
        service, method = RPC_OF[request.DESCRIPTOR.full_name]
        answer: Message = getattr(self.stubs[service], method)(request, metadata=metadata)
        return answer

    def http(self, call: Rest) -> httpx.Response:
        """Send one REST request."""
        # Every reserved byte as %XX, a space as %20: SigV4 signs the query as sent.
        query = f"?{urlencode(call.query, quote_via=quote)}" if call.query else ""
        return self.rest.request(call.verb, call.path + query, json=call.body)


RPC_OF = {
    route.request.DESCRIPTOR.full_name: (route.service.rsplit(".", 1)[-1], route.method)
    for route in transcoder.routes()
}


@dataclass(frozen=True)
class Rest:
    """One REST request; ``path`` under ``/workflows/v1`` (OperationService's ``/operations/``
    as it stands)."""

    verb: str
    path: str
    query: dict[str, str] | None = None
    body: Any = None

    def filled(self, world: World) -> Rest:
        path = self.path if self.path.startswith("/operations/") else "/workflows/v1" + self.path
        return Rest(self.verb, world.fill(path), world.fill(self.query), world.fill(self.body))


def canonical(body: dict[str, Any], message: type[Message]) -> dict[str, Any]:
    """REST JSON as the gRPC message would carry it (defaults left out, names camelCase)."""
    parsed = json_format.ParseDict(body, message(), ignore_unknown_fields=True)
    return json_format.MessageToDict(parsed)


def rest_error(response: httpx.Response) -> http_client.ApiError:
    """The error a REST answer carries, with its code read as the CLI reads it; the HTTP
    status must be the one the code travels with."""
    with pytest.raises(http_client.ApiError) as raised:
        http_client.answer(response)
    error = raised.value
    if "code" in response.json():
        assert response.status_code == int(HTTP_STATUS.get(Code(error.code), 500)), response.text
    return error


def grpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    """The status an RPC fails with."""
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def assert_same_error(
    clients: Clients, request: Message, rest: Rest, code: Code, field_name: str
) -> str:
    """The RPC and the REST call fail alike: ``code``, one message naming ``field_name``."""
    over_grpc = grpc_error(lambda: clients.rpc(request))
    over_rest = rest_error(clients.http(rest))
    assert over_grpc.code().value[0] == over_rest.code == code, (
        over_grpc.details(),
        over_rest,
    )
    assert over_grpc.details() == over_rest.message
    assert field_name in over_rest.message, over_rest.message
    return over_rest.message


def assert_same_answer(
    clients: Clients, request: Message, rest: Rest, *, moving: tuple[str, ...] = ()
) -> Message:
    """The RPC and the REST call answer the same message (but for the ``moving`` fields, such
    as the duration of an execution still running); the gRPC answer."""
    over_grpc = clients.rpc(request)
    over_rest = clients.http(rest)
    assert over_rest.status_code == 200, over_rest.text
    expected = canonical(over_rest.json(), type(over_grpc))
    assert _without(json_format.MessageToDict(over_grpc), moving) == _without(expected, moving)
    return over_grpc


def _without(value: Any, names: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [_without(v, names) for v in value]
    return value


# --- the module's stack and what it holds ---------------------------------------------------


@dataclass
class World:
    """What the module made on its stack, by the placeholder names cases use."""

    names: dict[str, str]

    def fill(self, value: Any) -> Any:
        """``value`` with every ``<name>`` in its strings replaced."""
        if isinstance(value, str):
            return re.sub(r"<([a-z_]+)>", lambda m: self.names[m.group(1)], value)
        if isinstance(value, dict):
            return {self.fill(k): self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def request(self, message: Message) -> Message:
        """A copy of ``message`` with its string fields filled (top level and nested)."""
        filled = type(message)()
        filled.CopyFrom(message)
        for descriptor, value in filled.ListFields():
            if descriptor.type == descriptor.TYPE_STRING and not descriptor.is_repeated:
                setattr(filled, descriptor.name, self.fill(value))
            elif descriptor.message_type is not None and not descriptor.is_repeated:
                getattr(filled, descriptor.name).CopyFrom(self.request(value))
        return filled

    def __getattr__(self, name: str) -> str:
        try:
            return self.names[name]
        except KeyError:
            raise AttributeError(name) from None


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = launch_dev_stack()
    yield running
    stop_dev_stack(running)


@pytest.fixture(scope="module")
def clients(stack: RunningStack) -> Iterator[Clients]:
    with grpc.insecure_channel(stack.grpc_endpoint) as channel:
        rest = signed_client(stack.url, timeout=30)
        yield Clients(channel, rest)
        rest.close()


def _create_rest(clients: Clients, folder: str, name: str, spec: str = FAST) -> str:
    reply = clients.rest.post(
        "/workflows/v1/workflow",
        json={"folderId": folder, "name": name, "specification": {"specYaml": spec}},
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["metadata"]["workflowId"])


def _start(clients: Clients, workflow_id: str, input_json: str = "{}") -> str:
    reply = clients.rest.post(
        "/workflows/v1/execution/start",
        json={"workflowId": workflow_id, "input": {"inputJson": input_json}},
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["executionId"])


def _status(clients: Clients, execution_id: str) -> str:
    reply = clients.rest.get(f"/workflows/v1/execution/{execution_id}")
    return str(reply.json()["execution"]["status"])


def _until_ended(clients: Clients, execution_ids: list[str]) -> None:
    end = time.monotonic() + DEADLINE
    for execution_id in execution_ids:
        while _status(clients, execution_id) not in ("FINISHED", "FAILED", "STOPPED"):
            assert time.monotonic() < end, execution_id
            time.sleep(0.05)


@pytest.fixture(scope="module")
def world(clients: Clients) -> World:
    """A folder with a fast workflow that ran to the end a few times, a parked one with a
    running and a stopped execution, and ids that exist nowhere."""
    folder = f"grpc-conf-{uuid.uuid4().hex[:8]}"
    fast = _create_rest(clients, folder, "fast", FAST)
    parked = _create_rest(clients, folder, "parked", PARKED)
    finished = [_start(clients, fast, json.dumps({"n": n})) for n in range(FINISHED_RUNS)]
    running, stopped = _start(clients, parked), _start(clients, parked)
    assert clients.rest.post(f"/workflows/v1/execution/{stopped}/stop").status_code == 200
    _until_ended(clients, [*finished, stopped])
    return World(
        {
            "folder": folder,
            "fast": fast,
            "parked": parked,
            "finished": finished[-1],
            "running": running,
            "stopped": stopped,
            "no_workflow": "swnothere00000000000",
            "no_execution": f"{fast}-00000000-0000-4000-8000-000000000000",
        }
    )


# --- ExecutionService -----------------------------------------------------------------------


def test_get_and_history_of_an_ended_execution_answer_as_rest(
    clients: Clients, world: World
) -> None:
    for execution_id in (world.finished, world.stopped):
        assert_same_answer(
            clients,
            ex.GetExecutionRequest(execution_id=execution_id),
            Rest("GET", f"/execution/{execution_id}").filled(world),
        )
        history = assert_same_answer(
            clients,
            ex.GetExecutionHistoryRequest(execution_id=execution_id),
            Rest("GET", f"/execution/{execution_id}/history").filled(world),
        )
        assert isinstance(history, ex.GetExecutionHistoryResponse)
        assert history.execution.id == execution_id
    got = clients.rpc(ex.GetExecutionRequest(execution_id=world.finished))
    assert json.loads(got.execution.input.input_json) == {"n": FINISHED_RUNS - 1}


def test_start_stop_and_terminate_answer_as_rest(clients: Clients, world: World) -> None:
    started = clients.rpc(
        ex.StartExecutionRequest(
            workflow_id=world.parked,
            input=execution_pb2.ExecutionInput(input_json='{"by": "grpc"}'),
        )
    )
    by_rest = _start(clients, world.parked, '{"by": "grpc"}')
    assert isinstance(started, ex.StartExecutionResponse)
    assert started.execution_id.startswith(f"{world.parked}-")
    got = clients.rest.get(f"/workflows/v1/execution/{started.execution_id}").json()
    twin = clients.rest.get(f"/workflows/v1/execution/{by_rest}").json()
    assert got["execution"]["input"] == twin["execution"]["input"]

    for rpc, verb in (
        (ex.StopExecutionRequest, "stop"),
        (ex.TerminateExecutionRequest, "terminate"),
    ):
        for _ in range(2):  # stopping again answers as the first time
            assert_same_answer(
                clients,
                rpc(execution_id=started.execution_id),
                Rest("POST", f"/execution/{started.execution_id}/{verb}").filled(world),
            )
    assert _status(clients, started.execution_id) == "STOPPED"
    clients.rest.post(f"/workflows/v1/execution/{by_rest}/terminate")


def test_an_idempotency_key_in_the_metadata_is_the_rest_header(
    clients: Clients, world: World
) -> None:
    key = f"order-{uuid.uuid4().hex[:8]}"
    request = ex.StartExecutionRequest(
        workflow_id=world.parked, input=execution_pb2.ExecutionInput(input_json='{"n": 1}')
    )
    first = clients.rpc(request, metadata=(("idempotency-key", key),))
    again = clients.rpc(request, metadata=(("idempotency-key", key),))
    over_rest = clients.rest.post(
        "/workflows/v1/execution/start",
        json={"workflowId": world.parked, "input": {"inputJson": '{"n": 1}'}},
        headers={"Idempotency-Key": key},
    )
    assert isinstance(first, ex.StartExecutionResponse)
    assert first.execution_id == again.execution_id
    assert over_rest.json() == {"executionId": first.execution_id}

    other = ex.StartExecutionRequest(
        workflow_id=world.parked, input=execution_pb2.ExecutionInput(input_json='{"n": 2}')
    )
    refused = grpc_error(lambda: clients.rpc(other, metadata=(("idempotency-key", key),)))
    error = rest_error(
        clients.rest.post(
            "/workflows/v1/execution/start",
            json={"workflowId": world.parked, "input": {"inputJson": '{"n": 2}'}},
            headers={"Idempotency-Key": key},
        )
    )
    assert refused.code().value[0] == error.code == Code.ALREADY_EXISTS
    assert refused.details() == error.message
    assert error.message.startswith("Idempotency-Key:")
    clients.rest.post(f"/workflows/v1/execution/{first.execution_id}/terminate")


def test_an_input_value_arrives_as_rest_sends_it(clients: Clients, world: World) -> None:
    value = struct_pb2.Value()
    value.struct_value.update({"n": 3, "price": 2.5, "tags": ["a", None, True]})
    started = clients.rpc(
        ex.StartExecutionRequest(
            workflow_id=world.parked, input=execution_pb2.ExecutionInput(input_value=value)
        )
    )
    reply = clients.rest.post(
        "/workflows/v1/execution/start",
        json={
            "workflowId": world.parked,
            "input": {"inputValue": {"n": 3, "price": 2.5, "tags": ["a", None, True]}},
        },
    )
    shown = [
        clients.rest.get(f"/workflows/v1/execution/{e}").json()["execution"]["input"]
        for e in (started.execution_id, reply.json()["executionId"])
    ]
    # The same JSON (a Struct's keys need not keep their order on the wire).
    assert json.loads(shown[0]["inputJson"]) == json.loads(shown[1]["inputJson"])
    assert json.loads(shown[0]["inputJson"]) == {"n": 3, "price": 2.5, "tags": ["a", None, True]}
    for execution_id in (started.execution_id, reply.json()["executionId"]):
        clients.rest.post(f"/workflows/v1/execution/{execution_id}/terminate")


DEEP = "[" * 10_000 + "]" * 10_000
BIG = json.dumps({"blob": "x" * (2 * 1024 * 1024)})

EXECUTION_ERRORS = [
    pytest.param(
        ex.GetExecutionRequest(execution_id="<no_execution>"),
        Rest("GET", "/execution/<no_execution>"),
        Code.NOT_FOUND,
        "executionId:",
        id="get-unknown",
    ),
    pytest.param(
        ex.GetExecutionRequest(execution_id="nope"),
        Rest("GET", "/execution/nope"),
        Code.INVALID_ARGUMENT,
        "executionId:",
        id="get-malformed",
    ),
    pytest.param(
        ex.GetExecutionRequest(execution_id="../workflow/<fast>"),
        Rest("GET", "/execution/..%2Fworkflow%2F<fast>"),
        Code.INVALID_ARGUMENT,
        "executionId:",
        id="get-id-with-slashes",
    ),
    pytest.param(
        ex.GetExecutionHistoryRequest(execution_id="<no_execution>"),
        Rest("GET", "/execution/<no_execution>/history"),
        Code.NOT_FOUND,
        "executionId:",
        id="history-unknown",
    ),
    pytest.param(
        ex.GetExecutionHistoryRequest(execution_id="nope"),
        Rest("GET", "/execution/nope/history"),
        Code.INVALID_ARGUMENT,
        "executionId:",
        id="history-malformed",
    ),
    *(
        pytest.param(
            rpc(execution_id=execution_id),
            Rest("POST", f"/execution/{execution_id}/{verb}"),
            code,
            text,
            id=f"{verb}-{case}",
        )
        for rpc, verb in (
            (ex.StopExecutionRequest, "stop"),
            (ex.TerminateExecutionRequest, "terminate"),
        )
        for case, execution_id, code, text in (
            ("unknown", "<no_execution>", Code.NOT_FOUND, "executionId:"),
            ("malformed", "not-an-id", Code.INVALID_ARGUMENT, "executionId:"),
            ("finished", "<finished>", Code.FAILED_PRECONDITION, "FINISHED"),
        )
    ),
    pytest.param(
        ex.StartExecutionRequest(workflow_id="<no_workflow>"),
        Rest("POST", "/execution/start", body={"workflowId": "<no_workflow>"}),
        Code.NOT_FOUND,
        "workflowId:",
        id="start-unknown-workflow",
    ),
    pytest.param(
        ex.StartExecutionRequest(),
        Rest("POST", "/execution/start", body={}),
        Code.INVALID_ARGUMENT,
        "workflowId:",
        id="start-without-workflow",
    ),
    pytest.param(
        ex.StartExecutionRequest(workflow_id="BAD ID!"),
        Rest("POST", "/execution/start", body={"workflowId": "BAD ID!"}),
        Code.INVALID_ARGUMENT,
        "workflowId:",
        id="start-malformed-workflow",
    ),
    *(
        pytest.param(
            ex.StartExecutionRequest(
                workflow_id="<parked>", input=execution_pb2.ExecutionInput(input_json=text)
            ),
            Rest(
                "POST",
                "/execution/start",
                body={"workflowId": "<parked>", "input": {"inputJson": text}},
            ),
            Code.INVALID_ARGUMENT,
            "input.inputJson:",
            id=f"start-input-{case}",
        )
        for case, text in (("not-json", "{oops"), ("nan", "NaN"), ("deep", DEEP), ("big", BIG))
    ),
]


@pytest.mark.parametrize(("request_message", "rest", "code", "field_name"), EXECUTION_ERRORS)
def test_execution_errors_are_the_rest_errors(
    clients: Clients,
    world: World,
    request_message: Message,
    rest: Rest,
    code: Code,
    field_name: str,
) -> None:
    assert_same_error(clients, world.request(request_message), rest.filled(world), code, field_name)


def test_an_input_value_with_no_json_form_is_refused_naming_it(
    clients: Clients, world: World
) -> None:
    value = struct_pb2.Value()
    value.list_value.values.add().number_value = float("nan")
    request = ex.StartExecutionRequest(
        workflow_id=world.parked, input=execution_pb2.ExecutionInput(input_value=value)
    )
    refused = grpc_error(lambda: clients.rpc(request))
    # REST cannot even write it (NaN is not JSON); its nearest request is refused alike.
    over_rest = rest_error(
        clients.http(
            Rest(
                "POST",
                "/execution/start",
                body={"workflowId": "<parked>", "input": {"inputJson": "[NaN]"}},
            ).filled(world)
        )
    )
    assert refused.code().value[0] == over_rest.code == Code.INVALID_ARGUMENT
    assert refused.details() == "input.inputValue: NaN is not a JSON value"


def _list_executions(workflow: str, **params: Any) -> tuple[Message, Rest]:
    query = {k: str(v) for k, v in params.items()}
    grpc_names = {"pageSize": "page_size", "pageToken": "page_token", "filter": "filter"}
    request = ex.ListExecutionsRequest(
        workflow_id=workflow, **{grpc_names[k]: v for k, v in params.items()}
    )
    return request, Rest("GET", "/execution", query={"workflowId": workflow, **query})


LIST_EXECUTION_ERRORS = [
    pytest.param(
        ex.ListExecutionsRequest(),
        Rest("GET", "/execution"),
        "workflowId: required",
        id="no-workflow",
    ),
    pytest.param(
        ex.ListExecutionsRequest(workflow_id="Bad Id"),
        Rest("GET", "/execution", query={"workflowId": "Bad Id"}),
        "workflowId:",
        id="malformed-workflow",
    ),
    *(
        pytest.param(*_list_executions("<fast>", **params), text, id=case)
        for case, params, text in (
            ("page-size-too-big", {"pageSize": 2147483648}, "pageSize: must be between"),
            ("page-size-negative", {"pageSize": -1}, "pageSize: must be between"),
            ("status-misspelt", {"filter": "status=ERROR"}, "did you mean FAILED?"),
            ("status-compared", {"filter": "status>FAILED"}, "status supports only '='"),
            ("unknown-field", {"filter": "owner=me"}, "unknown field 'owner'"),
            ("not-a-time", {"filter": "started_at>yesterday"}, "is not an RFC 3339 timestamp"),
            ("not-a-date", {"filter": "started_at>2026-13-01T00:00:00Z"}, "is not a valid date"),
            ("or", {"filter": "status=FAILED OR status=STOPPED"}, "is not an execution status"),
            ("garbage-token", {"pageToken": "garbage"}, "pageToken:"),
        )
    ),
]


@pytest.mark.parametrize(("request_message", "rest", "field_name"), LIST_EXECUTION_ERRORS)
def test_list_execution_errors_are_the_rest_errors(
    clients: Clients, world: World, request_message: Message, rest: Rest, field_name: str
) -> None:
    assert_same_error(
        clients,
        world.request(request_message),
        rest.filled(world),
        Code.INVALID_ARGUMENT,
        field_name,
    )


def _follow(
    clients: Clients,
    world: World,
    page: Callable[[str], tuple[Message, Rest]],
    items: str,
) -> list[list[str]]:
    """Every page of one List over both clients, the gRPC one's tokens followed to the end;
    each page equal to the REST page of the same token. The ids of each page."""
    pages, token = [], ""
    for _ in range(50):
        request, rest = page(token)
        answer = assert_same_answer(clients, world.request(request), rest.filled(world))
        pages.append([getattr(item, "id", "") for item in getattr(answer, items)])
        token = answer.next_page_token
        if not token:
            return pages
    raise AssertionError(f"more than 50 pages: {pages}")


@pytest.mark.parametrize(
    ("size", "pages"),
    [(0, [FINISHED_RUNS]), (1, [1] * FINISHED_RUNS), (2, [2, 2, 1]), (2147483647, [FINISHED_RUNS])],
    ids=["0-means-100", "one", "two", "the-largest"],
)
def test_list_executions_pages_as_rest(
    clients: Clients, world: World, size: int, pages: list[int]
) -> None:
    def page(token: str) -> tuple[Message, Rest]:
        params: dict[str, Any] = {"pageSize": size} if size else {}
        return _list_executions("<fast>", **params, **({"pageToken": token} if token else {}))

    seen = _follow(clients, world, page, "executions")
    assert [len(p) for p in seen] == pages


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("status=FINISHED", FINISHED_RUNS),
        ('status="FINISHED"', FINISHED_RUNS),
        ("status=FAILED", 0),
        ("started_at>2000-01-01T00:00:00Z", FINISHED_RUNS),
        ("started_at<2000-01-01T00:00:00Z", 0),
        ("finished_at>2000-01-01T00:00:00Z AND status=FINISHED", FINISHED_RUNS),
        ("status=RUNNING AND finished_at>2000-01-01T00:00:00Z", 0),
    ],
)
def test_list_executions_filters_as_rest(
    clients: Clients, world: World, filter_text: str, expected: int
) -> None:
    seen = _follow(
        clients,
        world,
        lambda token: _list_executions(
            "<fast>", pageSize=2, filter=filter_text, **({"pageToken": token} if token else {})
        ),
        "executions",
    )
    assert sum(len(p) for p in seen) == expected


def test_stopped_and_running_executions_are_filtered_as_rest(
    clients: Clients, world: World
) -> None:
    for status, execution in (("STOPPED", world.stopped), ("RUNNING", world.running)):
        request, rest = _list_executions("<parked>", filter=f"status={status}")
        listed = assert_same_answer(
            clients, world.request(request), rest.filled(world), moving=("duration",)
        )
        assert execution in [e.id for e in listed.executions]


def test_a_page_token_is_bound_to_its_filter_and_tamper_evident_as_over_rest(
    clients: Clients, world: World
) -> None:
    request, _ = _list_executions("<fast>", pageSize=2)
    token = clients.rpc(world.request(request)).next_page_token
    body, mac = token.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    for given, params in (
        (token, {"filter": "status=FAILED"}),
        (forged, {}),
    ):
        request, rest = _list_executions("<fast>", pageSize=2, pageToken=given, **params)
        assert_same_error(
            clients, world.request(request), rest.filled(world), Code.INVALID_ARGUMENT, "pageToken:"
        )


# --- Stepline's extensions: redrive, pause, resume, task answers -----------------------------


def test_pause_and_resume_answer_as_rest(clients: Clients, world: World) -> None:
    execution_id = _start(clients, world.parked)
    for rpc, verb, status in (
        (xt.PauseExecutionRequest, "pause", "PAUSED"),
        (xt.ResumeExecutionRequest, "resume", "RUNNING"),
    ):
        for _ in range(2):  # again answers as the first time
            answer = assert_same_answer(
                clients,
                rpc(execution_id=execution_id),
                Rest("POST", f"/execution/{execution_id}:{verb}").filled(world),
            )
            assert answer.execution_id == execution_id  # type: ignore[attr-defined]
        end = time.monotonic() + DEADLINE
        while _status(clients, execution_id) not in (status, "QUEUED"):
            assert time.monotonic() < end, _status(clients, execution_id)
            time.sleep(0.05)
    clients.rest.post(f"/workflows/v1/execution/{execution_id}/terminate")


def test_redrive_answers_its_count_and_a_second_one_is_refused_as_over_rest(
    clients: Clients, world: World
) -> None:
    execution_id = _start(clients, world.parked)
    clients.rest.post(f"/workflows/v1/execution/{execution_id}/stop")
    end = time.monotonic() + DEADLINE
    while True:  # stopped, and its Wait closed: then it may be redriven
        answer = clients.rest.post(f"/workflows/v1/execution/{execution_id}:redrive")
        if answer.status_code == 200:
            break
        assert time.monotonic() < end, answer.text
        time.sleep(0.05)
    assert answer.json() == {"executionId": execution_id, "redriveCount": "1"}
    clients.rest.post(f"/workflows/v1/execution/{execution_id}/stop")
    while True:
        try:
            redriven = clients.rpc(xt.RedriveExecutionRequest(execution_id=execution_id))
            break
        except grpc.RpcError as refused:  # still closing its steps
            assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION, refused.details()
            assert time.monotonic() < end, refused.details()
            time.sleep(0.05)

    assert isinstance(redriven, xt.RedriveExecutionResponse)
    assert (redriven.execution_id, redriven.redrive_count) == (execution_id, 2)
    got = clients.rest.get(f"/workflows/v1/execution/{execution_id}").json()["execution"]
    assert got["redriveCount"] == "2"
    assert_same_error(  # running again: nothing to redrive
        clients,
        xt.RedriveExecutionRequest(execution_id=execution_id),
        Rest("POST", f"/execution/{execution_id}:redrive").filled(world),
        Code.FAILED_PRECONDITION,
        "executionId:",
    )
    clients.rest.post(f"/workflows/v1/execution/{execution_id}/terminate")


FORGED = "c3dub3RoZXJl.1." + "A" * 43
EXTENSION_ERRORS = [
    *(
        pytest.param(
            rpc(execution_id=execution_id),
            Rest("POST", f"/execution/{execution_id}:{verb}"),
            code,
            "executionId:",
            id=f"{verb}-{case}",
        )
        for rpc, verb in (
            (xt.RedriveExecutionRequest, "redrive"),
            (xt.PauseExecutionRequest, "pause"),
            (xt.ResumeExecutionRequest, "resume"),
        )
        for case, execution_id, code in (
            ("unknown", "<no_execution>", Code.NOT_FOUND),
            ("malformed", "not-an-id", Code.INVALID_ARGUMENT),
            ("finished", "<finished>", Code.FAILED_PRECONDITION),
        )
    ),
    *(
        pytest.param(
            rpc,
            Rest("POST", f"/execution:{verb}", body=body),
            code,
            field_name,
            id=f"{verb}-{case}",
        )
        for rpc, verb, body, case, code, field_name in (
            (
                xt.SendTaskSuccessRequest(task_token=FORGED, output_json="{}"),
                "sendTaskSuccess",
                {"taskToken": FORGED, "outputJson": "{}"},
                "forged",
                Code.NOT_FOUND,
                "taskToken:",
            ),
            (
                xt.SendTaskSuccessRequest(),
                "sendTaskSuccess",
                {},
                "no-token",
                Code.INVALID_ARGUMENT,
                "taskToken",
            ),
            (
                xt.SendTaskSuccessRequest(task_token=FORGED, output_json="{oops"),
                "sendTaskSuccess",
                {"taskToken": FORGED, "outputJson": "{oops"},
                "not-json",
                Code.INVALID_ARGUMENT,
                "output",
            ),
            (
                xt.SendTaskFailureRequest(task_token=FORGED, error_code="NOT_A_CODE"),
                "sendTaskFailure",
                {"taskToken": FORGED, "errorCode": "NOT_A_CODE"},
                "bad-code",
                Code.INVALID_ARGUMENT,
                "error",
            ),
            (
                xt.SendTaskHeartbeatRequest(task_token=FORGED),
                "sendTaskHeartbeat",
                {"taskToken": FORGED},
                "forged",
                Code.NOT_FOUND,
                "taskToken:",
            ),
        )
    ),
]


@pytest.mark.parametrize(("request_message", "rest", "code", "field_name"), EXTENSION_ERRORS)
def test_extension_errors_are_the_rest_errors(
    clients: Clients,
    world: World,
    request_message: Message,
    rest: Rest,
    code: Code,
    field_name: str,
) -> None:
    assert_same_error(clients, world.request(request_message), rest.filled(world), code, field_name)


# --- WorkflowService: Create, Get, Delete ---------------------------------------------------


def _workflow_fields(folder: str, name: str) -> tuple[wf.CreateWorkflowRequest, dict[str, Any]]:
    """A Create with every field set, as a gRPC request and as its REST body."""
    request = wf.CreateWorkflowRequest(
        folder_id=folder,
        name=name,
        description="Order processing",
        labels={"team": "payments", "tier": "gold"},
        specification=workflow_pb2.WorkflowSpecification(spec_yaml=FAST),
        log_options=workflow_pb2.LogOptions(min_level=log_entry_pb2.LogLevel.WARN),
        service_account_id="sa-1",
        express=True,
        schedule=workflow_pb2.WorkflowSchedule(cron_expression="0 9 * * ? *", timezone="UTC"),
        is_public=True,
    )
    body = {
        "folderId": folder,
        "name": name,
        "description": "Order processing",
        "labels": {"team": "payments", "tier": "gold"},
        "specification": {"specYaml": FAST},
        "logOptions": {"minLevel": "WARN"},
        "serviceAccountId": "sa-1",
        "express": True,
        "schedule": {"cronExpression": "0 9 * * ? *", "timezone": "UTC"},
        "isPublic": True,
    }
    return request, body


VOLATILE = ("id", "createdAt", "modifiedAt")


def _operation_shape(operation: dict[str, Any], workflow: dict[str, Any] | None) -> dict[str, Any]:
    """An Operation without what differs between two calls (its id and times, the workflow's
    id, name, creation time and link)."""
    shape = {k: v for k, v in operation.items() if k not in VOLATILE}
    shape["metadata"] = {k: v for k, v in shape["metadata"].items() if k != "workflowId"}
    if workflow is not None:
        shape["response"] = {
            k: v
            for k, v in shape["response"].items()
            if k not in ("id", "name", "createdAt", "executionUrl")
        }
    return shape


def test_create_get_and_delete_answer_as_rest(clients: Clients, world: World) -> None:
    request, body = _workflow_fields(world.folder, "full")
    operation = clients.rpc(request)
    assert isinstance(operation, operation_pb2.Operation)
    assert operation.done
    metadata, created = wf.CreateWorkflowMetadata(), workflow_pb2.Workflow()
    assert operation.metadata.Unpack(metadata) and operation.response.Unpack(created)
    got = assert_same_answer(
        clients,
        wf.GetWorkflowRequest(workflow_id=metadata.workflow_id),
        Rest("GET", f"/workflow/{metadata.workflow_id}").filled(world),
    )
    assert isinstance(got, wf.GetWorkflowResponse)
    assert json_format.MessageToDict(got.workflow) == json_format.MessageToDict(created)

    twin = clients.rest.post("/workflows/v1/workflow", json=body | {"name": "full-twin"})
    assert twin.status_code == 200, twin.text
    over_rest = canonical(twin.json(), operation_pb2.Operation)
    over_grpc = json_format.MessageToDict(operation)
    assert _operation_shape(over_grpc, created) == _operation_shape(over_rest, {})

    deleted = clients.rpc(wf.DeleteWorkflowRequest(workflow_id=metadata.workflow_id))
    twin_deleted = clients.rest.delete(f"/workflows/v1/workflow/{twin.json()['response']['id']}")
    assert _operation_shape(json_format.MessageToDict(deleted), None) == _operation_shape(
        canonical(twin_deleted.json(), operation_pb2.Operation), None
    )
    for workflow_id in (metadata.workflow_id, twin.json()["response"]["id"]):
        assert_same_error(
            clients,
            wf.GetWorkflowRequest(workflow_id=workflow_id),
            Rest("GET", f"/workflow/{workflow_id}").filled(world),
            Code.NOT_FOUND,
            "workflowId:",
        )


def _create_request(name: str = "orders", **fields: Any) -> wf.CreateWorkflowRequest:
    request = wf.CreateWorkflowRequest(
        folder_id="<folder>",
        name=name,
        specification=workflow_pb2.WorkflowSpecification(spec_yaml=FAST),
    )
    for key, value in fields.items():
        if isinstance(value, Message):
            getattr(request, key).CopyFrom(value)
        elif isinstance(value, dict):
            getattr(request, key).update(value)
        else:
            setattr(request, key, value)
    return request


def _create_body(name: str | None = "orders", **fields: Any) -> Rest:
    body = {"folderId": "<folder>", "specification": {"specYaml": FAST}} | fields
    if name is not None:
        body["name"] = name
    return Rest("POST", "/workflow", body={k: v for k, v in body.items() if v is not None})


def _spec(text: str) -> workflow_pb2.WorkflowSpecification:
    return workflow_pb2.WorkflowSpecification(spec_yaml=text)


CREATE_ERRORS = [
    pytest.param(_create_request("Orders"), _create_body("Orders"), "name:", id="name-uppercase"),
    pytest.param(_create_request("a" * 64), _create_body("a" * 64), "name:", id="name-too-long"),
    pytest.param(_create_request("orders-"), _create_body("orders-"), "name:", id="name-dash-last"),
    pytest.param(_create_request(""), _create_body(None), "name:", id="name-missing"),
    pytest.param(
        _create_request(description="d" * 257),
        _create_body(description="d" * 257),
        "description:",
        id="description-too-long",
    ),
    pytest.param(
        _create_request(labels={"Team": "x"}),
        _create_body(labels={"Team": "x"}),
        "'Team'",
        id="label-key",
    ),
    pytest.param(
        _create_request(labels={"team": "X"}),
        _create_body(labels={"team": "X"}),
        "'X'",
        id="label-value",
    ),
    pytest.param(
        _create_request(labels={f"k{n}": "v" for n in range(65)}),
        _create_body(labels={f"k{n}": "v" for n in range(65)}),
        "labels:",
        id="labels-too-many",
    ),
    *(
        pytest.param(
            _create_request(specification=_spec(text)),
            _create_body(specification={"specYaml": text}),
            "specification.specYaml:",
            id=f"spec-{case}",
        )
        for case, text in (
            ("text", "just text"),
            ("no-steps", "yawl: '0.1'"),
            ("not-yaml", "a: [1"),
            ("unknown-next", "yawl: '0.1'\nstart: a\nsteps:\n  a:\n    noOp: {next: nowhere}\n"),
            (
                "flow-500-deep",
                "yawl: '0.1'\nstart: a\nsteps:\n  a:\n    noOp: {}\nx: " + "[" * 500 + "]" * 500,
            ),
            (
                "5000-digits",
                "yawl: '0.1'\nstart: a\nsteps:\n  a:\n    while:\n      max_iterations: "
                + "9" * 5000
                + "\n      do: {start: w, steps: {w: {wait: {duration: 1s}}}}\n",
            ),
            ("wait-1e300", "yawl: '0.1'\nstart: a\nsteps:\n  a:\n    wait: {duration: '1e300'}\n"),
        )
    ),
    pytest.param(
        _create_request(specification=workflow_pb2.WorkflowSpecification()),
        _create_body(specification={}),
        "specification.specYaml:",
        id="spec-empty",
    ),
    pytest.param(
        wf.CreateWorkflowRequest(folder_id="<folder>", name="orders"),
        Rest("POST", "/workflow", body={"folderId": "<folder>", "name": "orders"}),
        "specification:",
        id="spec-missing",
    ),
    pytest.param(
        _create_request(log_options=workflow_pb2.LogOptions(min_level=99)),  # type: ignore[arg-type]
        _create_body(logOptions={"minLevel": 99}),
        "logOptions.minLevel:",
        id="log-level-unknown",
    ),
    pytest.param(
        _create_request(schedule=workflow_pb2.WorkflowSchedule(cron_expression="0 * * * ? *")),
        _create_body(schedule={"cronExpression": "0 * * * ? *"}),
        "schedule.timezone:",
        id="schedule-no-timezone",
    ),
    pytest.param(
        _create_request(
            schedule=workflow_pb2.WorkflowSchedule(cron_expression="x", timezone="UTC")
        ),
        _create_body(schedule={"cronExpression": "x", "timezone": "UTC"}),
        "schedule",
        id="schedule-bad-cron",
    ),
    pytest.param(
        _create_request(network_id="enp1"),
        _create_body(networkId="enp1"),
        "networkId:",
        id="network",
    ),
    pytest.param(
        _create_request(folder_id="-bad"),
        Rest(
            "POST",
            "/workflow",
            body={"folderId": "-bad", "name": "orders", "specification": {"specYaml": FAST}},
        ),
        "folderId:",
        id="folder-malformed",
    ),
]


@pytest.mark.parametrize(("request_message", "rest", "field_name"), CREATE_ERRORS)
def test_create_errors_are_the_rest_errors(
    clients: Clients, world: World, request_message: Message, rest: Rest, field_name: str
) -> None:
    assert_same_error(
        clients,
        world.request(request_message),
        rest.filled(world),
        Code.INVALID_ARGUMENT,
        field_name,
    )


def test_a_taken_name_is_already_exists_as_over_rest(clients: Clients, world: World) -> None:
    assert_same_error(
        clients,
        world.request(_create_request("fast")),
        _create_body("fast").filled(world),
        Code.ALREADY_EXISTS,
        "name:",
    )


WORKFLOW_ID_ERRORS = [
    pytest.param(request, Rest(verb, path), code, id=f"{case}-{kind}")
    for case, verb, make in (
        ("get", "GET", wf.GetWorkflowRequest),
        ("delete", "DELETE", wf.DeleteWorkflowRequest),
    )
    for kind, request, path, code in (
        ("unknown", make(workflow_id="<no_workflow>"), "/workflow/<no_workflow>", Code.NOT_FOUND),
        ("malformed", make(workflow_id="Bad Id"), "/workflow/Bad%20Id", Code.INVALID_ARGUMENT),
        (
            "slashes",
            make(workflow_id="../execution"),
            "/workflow/..%2Fexecution",
            Code.INVALID_ARGUMENT,
        ),
    )
] + [
    pytest.param(
        wf.UpdateWorkflowRequest(workflow_id="<no_workflow>", description="d"),
        Rest("PATCH", "/workflow/<no_workflow>", body={"description": "d"}),
        Code.NOT_FOUND,
        id="update-unknown",
    ),
    pytest.param(
        access_pb2.ListAccessBindingsRequest(resource_id="<no_workflow>"),
        Rest("GET", "/workflow/<no_workflow>:listAccessBindings"),
        Code.NOT_FOUND,
        id="list-access-bindings-unknown",
    ),
]


@pytest.mark.parametrize(("request_message", "rest", "code"), WORKFLOW_ID_ERRORS)
def test_unknown_and_malformed_workflow_ids_are_the_rest_errors(
    clients: Clients, world: World, request_message: Message, rest: Rest, code: Code
) -> None:
    assert_same_error(clients, world.request(request_message), rest.filled(world), code, "")


# --- WorkflowService.List -------------------------------------------------------------------


@pytest.fixture(scope="module")
def listed_folder(clients: Clients) -> dict[str, str]:
    """A folder of three workflows, created b-flow, a-flow, c-flow; the folder and the
    creation time of each."""
    folder = f"grpc-list-{uuid.uuid4().hex[:8]}"
    for name in ("b-flow", "a-flow", "c-flow"):
        _create_rest(clients, folder, name)
    listed = clients.rest.get("/workflows/v1/workflow", params={"folderId": folder}).json()
    return {"folder": folder} | {w["name"]: w["createdAt"] for w in listed["workflows"]}


def _list_workflows(folder: str, **params: Any) -> tuple[Message, Rest]:
    grpc_names = {"pageSize": "page_size", "pageToken": "page_token", "filter": "filter"}
    request = wf.ListWorkflowsRequest(
        folder_id=folder, **{grpc_names[k]: v for k, v in params.items()}
    )
    query = {"folderId": folder} | {k: str(v) for k, v in params.items()}
    return request, Rest("GET", "/workflow", query=query)


def _names(clients: Clients, world: World, page: Callable[[str], tuple[Message, Rest]]) -> list:
    """The names on every page of one workflow List, followed to the end over both clients."""
    names, token = [], ""
    for _ in range(20):
        request, rest = page(token)
        answer = assert_same_answer(clients, world.request(request), rest.filled(world))
        names.append([w.name for w in answer.workflows])
        token = answer.next_page_token
        if not token:
            return names
    raise AssertionError(names)


def _token(token: str) -> dict[str, str]:
    return {"pageToken": token} if token else {}


@pytest.mark.parametrize(
    ("size", "pages"),
    [
        (0, [["a-flow", "b-flow", "c-flow"]]),
        (1, [["a-flow"], ["b-flow"], ["c-flow"]]),
        (2, [["a-flow", "b-flow"], ["c-flow"]]),
        (3, [["a-flow", "b-flow", "c-flow"]]),
        (2147483647, [["a-flow", "b-flow", "c-flow"]]),
    ],
    ids=["0-means-100", "one", "two", "exactly-all", "the-largest"],
)
def test_list_workflows_pages_by_name_as_rest(
    clients: Clients, world: World, listed_folder: dict[str, str], size: int, pages: list
) -> None:
    folder = listed_folder["folder"]
    sized = {"pageSize": size} if size else {}
    seen = _names(clients, world, lambda token: _list_workflows(folder, **sized, **_token(token)))
    assert seen == pages


@pytest.mark.parametrize(
    ("filter_text", "names"),
    [
        ('name="b-flow"', ["b-flow"]),
        ("name=c-flow", ["c-flow"]),
        ("name=nothing", []),
        ("created_at>{b-flow}", ["a-flow", "c-flow"]),
        ("created_at<{b-flow}", []),
        ('created_at={a-flow} AND name="a-flow"', ["a-flow"]),
        ("created_at>2000-01-01T00:00:00Z AND name=c-flow", ["c-flow"]),
    ],
)
def test_list_workflows_filters_as_rest(
    clients: Clients, world: World, listed_folder: dict[str, str], filter_text: str, names: list
) -> None:
    text = re.sub(r"\{([a-z-]+)\}", lambda m: listed_folder[m.group(1)], filter_text)
    folder = listed_folder["folder"]
    seen = _names(
        clients,
        world,
        lambda token: _list_workflows(folder, pageSize=1, filter=text, **_token(token)),
    )
    assert [n for page in seen for n in page] == names


LIST_WORKFLOW_ERRORS = [
    pytest.param(*_list_workflows("<folder>", **params), text, id=case)
    for case, params, text in (
        ("unknown-field", {"filter": "owner=me"}, "filter: unknown field 'owner'"),
        ("name-compared", {"filter": "name>a"}, "name supports only '='"),
        ("not-a-time", {"filter": "created_at>yesterday"}, "is not an RFC 3339 timestamp"),
        ("name-twice", {"filter": "name=a AND name=b"}, "name is given twice"),
        ("page-size-negative", {"pageSize": -1}, "pageSize: must be between"),
        ("page-size-too-big", {"pageSize": 2147483648}, "pageSize: must be between"),
        ("garbage-token", {"pageToken": "garbage"}, "pageToken:"),
    )
] + [pytest.param(*_list_workflows("-bad"), "folderId:", id="folder-malformed")]


@pytest.mark.parametrize(("request_message", "rest", "field_name"), LIST_WORKFLOW_ERRORS)
def test_list_workflow_errors_are_the_rest_errors(
    clients: Clients, world: World, request_message: Message, rest: Rest, field_name: str
) -> None:
    assert_same_error(
        clients,
        world.request(request_message),
        rest.filled(world),
        Code.INVALID_ARGUMENT,
        field_name,
    )


def test_a_workflow_page_token_is_bound_to_its_filter_as_over_rest(
    clients: Clients, world: World, listed_folder: dict[str, str]
) -> None:
    folder = listed_folder["folder"]
    request, _ = _list_workflows(folder, pageSize=1)
    token = clients.rpc(world.request(request)).next_page_token
    request, rest = _list_workflows(folder, pageSize=1, pageToken=token, filter="name=b-flow")
    assert_same_error(
        clients, world.request(request), rest.filled(world), Code.INVALID_ARGUMENT, "pageToken:"
    )


# --- WorkflowService: access bindings -------------------------------------------------------


def _binding(role_id: str, subject_id: str, subject_type: str = "iamUser") -> dict[str, Any]:
    return {"roleId": role_id, "subject": {"id": subject_id, "type": subject_type}}


def _bindings(*bindings: dict[str, Any]) -> list[access_pb2.AccessBinding]:
    return [json_format.ParseDict(b, access_pb2.AccessBinding()) for b in bindings]


def _arn(name: str) -> str:
    return f"arn:aws:iam::123456789012:user/{name}"


def test_access_bindings_are_set_listed_and_updated_as_over_rest(
    clients: Clients, world: World
) -> None:
    on_grpc = _create_rest(clients, world.folder, "bound-grpc", PARKED)
    on_rest = _create_rest(clients, world.folder, "bound-rest", PARKED)
    a, b, c = (_binding(VIEWER, _arn(n)) for n in ("a", "b", "c"))

    operation = clients.rpc(
        access_pb2.SetAccessBindingsRequest(resource_id=on_grpc, access_bindings=_bindings(a, b))
    )
    over_rest = clients.rest.post(
        f"/workflows/v1/workflow/{on_rest}:setAccessBindings", json={"accessBindings": [a, b]}
    )
    assert _set_shape(json_format.MessageToDict(operation)) == _set_shape(
        canonical(over_rest.json(), operation_pb2.Operation)
    )

    def listed(workflow_id: str, **params: Any) -> tuple[Message, Rest]:
        names = {"pageSize": "page_size", "pageToken": "page_token"}
        request = access_pb2.ListAccessBindingsRequest(
            resource_id=workflow_id, **{names[k]: v for k, v in params.items()}
        )
        query = {k: str(v) for k, v in params.items()}
        return request, Rest("GET", f"/workflow/{workflow_id}:listAccessBindings", query=query)

    whole = assert_same_answer(clients, *_filled(world, *listed(on_grpc)))
    assert json_format.MessageToDict(whole) == {"accessBindings": [a, b]}
    first = assert_same_answer(clients, *_filled(world, *listed(on_grpc, pageSize=1)))
    token = first.next_page_token
    rest_page = assert_same_answer(clients, *_filled(world, *listed(on_grpc, pageToken=token)))
    assert json_format.MessageToDict(rest_page) == {"accessBindings": [b]}
    for params in ({"pageSize": -1}, {"pageToken": "garbage"}):
        assert_same_error(
            clients, *_filled(world, *listed(on_grpc, **params)), Code.INVALID_ARGUMENT, "page"
        )

    deltas = [
        {"action": "ADD", "accessBinding": c},
        {"action": "REMOVE", "accessBinding": a},
        {"action": "ADD", "accessBinding": b},
    ]
    updated = clients.rpc(
        access_pb2.UpdateAccessBindingsRequest(
            resource_id=on_grpc,
            access_binding_deltas=[
                json_format.ParseDict(d, access_pb2.AccessBindingDelta()) for d in deltas
            ],
        )
    )
    over_rest = clients.rest.post(
        f"/workflows/v1/workflow/{on_rest}:updateAccessBindings",
        json={"accessBindingDeltas": deltas},
    )
    assert _set_shape(json_format.MessageToDict(updated)) == _set_shape(
        canonical(over_rest.json(), operation_pb2.Operation)
    )
    for workflow_id in (on_grpc, on_rest):
        got = clients.rpc(access_pb2.ListAccessBindingsRequest(resource_id=workflow_id))
        assert json_format.MessageToDict(got) == {"accessBindings": [b, c]}


def _filled(world: World, request: Message, rest: Rest) -> tuple[Message, Rest]:
    return world.request(request), rest.filled(world)


def _set_shape(operation: dict[str, Any]) -> dict[str, Any]:
    shape = {k: v for k, v in operation.items() if k not in VOLATILE}
    shape["metadata"] = {k: v for k, v in shape["metadata"].items() if k != "resourceId"}
    shape["description"] = re.sub(r"sw\w+", "<workflow>", shape["description"])
    return shape


GOOD = _binding(VIEWER, _arn("x"))
BAD_SETS = [
    ([_binding("serverless.workflows.owner", _arn("x"))], "accessBindings.0.roleId:"),
    ([_binding(VIEWER, _arn("x"), "userAccount")], "accessBindings.0.subject.type:"),
    ([_binding(VIEWER, "aje1")], "accessBindings.0.subject.id:"),
    (
        [_binding(VIEWER, "arn:aws:iam::123456789012:role/a/*", "iamRole")],
        "accessBindings.0.subject.id:",
    ),
    ([{"roleId": VIEWER}], "accessBindings.0.subject:"),
    ([GOOD] * 1001, "accessBindings:"),
]
ACCESS_ERRORS = [
    pytest.param(
        access_pb2.SetAccessBindingsRequest(
            resource_id="<parked>", access_bindings=_bindings(*bindings)
        ),
        Rest("POST", "/workflow/<parked>:setAccessBindings", body={"accessBindings": bindings}),
        field_name,
        id=f"set-{n}",
    )
    for n, (bindings, field_name) in enumerate(BAD_SETS)
] + [
    pytest.param(
        access_pb2.UpdateAccessBindingsRequest(resource_id="<parked>"),
        Rest("POST", "/workflow/<parked>:updateAccessBindings", body={}),
        "accessBindingDeltas:",
        id="update-no-deltas",
    ),
    pytest.param(
        access_pb2.UpdateAccessBindingsRequest(
            resource_id="<parked>",
            access_binding_deltas=[
                json_format.ParseDict({"accessBinding": GOOD}, access_pb2.AccessBindingDelta())
            ],
        ),
        Rest(
            "POST",
            "/workflow/<parked>:updateAccessBindings",
            body={"accessBindingDeltas": [{"accessBinding": GOOD}]},
        ),
        "accessBindingDeltas.0.action:",
        id="update-action-unspecified",
    ),
]


@pytest.mark.parametrize(("request_message", "rest", "field_name"), ACCESS_ERRORS)
def test_access_binding_errors_are_the_rest_errors(
    clients: Clients, world: World, request_message: Message, rest: Rest, field_name: str
) -> None:
    message = assert_same_error(
        clients,
        world.request(request_message),
        rest.filled(world),
        Code.INVALID_ARGUMENT,
        field_name,
    )
    assert message.startswith(field_name)


# --- OperationService -----------------------------------------------------------------------


def test_every_operation_a_change_answered_is_got_again_as_over_rest(
    clients: Clients, world: World
) -> None:
    created = clients.rpc(_workflow_fields(world.folder, "operated")[0])
    workflow_id = _metadata_workflow_id(created)
    updated = clients.rpc(
        wf.UpdateWorkflowRequest(
            workflow_id=workflow_id,
            description="second",
            update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        )
    )
    deleted = clients.rpc(wf.DeleteWorkflowRequest(workflow_id=workflow_id))

    for answered in (created, updated, deleted):
        request = operation_service_pb2.GetOperationRequest(operation_id=answered.id)
        call = Rest("GET", f"/operations/{answered.id}").filled(world)
        got = assert_same_answer(clients, request, call)
        # What the change answered is what Get finds (compared unpacked: an Any's bytes hold
        # map entries in no fixed order).
        assert json_format.MessageToDict(got) == json_format.MessageToDict(answered)
    assert updated.done and deleted.response.type_url.endswith("google.protobuf.Empty")


def test_a_workflows_operations_are_listed_and_paged_as_over_rest(
    clients: Clients, world: World
) -> None:
    created = clients.rpc(_workflow_fields(world.folder, "listed-ops")[0])
    workflow_id = _metadata_workflow_id(created)
    for n in range(3):
        clients.rpc(
            wf.UpdateWorkflowRequest(
                workflow_id=workflow_id,
                description=f"v{n}",
                update_mask=field_mask_pb2.FieldMask(paths=["description"]),
            )
        )

    token, ids = "", []
    while True:
        request = wf.ListOperationsRequest(workflow_id=workflow_id, page_size=3, page_token=token)
        query = {"pageSize": "3"} | ({"pageToken": token} if token else {})
        call = Rest("GET", f"/workflow/{workflow_id}/operations", query).filled(world)
        page = assert_same_answer(clients, request, call)
        assert isinstance(page, wf.ListOperationsResponse)
        ids += [o.id for o in page.operations]
        token = page.next_page_token
        if not token:
            break
    assert len(ids) == 4 and ids[0] == created.id


@pytest.mark.parametrize(
    ("request_message", "rest", "code", "field_name"),
    [
        (
            operation_service_pb2.GetOperationRequest(operation_id="op000000000000000000"),
            Rest("GET", "/operations/op000000000000000000"),
            Code.NOT_FOUND,
            "operationId",
        ),
        (
            operation_service_pb2.GetOperationRequest(operation_id="NOT-AN-ID"),
            Rest("GET", "/operations/NOT-AN-ID"),
            Code.INVALID_ARGUMENT,
            "operationId",
        ),
        (
            wf.ListOperationsRequest(workflow_id="<no_workflow>"),
            Rest("GET", "/workflow/<no_workflow>/operations"),
            Code.NOT_FOUND,
            "workflowId",
        ),
        (
            wf.ListOperationsRequest(workflow_id="<fast>", filter="status=DONE"),
            Rest("GET", "/workflow/<fast>/operations", {"filter": "status=DONE"}),
            Code.INVALID_ARGUMENT,
            "filter",
        ),
        (
            wf.ListOperationsRequest(workflow_id="<fast>", page_token="forged"),
            Rest("GET", "/workflow/<fast>/operations", {"pageToken": "forged"}),
            Code.INVALID_ARGUMENT,
            "pageToken",
        ),
    ],
)
def test_operation_errors_are_the_rest_errors(
    clients: Clients,
    world: World,
    request_message: Message,
    rest: Rest,
    code: Code,
    field_name: str,
) -> None:
    request, call = _filled(world, request_message, rest)
    assert_same_error(clients, request, call, code, field_name)


def _metadata_workflow_id(operation: Message) -> str:
    metadata = wf.CreateWorkflowMetadata()
    operation.metadata.Unpack(metadata)
    return metadata.workflow_id


def test_cancel_answers_as_rest(clients: Clients, world: World) -> None:
    created = clients.rpc(_workflow_fields(world.folder, "cancelled")[0])
    assert isinstance(created, operation_pb2.Operation)
    for operation_id in (created.id, "op000000000000000000"):
        assert_same_result(
            clients,
            operation_service_pb2.CancelOperationRequest(operation_id=operation_id),
            Rest("GET", f"/operations/{operation_id}:cancel"),
        )


def assert_same_result(clients: Clients, request: Message, rest: Rest) -> None:
    """The RPC answers what the REST call answers, or fails as it fails."""
    over_rest = clients.http(rest)
    if over_rest.status_code == 200:
        over_grpc = clients.rpc(request)
        assert json_format.MessageToDict(over_grpc) == canonical(over_rest.json(), type(over_grpc))
        return
    error = rest_error(over_rest)
    refused = grpc_error(lambda: clients.rpc(request))
    assert (refused.code().value[0], refused.details()) == (error.code, error.message)


# --- UpdateWorkflow and its update_mask -----------------------------------------------------

TWIN_FIELDS: dict[str, Any] = {
    "description": "old",
    "labels": {"team": "payments"},
    "logOptions": {"minLevel": "WARN"},
    "serviceAccountId": "sa-1",
    "express": True,
    "schedule": {"cronExpression": "0 9 * * ? *", "timezone": "UTC"},
    "isPublic": True,
}
SHOWN_ALIKE = ("id", "name", "createdAt", "executionUrl")


def _masked(paths: list[str] | None, **fields: Any) -> wf.UpdateWorkflowRequest:
    request = wf.UpdateWorkflowRequest(**fields)
    if paths is not None:
        request.update_mask.CopyFrom(field_mask_pb2.FieldMask(paths=paths))
    return request


UPDATES = [
    pytest.param(
        _masked(["description"]),
        {"updateMask": "description"},
        {"description": None},
        id="mask-clears-description",
    ),
    pytest.param(
        _masked(["labels"]), {"updateMask": "labels"}, {"labels": None}, id="mask-empties-labels"
    ),
    pytest.param(
        _masked(["is_public", "express"]),
        {"updateMask": "isPublic,express"},
        {"isPublic": None, "express": None},
        id="mask-turns-flags-off",
    ),
    pytest.param(
        _masked(["isPublic"]),
        {"updateMask": "isPublic"},
        {"isPublic": None},
        id="mask-path-in-camel-case",
    ),
    pytest.param(
        _masked(["schedule", "log_options", "service_account_id"]),
        {"updateMask": "schedule,logOptions,serviceAccountId"},
        {"schedule": None, "logOptions": None, "serviceAccountId": None},
        id="mask-clears-messages",
    ),
    pytest.param(
        _masked(["description"], description="new", labels={"other": "x"}),
        {"updateMask": "description", "description": "new", "labels": {"other": "x"}},
        {"description": "new"},
        id="mask-leaves-unmasked-fields",
    ),
    pytest.param(
        _masked(None, description="", labels={}, is_public=False, express=False),
        {},
        {},
        id="no-mask-defaults-change-nothing",
    ),
    pytest.param(
        _masked(None, description="new", labels={"other": "x"}),
        {"description": "new", "labels": {"other": "x"}},
        {"description": "new", "labels": {"other": "x"}},
        id="no-mask-changes-what-is-set",
    ),
    pytest.param(
        _masked(None, log_options=workflow_pb2.LogOptions()),
        {"logOptions": {}},
        {"logOptions": {}},
        id="no-mask-a-set-message-counts",
    ),
    pytest.param(
        _masked([], description="new"),
        {"updateMask": "", "description": "new"},
        {},
        id="empty-mask-changes-nothing",
    ),
]


def _twin(clients: Clients, folder: str, name: str) -> dict[str, Any]:
    reply = clients.rest.post(
        "/workflows/v1/workflow",
        json={"folderId": folder, "name": name, "specification": {"specYaml": FAST}} | TWIN_FIELDS,
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["response"])


def _shown(clients: Clients, workflow_id: str) -> dict[str, Any]:
    got = clients.rest.get(f"/workflows/v1/workflow/{workflow_id}").json()
    workflow = canonical(got, wf.GetWorkflowResponse)["workflow"]
    return {k: v for k, v in workflow.items() if k not in SHOWN_ALIKE}


# ``changed``: the fields the update changes as the Workflow then shows them (None: gone, as
# proto3 JSON leaves out a default).
@pytest.mark.parametrize(("update", "body", "changed"), UPDATES)
def test_update_over_grpc_changes_what_the_same_rest_patch_changes(
    clients: Clients,
    world: World,
    update: wf.UpdateWorkflowRequest,
    body: dict[str, Any],
    changed: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    case = re.sub(r"[^a-z0-9]+", "-", request.node.callspec.id)[:40].strip("-")
    on_grpc = _twin(clients, world.folder, f"u-{case}-g")
    on_rest = _twin(clients, world.folder, f"u-{case}-r")
    before = _shown(clients, on_grpc["id"])
    sent = wf.UpdateWorkflowRequest()
    sent.CopyFrom(update)
    sent.workflow_id = on_grpc["id"]

    operation = clients.rpc(sent)
    patched = clients.rest.patch(f"/workflows/v1/workflow/{on_rest['id']}", json=body)

    assert patched.status_code == 200, patched.text
    assert isinstance(operation, operation_pb2.Operation)
    after = _shown(clients, on_grpc["id"])
    assert after == _shown(clients, on_rest["id"])
    expected = {k: v for k, v in (before | changed).items() if v is not None}
    assert after == expected
    answered = workflow_pb2.Workflow()
    assert operation.response.Unpack(answered)
    shown = json_format.MessageToDict(answered)
    assert {k: v for k, v in shown.items() if k not in SHOWN_ALIKE} == after


UPDATE_ERRORS = [
    pytest.param(
        _masked(["name"]), {"updateMask": "name", "name": ""}, "name:", id="mask-empty-name"
    ),
    pytest.param(
        _masked(["specification"]),
        {"updateMask": "specification", "specification": None},
        "specification: required",
        id="mask-no-specification",
    ),
    pytest.param(
        _masked(["colour"]), {"updateMask": "colour"}, "updateMask:", id="mask-unknown-field"
    ),
    pytest.param(
        _masked(["log_options.min_level"]),
        {"updateMask": "logOptions.minLevel"},
        "updateMask:",
        id="mask-nested-path",
    ),
    pytest.param(
        _masked(["workflow_id"]), {"updateMask": "workflowId"}, "updateMask:", id="mask-the-id"
    ),
    pytest.param(
        _masked(None, specification=_spec("nope")),
        {"specification": {"specYaml": "nope"}},
        "specification.specYaml:",
        id="bad-spec",
    ),
    pytest.param(
        _masked(["network_id"], network_id="enp1"),
        {"updateMask": "networkId", "networkId": "enp1"},
        "networkId:",
        id="network",
    ),
    pytest.param(_masked(None, name="Orders"), {"name": "Orders"}, "name:", id="name-malformed"),
]


@pytest.mark.parametrize(("update", "body", "field_name"), UPDATE_ERRORS)
def test_update_errors_are_the_rest_errors(
    clients: Clients,
    world: World,
    update: wf.UpdateWorkflowRequest,
    body: dict[str, Any],
    field_name: str,
) -> None:
    sent = wf.UpdateWorkflowRequest()
    sent.CopyFrom(update)
    sent.workflow_id = world.fast
    assert_same_error(
        clients,
        sent,
        Rest("PATCH", f"/workflow/{world.fast}", body=body).filled(world),
        Code.INVALID_ARGUMENT,
        field_name,
    )


def test_a_rename_onto_a_taken_name_is_already_exists_as_over_rest(
    clients: Clients, world: World
) -> None:
    assert_same_error(
        clients,
        _masked(["name"], workflow_id=world.parked, name="fast"),
        Rest(
            "PATCH", f"/workflow/{world.parked}", body={"updateMask": "name", "name": "fast"}
        ).filled(world),
        Code.ALREADY_EXISTS,
        "name:",
    )


# --- callers other than the account root ----------------------------------------------------


@dataclass
class Caller:
    """An IAM user of the stack's account: its gRPC endpoint (a transcoder signing as it, as
    ``stepline grpc-gateway --profile`` does) and a REST client signed as it."""

    arn: str
    clients: Clients


@pytest.fixture(scope="module")
def callers(
    stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Caller]]:
    """``viewer`` and ``stranger`` (IAM users allowed to invoke the API) and ``forger`` (the
    viewer's key with a wrong secret), each behind a gRPC endpoint of its own."""
    iam = boto3.client(
        "iam",
        endpoint_url=stack.aws_endpoint,
        aws_access_key_id=ACCOUNT_ROOT[0],
        aws_secret_access_key=ACCOUNT_ROOT[1],
        region_name="us-east-1",
    )
    invoke = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}],
    }
    profiles, arns = [], {}
    for name in ("viewer", "stranger"):
        user = f"grpc-{name}-{uuid.uuid4().hex[:6]}"
        arns[name] = iam.create_user(UserName=user)["User"]["Arn"]
        iam.put_user_policy(UserName=user, PolicyName="api", PolicyDocument=json.dumps(invoke))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        profiles.append((name, key["AccessKeyId"], key["SecretAccessKey"]))
        if name == "viewer":
            profiles.append(("forger", key["AccessKeyId"], "not-" + key["SecretAccessKey"]))
            arns["forger"] = arns[name]
    folder = tmp_path_factory.mktemp("aws")
    (folder / "credentials").write_text(
        "".join(
            f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
            for name, key, secret in profiles
        )
    )
    (folder / "config").write_text("")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "credentials"))
        env.setenv("AWS_CONFIG_FILE", str(folder / "config"))
        running = []
        for name, _, _ in profiles:
            api = transcoder.Api(stack.url, profile=name, region="us-east-1")
            server, port = transcoder.serve(api)
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            auth = SigV4(stack.url, profile=name, region="us-east-1")
            rest = httpx.Client(base_url=stack.url, auth=auth, timeout=30)
            running.append((name, server, api, channel, rest))
        yield {
            name: Caller(arns[name], Clients(channel, rest))
            for name, _, _, channel, rest in running
        }
        for _, server, api, channel, rest in running:
            channel.close()
            rest.close()
            server.stop(grace=None)
            api.close()


@pytest.fixture(scope="module")
def guarded(clients: Clients, world: World, callers: dict[str, Caller]) -> World:
    """A parked workflow with a running execution on which only the viewer holds a role."""
    workflow_id = _create_rest(clients, world.folder, "guarded", PARKED)
    execution_id = _start(clients, workflow_id)
    reply = clients.rest.post(
        f"/workflows/v1/workflow/{workflow_id}:setAccessBindings",
        json={"accessBindings": [_binding(VIEWER, callers["viewer"].arn)]},
    )
    assert reply.status_code == 200, reply.text
    return World(world.names | {"guarded": workflow_id, "guarded_run": execution_id})


REFUSED_TO_A_VIEWER = [
    pytest.param(
        ex.StartExecutionRequest(workflow_id="<guarded>"),
        Rest("POST", "/execution/start", body={"workflowId": "<guarded>"}),
        id="start",
    ),
    pytest.param(
        ex.StopExecutionRequest(execution_id="<guarded_run>"),
        Rest("POST", "/execution/<guarded_run>/stop"),
        id="stop",
    ),
    pytest.param(
        ex.TerminateExecutionRequest(execution_id="<guarded_run>"),
        Rest("POST", "/execution/<guarded_run>/terminate"),
        id="terminate",
    ),
    pytest.param(
        wf.UpdateWorkflowRequest(workflow_id="<guarded>", description="mine"),
        Rest("PATCH", "/workflow/<guarded>", body={"description": "mine"}),
        id="update",
    ),
    pytest.param(
        wf.DeleteWorkflowRequest(workflow_id="<guarded>"),
        Rest("DELETE", "/workflow/<guarded>"),
        id="delete",
    ),
    pytest.param(
        access_pb2.SetAccessBindingsRequest(resource_id="<guarded>"),
        Rest("POST", "/workflow/<guarded>:setAccessBindings", body={}),
        id="set-access-bindings",
    ),
]


@pytest.mark.parametrize(("request_message", "rest"), REFUSED_TO_A_VIEWER)
def test_what_a_viewer_may_not_do_is_permission_denied_as_over_rest(
    callers: dict[str, Caller], guarded: World, request_message: Message, rest: Rest
) -> None:
    assert_same_error(
        callers["viewer"].clients,
        guarded.request(request_message),
        rest.filled(guarded),
        Code.PERMISSION_DENIED,
        "permission denied: serverless.workflows.",
    )


def test_what_a_viewer_may_do_answers_as_over_rest(
    callers: dict[str, Caller], guarded: World
) -> None:
    viewer = callers["viewer"].clients
    for request, rest in (
        (wf.GetWorkflowRequest(workflow_id="<guarded>"), Rest("GET", "/workflow/<guarded>")),
        (
            access_pb2.ListAccessBindingsRequest(resource_id="<guarded>"),
            Rest("GET", "/workflow/<guarded>:listAccessBindings"),
        ),
        (
            ex.GetExecutionHistoryRequest(execution_id="<guarded_run>"),
            Rest("GET", "/execution/<guarded_run>/history"),
        ),
    ):
        assert_same_answer(
            viewer, guarded.request(request), rest.filled(guarded), moving=("duration",)
        )


@pytest.mark.parametrize(
    ("request_message", "rest"),
    [
        pytest.param(
            wf.GetWorkflowRequest(workflow_id="<guarded>"),
            Rest("GET", "/workflow/<guarded>"),
            id="get-workflow",
        ),
        pytest.param(
            ex.GetExecutionRequest(execution_id="<guarded_run>"),
            Rest("GET", "/execution/<guarded_run>"),
            id="get-execution",
        ),
        pytest.param(
            ex.StartExecutionRequest(workflow_id="<guarded>"),
            Rest("POST", "/execution/start", body={"workflowId": "<guarded>"}),
            id="start",
        ),
    ],
)
def test_a_workflow_a_stranger_may_not_view_is_not_found_as_over_rest(
    callers: dict[str, Caller], guarded: World, request_message: Message, rest: Rest
) -> None:
    assert_same_error(
        callers["stranger"].clients,
        guarded.request(request_message),
        rest.filled(guarded),
        Code.NOT_FOUND,
        "not found",
    )


def test_a_stranger_lists_nothing_of_it_as_over_rest(
    callers: dict[str, Caller], guarded: World
) -> None:
    request, rest = _list_executions("<guarded>")
    listed = assert_same_answer(
        callers["stranger"].clients, guarded.request(request), rest.filled(guarded)
    )
    assert json_format.MessageToDict(listed) == {}


def test_a_bad_signature_is_permission_denied_as_over_rest(
    callers: dict[str, Caller], world: World
) -> None:
    assert_same_error(
        callers["forger"].clients,
        wf.GetWorkflowRequest(workflow_id=world.fast),
        Rest("GET", f"/workflow/{world.fast}").filled(world),
        Code.PERMISSION_DENIED,
        "signature",
    )
