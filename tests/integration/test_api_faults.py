"""API calls while AWS throttles or cannot be reached: 429 or 503 with Retry-After, never a 500.

The handler modules ``functions/<call>/app.py`` are imported into this process with their
``services`` replaced, and fed the API Gateway events of ``tests/events/*.json``. The services'
clients reach a moto server of this module's holding the table, queues, bucket and secret of
template.yaml; they carry the core's botocore config (``core_client_config``) and a
``before-send`` hook that answers chosen requests with an AWS error, or raises a botocore
connection error, so that those never reach the server. (The deployed harness of conftest.py
runs each function in a process of its own, which hooks in this one cannot reach; in-process
``mock_aws`` would still carry out a request whose answer a hook replaced.) botocore's backoff
sleeps are recorded, not slept, except in the one test that times calls.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from stepline.api import queries
from stepline.dev import resources
from stepline.models import CreateWorkflowRequest
from stepline.service import executions, workflows
from stepline.service.deps import ATTEMPTS, Services, Settings, core_client_config
from stepline.store.tokens import scope_digest
from tests.integration.conftest import free_port

ROOT = Path(__file__).parents[2]
EVENTS = ROOT / "tests" / "events"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # requestContext.requestId of the fixtures
SPEC = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"
MODULE_OF = {
    "start": "start",
    "get": "query",
    "history": "query",
    "list": "query",
    "stop": "stop",
    "terminate": "stop",
    "workflow_create": "workflows",
    "workflow_get": "workflows",
    "workflow_update": "workflows",
    "workflow_delete": "workflows",
    "workflow_list": "workflows",
}
NETWORK_FAILURES: list[type[Exception]] = [
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
]


# --- faults ----------------------------------------------------------------------------------


class _Raw:
    """The raw body botocore reads an answer from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def aws_error(service: str, status: int, code: str, **fields: Any) -> Callable[[Any], AWSResponse]:
    """An AWS error answer in the service's protocol (XML for S3, JSON elsewhere)."""

    def answer(request: Any) -> AWSResponse:
        if service == "s3":
            body = f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
            headers = {"Content-Type": "application/xml"}
        else:
            body = json.dumps({"__type": code, "message": code, **fields}).encode()
            headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Raw(body))

    return answer


def raising(kind: type[Exception]) -> Callable[[Any], AWSResponse]:
    """A request that never gets an answer: no connection, a timeout, a dropped connection."""

    def fail(request: Any) -> AWSResponse:
        raise kind(endpoint_url=request.url)

    return fail


THROTTLED: dict[str, Callable[[Any], AWSResponse]] = {
    "dynamodb": aws_error("dynamodb", 400, "ProvisionedThroughputExceededException"),
    "s3": aws_error("s3", 503, "SlowDown"),
    "sqs": aws_error("sqs", 400, "ThrottlingException"),
    "secretsmanager": aws_error("secretsmanager", 400, "ThrottlingException"),
    "lambda": aws_error("lambda", 429, "TooManyRequestsException"),
}


@dataclass
class Faults:
    """The ``before-send`` hook of every client: answers the requests a rule matches."""

    rules: dict[tuple[str, str], Callable[[Any], AWSResponse]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def fail(self, service: str, operation: str, answer: Callable[[Any], AWSResponse]) -> None:
        """Answer ``service``'s ``operation`` (``*``: every operation) with ``answer``."""
        self.rules[(service, operation)] = answer

    def __call__(self, service: str, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        answer = self.rules.get((service, operation)) or self.rules.get((service, "*"))
        if answer is None:
            return None  # on to moto
        self.hits.append(f"{service}.{operation}")
        return answer(request)


class Backoff:
    """botocore's ``time`` with the sleeps recorded rather than slept."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# --- the world: moto, template.yaml's resources, some data -----------------------------------


@dataclass(frozen=True)
class World:
    """Where the resources are and what exists before each test."""

    settings: Settings
    session: boto3.session.Session
    endpoint: str
    workflow_id: str
    execution_id: str
    big_execution_id: str
    history_token: str


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A moto server with the stateful resources of template.yaml, a workflow, executions."""
    from moto.moto_api._internal.models import moto_api_backend
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    session = boto3.session.Session(
        aws_access_key_id="faults", aws_secret_access_key="faults", region_name="us-east-1"
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        with pytest.MonkeyPatch.context() as env:
            env.delenv("SCHEDULE_GROUP", raising=False)  # schedules are only stored
            yield _seeded(session, endpoint)
    finally:
        moto_api_backend.reset()  # the next module's account starts empty
        server.stop()


def _seeded(session: boto3.session.Session, endpoint: str) -> World:
    """The resources created, a workflow and two executions (one with its input in S3)."""

    @cache
    def plain(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]

    physical = resources.provision(plain, stack_name="stepline-faults")
    settings = Settings.from_env(resources.environment(physical))
    svc = Services(settings, plain)
    request = CreateWorkflowRequest.model_validate(
        {"folderId": "faults", "name": "orders", "specification": {"specYaml": SPEC}}
    )
    created = workflows.create(svc, request, caller="test")
    workflow_id = created.resource_id

    def start(input_json: str) -> str:
        return executions.start(svc, executions.StartCommand(workflow_id, input_json, "test"))

    execution_id = start('{"orderId": 42}')
    big_execution_id = start(json.dumps({"blob": "x" * 70_000}))  # input kept in S3
    token = svc.tokens.issue({"offset": 1}, scope_digest("history", execution_id))
    return World(settings, session, endpoint, workflow_id, execution_id, big_execution_id, token)


@pytest.fixture(scope="module")
def faults() -> Faults:
    """The faults every client of this module consults (reset for each test)."""
    return Faults()


@pytest.fixture(scope="module")
def clients(world: World, faults: Faults) -> Callable[[str], Any]:
    """One client per service, with the core's botocore config and the fault hook."""
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            aws = world.session.client(  # type: ignore[call-overload]
                service, endpoint_url=world.endpoint, config=core_client_config(service)
            )
            service_id = aws.meta.service_model.service_id.hyphenize()
            aws.meta.events.register(f"before-send.{service_id}.*", partial(faults, service))
            made[service] = aws
        return made[service]

    return client


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> Backoff:
    """botocore's retry sleeps, recorded and not slept."""
    recorded = Backoff()
    monkeypatch.setattr(botocore.endpoint, "time", recorded)
    return recorded


@pytest.fixture(autouse=True)
def no_faults_yet(faults: Faults, backoff: Backoff) -> None:
    """Each test starts with no faults, no hits, and botocore's sleeps recorded."""
    faults.rules.clear()
    faults.hits.clear()


@pytest.fixture
def svc(world: World, clients: Callable[[str], Any]) -> Services:
    """Fresh services (nothing cached, the page-token secret included) over the faulty clients."""
    return Services(world.settings, clients)


# --- calling the handlers as API Gateway does ------------------------------------------------


@dataclass
class Reply:
    """What the API answered."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class LambdaContext:
    """The parts of Lambda's context the handlers' decorators read."""

    function_name: str = "faults"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:faults"
    aws_request_id: str = "lambda-request-id"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@cache
def handler_module(name: str) -> ModuleType:
    """``functions/<name>/app.py``, imported under a name of its own."""
    spec = importlib.util.spec_from_file_location(
        f"faults_{name}_app", ROOT / "functions" / name / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call(
    monkeypatch: pytest.MonkeyPatch,
    svc: Services,
    event_name: str,
    *,
    path: dict[str, str] | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Feed ``tests/events/<event_name>.json`` (with changes) to its handler, in this process."""
    event = copy.deepcopy(json.loads((EVENTS / f"{event_name}.json").read_text()))
    if path is not None:
        concrete = event["routeKey"].split(" ", 1)[1]
        for key, value in path.items():
            concrete = concrete.replace("{" + key + "}", value)
        event["pathParameters"] = path
        event["rawPath"] = event["requestContext"]["http"]["path"] = concrete
    if body is not None:
        event["body"] = json.dumps(body)
    if query is not None:
        event["queryStringParameters"] = query
        event["rawQueryString"] = urlencode(query)
    if headers:
        event["headers"] |= {k.lower(): v for k, v in headers.items()}
    module = handler_module(MODULE_OF[event_name])
    monkeypatch.setattr(module, "services", lambda: svc)
    result = module.lambda_handler(event, LambdaContext())
    return Reply(
        status=result["statusCode"],
        body=json.loads(result["body"]) if result.get("body") else {},
        headers={k.lower(): v for k, v in (result.get("headers") or {}).items()},
    )


def request_for(world: World, name: str) -> dict[str, Any]:
    """The path, body and query that make ``name`` a valid call on the world's data."""
    execution = {"executionId": world.execution_id}
    workflow = {"workflowId": world.workflow_id}
    start_body = {"workflowId": world.workflow_id, "input": {"inputJson": '{"orderId": 42}'}}
    create_body = {
        "folderId": "faults",
        "name": f"w{uuid.uuid4().hex[:8]}",
        "specification": {"specYaml": SPEC},
    }
    return {
        "start": {"body": start_body},
        "get": {"path": execution},
        "history": {"path": execution, "query": {"pageToken": world.history_token}},
        "list": {"query": workflow},
        "stop": {"path": execution},
        "terminate": {"path": execution},
        "workflow_create": {"body": create_body},
        "workflow_get": {"path": workflow},
        "workflow_update": {
            "path": workflow,
            "body": {"description": "d", "updateMask": "description"},
        },
        "workflow_delete": {"path": workflow},
        "workflow_list": {"query": {"folderId": "faults"}},
    }[name]


def listed(monkeypatch: pytest.MonkeyPatch, svc: Services, world: World) -> list[str]:
    """The ids of the world's workflow's executions, through List."""
    reply = call(monkeypatch, svc, "list", query={"workflowId": world.workflow_id})
    return [execution["id"] for execution in reply.body["executions"]]


def assert_retry_later(reply: Reply, status: int) -> None:
    """A 429 (RESOURCE_EXHAUSTED, Retry-After 1) or 503 (UNAVAILABLE, Retry-After 2)."""
    code, retry_after = {429: (8, "1"), 503: (14, "2")}[status]
    assert reply.status == status, reply.body
    assert reply.headers["retry-after"] == retry_after
    assert reply.body["code"] == code
    assert reply.body["details"] == []
    assert set(reply.body) == {"code", "message", "details"}


CALLS = list(MODULE_OF)


# --- every call, every kind of trouble -------------------------------------------------------


def test_every_call_succeeds_without_faults(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services
) -> None:
    for name in ["get", "history", "list", "workflow_get", "workflow_list", "start"]:
        reply = call(monkeypatch, svc, name, **request_for(world, name))
        assert reply.status == 200, (name, reply.body)


@pytest.mark.parametrize("name", CALLS)
def test_every_call_answers_429_while_dynamodb_throttles(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults, name: str
) -> None:
    faults.fail("dynamodb", "*", THROTTLED["dynamodb"])

    reply = call(monkeypatch, svc, name, **request_for(world, name))

    assert_retry_later(reply, 429)
    assert faults.hits  # the fault was met, not some other error


@pytest.mark.parametrize("name", CALLS)
def test_every_call_answers_503_while_dynamodb_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults, name: str
) -> None:
    faults.fail("dynamodb", "*", raising(EndpointConnectionError))

    assert_retry_later(call(monkeypatch, svc, name, **request_for(world, name)), 503)


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"],
)
def test_each_dynamodb_throttling_code_is_a_429(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults, code: str
) -> None:
    faults.fail("dynamodb", "*", aws_error("dynamodb", 400, code))

    assert_retry_later(call(monkeypatch, svc, "get", path={"executionId": world.execution_id}), 429)


@pytest.mark.parametrize(
    "answer",
    [
        *(raising(kind) for kind in NETWORK_FAILURES),
        aws_error("dynamodb", 500, "InternalServerError"),
        aws_error("dynamodb", 503, "ServiceUnavailable"),
    ],
    ids=[*(kind.__name__ for kind in NETWORK_FAILURES), "500", "503"],
)
def test_each_kind_of_unavailability_is_a_503(
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    svc: Services,
    faults: Faults,
    answer: Callable[[Any], AWSResponse],
) -> None:
    faults.fail("dynamodb", "*", answer)

    reply = call(monkeypatch, svc, "workflow_get", path={"workflowId": world.workflow_id})

    assert_retry_later(reply, 503)


# --- trouble part-way through a call ---------------------------------------------------------


@pytest.mark.parametrize("key", [None, "order-42"], ids=["put", "transaction"])
def test_start_whose_write_is_throttled_answers_429_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    svc: Services,
    faults: Faults,
    key: str | None,
) -> None:
    for operation in ("PutItem", "TransactWriteItems"):
        faults.fail("dynamodb", operation, THROTTLED["dynamodb"])
    before = listed(monkeypatch, svc, world)

    reply = call(
        monkeypatch,
        svc,
        "start",
        **request_for(world, "start"),
        headers={"Idempotency-Key": f"{key}-{uuid.uuid4().hex}"} if key else None,
    )

    assert_retry_later(reply, 429)
    assert listed(monkeypatch, svc, world) == before


def test_a_transaction_cancelled_by_throttling_answers_429(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults
) -> None:
    reasons = [{"Code": "None"}, {"Code": "ThrottlingError", "Message": "Throughput exceeds"}]
    faults.fail(
        "dynamodb",
        "TransactWriteItems",
        aws_error("dynamodb", 400, "TransactionCanceledException", CancellationReasons=reasons),
    )

    reply = call(monkeypatch, svc, "workflow_create", **request_for(world, "workflow_create"))

    assert_retry_later(reply, 429)


def test_a_transaction_cancelled_by_a_failed_condition_stays_a_conflict(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults
) -> None:
    reasons = [{"Code": "ConditionalCheckFailed"}, {"Code": "ThrottlingError"}]
    faults.fail(
        "dynamodb",
        "TransactWriteItems",
        aws_error("dynamodb", 400, "TransactionCanceledException", CancellationReasons=reasons),
    )

    reply = call(monkeypatch, svc, "workflow_create", **request_for(world, "workflow_create"))

    assert (reply.status, reply.body["code"]) == (409, 6)  # ALREADY_EXISTS: the name is taken
    assert "retry-after" not in reply.headers


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (aws_error("s3", 503, "SlowDown"), 429),
        (aws_error("s3", 500, "InternalError"), 503),
        (raising(ConnectTimeoutError), 503),
    ],
    ids=["SlowDown", "InternalError", "ConnectTimeoutError"],
)
def test_start_with_a_large_input_while_s3_is_in_trouble(
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    svc: Services,
    faults: Faults,
    answer: Callable[[Any], AWSResponse],
    status: int,
) -> None:
    faults.fail("s3", "PutObject", answer)
    body = {"workflowId": world.workflow_id, "input": {"inputJson": json.dumps("x" * 70_000)}}

    assert_retry_later(call(monkeypatch, svc, "start", body=body), status)


@pytest.mark.parametrize(
    ("answer", "status"),
    [(aws_error("s3", 503, "SlowDown"), 429), (raising(ReadTimeoutError), 503)],
    ids=["SlowDown", "ReadTimeoutError"],
)
def test_get_whose_input_lives_in_s3_while_s3_is_in_trouble(
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    svc: Services,
    faults: Faults,
    answer: Callable[[Any], AWSResponse],
    status: int,
) -> None:
    faults.fail("s3", "GetObject", answer)

    reply = call(monkeypatch, svc, "get", path={"executionId": world.big_execution_id})

    assert_retry_later(reply, status)


@pytest.mark.parametrize("code", ["ThrottlingException", "RequestThrottled", "OverLimit"])
def test_start_whose_queue_send_is_throttled_answers_429(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults, code: str
) -> None:
    faults.fail("sqs", "SendMessage", aws_error("sqs", 400, code))

    assert_retry_later(call(monkeypatch, svc, "start", **request_for(world, "start")), 429)


def test_start_whose_runner_hop_is_refused_still_starts_through_the_queue(
    monkeypatch: pytest.MonkeyPatch, world: World, clients: Callable[[str], Any], faults: Faults
) -> None:
    svc = Services(replace(world.settings, runner_function="stepline-runner"), clients)
    faults.fail("lambda", "Invoke", THROTTLED["lambda"])

    reply = call(monkeypatch, svc, "start", **request_for(world, "start"))

    assert reply.status == 200, reply.body
    assert faults.hits == ["lambda.Invoke"]  # one attempt: the queue is the hop's retry


def test_start_whose_hop_and_queue_both_fail_answers_503(
    monkeypatch: pytest.MonkeyPatch, world: World, clients: Callable[[str], Any], faults: Faults
) -> None:
    svc = Services(replace(world.settings, runner_function="stepline-runner"), clients)
    faults.fail("lambda", "Invoke", raising(EndpointConnectionError))
    faults.fail("sqs", "SendMessage", raising(EndpointConnectionError))

    assert_retry_later(call(monkeypatch, svc, "start", **request_for(world, "start")), 503)

    # The head was written but nothing will move it: it ends FAILED, not QUEUED for good.
    newest = queries.list_executions(
        svc, world.workflow_id, size="1", token=None, filter_text=None
    )["executions"][0]
    assert newest["status"] == "FAILED"
    got = queries.get(svc, newest["id"])["execution"]
    assert got["error"]["errorCode"] == "STEP_INTERNAL"


@pytest.mark.parametrize("name", ["list", "workflow_list", "history"])
def test_listing_while_the_page_token_secret_is_throttled_answers_429(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults, name: str
) -> None:
    faults.fail("secretsmanager", "GetSecretValue", THROTTLED["secretsmanager"])

    assert_retry_later(call(monkeypatch, svc, name, **request_for(world, name)), 429)


def test_history_whose_log_query_is_throttled_answers_429(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults
) -> None:
    faults.fail("dynamodb", "Query", THROTTLED["dynamodb"])

    reply = call(monkeypatch, svc, "history", path={"executionId": world.execution_id})

    assert_retry_later(reply, 429)
    assert faults.hits == ["dynamodb.Query"] * ATTEMPTS


def test_stop_whose_update_is_throttled_answers_429(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults
) -> None:
    faults.fail("dynamodb", "UpdateItem", THROTTLED["dynamodb"])

    assert_retry_later(
        call(monkeypatch, svc, "stop", path={"executionId": world.execution_id}), 429
    )


# --- what stays a 500, and the time it all takes ---------------------------------------------


def test_a_refused_request_is_a_bug_answered_500_with_the_request_id(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults
) -> None:
    faults.fail("dynamodb", "*", aws_error("dynamodb", 400, "AccessDeniedException"))

    reply = call(monkeypatch, svc, "get", path={"executionId": world.execution_id})

    assert (reply.status, reply.body["code"]) == (500, 13)
    assert REQUEST_ID in reply.body["message"]
    assert "retry-after" not in reply.headers


def test_a_throttled_request_is_retried_once_within_one_second_of_backoff(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults, backoff: Backoff
) -> None:
    faults.fail("dynamodb", "GetItem", THROTTLED["dynamodb"])

    call(monkeypatch, svc, "workflow_get", path={"workflowId": world.workflow_id})

    assert faults.hits == ["dynamodb.GetItem"] * ATTEMPTS == ["dynamodb.GetItem"] * 2
    assert len(backoff.slept) == ATTEMPTS - 1 and sum(backoff.slept) <= 1.0


def test_throttled_get_and_start_answer_well_inside_the_function_timeout(
    monkeypatch: pytest.MonkeyPatch, world: World, svc: Services, faults: Faults
) -> None:
    monkeypatch.setattr(botocore.endpoint, "time", time)  # real backoff sleeps this time
    faults.fail("dynamodb", "*", THROTTLED["dynamodb"])

    began = time.monotonic()
    get = call(monkeypatch, svc, "get", path={"executionId": world.execution_id})
    start = call(monkeypatch, svc, "start", **request_for(world, "start"))
    elapsed = time.monotonic() - began

    assert (get.status, start.status) == (429, 429)
    # Each call: two attempts and one backoff of at most 1 s (was 25.6 s per call, over the
    # 10 s timeout); one more second of slack for the handlers themselves.
    assert elapsed < 2 * 1.0 + 1.0
