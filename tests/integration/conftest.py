"""The whole stack of template.yaml deployed on moto with IAM enforced; handlers fed events.

Each test module gets an emulated account of its own (a moto server on a free port): the
template is deployed whole, each function runs in its own sandbox with its deployed
environment and role, and every AWS call is authorised against that role's policies. Tests
call the functions with the API Gateway events of ``tests/events/*.json``, and drive the
runner's core with :class:`Services` signed as the runner's role.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from stepline.dev import authorizer
from stepline.dev.stack import (
    DEV_PARAMETERS,
    EMULATOR_ENVIRONMENT,
    ROOT_ENVIRONMENT,
    EmulatedStack,
    root_clients,
)
from stepline.testing.ports import free_port

EVENTS = Path(__file__).parents[1] / "events"
FUNCTIONS = Path(__file__).parents[1] / "functions"
SPEC = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"
# Parks at once and stays active: for tests of calls on executions that have not ended (48 h,
# the longest Wait an execution may have, is ~3 minutes at TIME_SCALE).
PARKED = "yawl: '0.1'\nstart: nap\nsteps:\n  nap:\n    wait: {duration: 48h}\n"
TIME_SCALE = 0.001


@dataclass
class Reply:
    """What the API answered."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class Api:
    """Calls the deployed functions as API Gateway does, with the fixture files' events."""

    def __init__(self, stack: EmulatedStack) -> None:
        self.stack = stack
        routes = [r for r in stack.deployment.routes if r.api_id == stack.deployment.api_id]
        self.by_route = {r.route_key: r.function_arn for r in routes}
        self.identity: dict[str, Any] | None = None  # None: the fixture files' caller

    def as_caller(self, arn: str) -> Api:
        """The same API, called by another IAM principal (``requestContext.authorizer.iam``)."""
        other = copy.copy(self)
        other.identity = {"accountId": arn.split(":")[4], "userArn": arn}
        return other

    def call(
        self,
        event_name: str,
        *,
        path: dict[str, str] | None = None,
        body: Any = None,
        raw_body: str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        source_ip: str | None = None,
    ) -> Reply:
        """Invoke the function behind ``tests/events/<event_name>.json`` with changes."""
        event = copy.deepcopy(json.loads((EVENTS / f"{event_name}.json").read_text()))
        route_path = event["routeKey"].split(" ", 1)[1]
        if path is not None:
            event["pathParameters"] = path
            concrete = route_path
            for key, value in path.items():
                concrete = concrete.replace("{" + key + "}", value)
            event["rawPath"] = event["requestContext"]["http"]["path"] = concrete
        if raw_body is not None:
            event["body"] = raw_body
        elif body is not None:
            event["body"] = json.dumps(body)
        if query is not None:
            event["queryStringParameters"] = query
            event["rawQueryString"] = urlencode(query)
        if headers:
            event["headers"] |= {k.lower(): v for k, v in headers.items()}
        if self.identity is not None:
            event["requestContext"]["authorizer"] = {"iam": self.identity}
        if source_ip is not None:
            event["requestContext"]["http"]["sourceIp"] = source_ip
        function = self.stack.deployment.function_by_arn(self.by_route[event["routeKey"]])
        answer = self.stack.functions.invoke(function, json.dumps(event).encode())
        assert answer.function_error is None, answer.payload
        result = json.loads(answer.payload)
        return Reply(
            status=result["statusCode"],
            body=json.loads(result["body"]) if result.get("body") else {},
            headers={k.lower(): v for k, v in (result.get("headers") or {}).items()},
        )

    # Shortcuts used across the tests ----------------------------------------------------

    def create_workflow(self, folder: str, name: str = "orders", spec: str = SPEC) -> str:
        """Create a workflow and return its id."""
        body = {"folderId": folder, "name": name, "specification": {"specYaml": spec}}
        reply = self.call("workflow_create", body=body)
        assert reply.status == 200, reply.body
        return str(reply.body["metadata"]["workflowId"])

    def start(self, workflow_id: str, input_json: str = "{}", **kwargs: Any) -> str:
        """Start an execution and return its id."""
        body = {"workflowId": workflow_id, "input": {"inputJson": input_json}}
        reply = self.call("start", body=body, **kwargs)
        assert reply.status == 200, reply.body
        return str(reply.body["executionId"])


def _print_log(function: str, line: str) -> None:
    print(f"[{function}] {line[:500]}")  # STEPLINE_TEST_LOGS=1: the functions' own output


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[EmulatedStack]:
    """template.yaml deployed whole on a moto server of this module's, IAM enforced.

    The test process itself acts as the account root (its boto3 clients reach the emulator
    with the root key), as an operator's tools would; the functions never see that key. A
    module may name its stack with ``STACK_NAME`` and add parameters with ``STACK_PARAMETERS``.
    """
    import logging

    from stepline.dev.stack import Emulator

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    saved = dict(os.environ)
    endpoint = f"http://127.0.0.1:{free_port()}"
    os.environ.update(EMULATOR_ENVIRONMENT | ROOT_ENVIRONMENT | {"AWS_ENDPOINT_URL": endpoint})
    os.environ.update(
        {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Stepline"}
    )
    import boto3

    boto3.DEFAULT_SESSION = None  # its credentials were read from an earlier environment
    from moto.moto_api._internal.models import moto_api_backend

    # Backends an in-process bench of an earlier module left behind were made without AWS's
    # managed policies: start from ones made with this environment.
    moto_api_backend.reset()
    # The dev stack's emulator: moto's server, each DynamoDB request applied atomically.
    server = Emulator("127.0.0.1", int(endpoint.rsplit(":", 1)[1]), verbose=False)
    try:
        with authorizer.enforcing():
            emulated = EmulatedStack(
                endpoint,
                stack_name=getattr(request.module, "STACK_NAME", "test"),
                parameters=DEV_PARAMETERS | getattr(request.module, "STACK_PARAMETERS", {}),
                local_functions=FUNCTIONS,
                time_scale=TIME_SCALE,
                log=_print_log if os.environ.get("STEPLINE_TEST_LOGS") else None,
            ).deploy()
            yield emulated
            emulated.close()
    finally:
        moto_api_backend.reset()  # the next module's account starts empty
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
        boto3.DEFAULT_SESSION = None


@pytest.fixture(scope="module")
def aws(stack: EmulatedStack) -> dict[str, str]:
    """Logical id → physical id of every deployed resource."""
    return stack.deployment.physical


@pytest.fixture(scope="module")
def api(stack: EmulatedStack) -> Api:
    """The API, through the deployed functions."""
    return Api(stack)


@pytest.fixture
def folder() -> str:
    """A folder of its own for each test, so tests never see each other's workflows."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def workflow_id(api: Api, folder: str) -> str:
    """A fresh ACTIVE workflow whose executions end at once."""
    return api.create_workflow(folder)


@pytest.fixture
def parked_id(api: Api, folder: str) -> str:
    """A fresh ACTIVE workflow whose executions wait 48 h (the longest Wait) and do not end."""
    return api.create_workflow(folder, name="parked", spec=PARKED)


@pytest.fixture
def steps_queue(aws: dict[str, str]) -> Iterator[Any]:
    """A function that drains the steps queue and returns the message bodies."""
    import boto3

    sqs = boto3.client("sqs")
    url = aws["StepsQueue"]

    def drain() -> list[dict[str, Any]]:
        bodies = []
        while True:
            reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages = reply.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    drain()
    yield drain


@pytest.fixture(scope="module")
def local_functions(stack: EmulatedStack) -> str:
    """The stack's Lambda endpoint, which serves tests/functions/*.py by file name."""
    return stack.lambda_endpoint


def cached(factory: Callable[..., Any]) -> Callable[[str], Any]:
    """One client per service from ``factory``."""
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = factory(service)
        return clients[service]

    return client


@pytest.fixture(scope="module")
def svc(stack: EmulatedStack) -> Any:
    """The runner's services as the deployed runner has them, 1000x faster: its settings, the
    core signed as its role, integration steps as the integration role it assumes."""
    from stepline.service.deps import Services, Settings

    settings = Settings.from_env(stack.function("RunnerFunction").environment)
    core = cached(stack.role_clients("RunnerFunction"))
    return Services(
        replace(settings, time_scale=TIME_SCALE),
        cached(integration_clients(stack, core, settings.integration_role_arn)),
        core_client_factory=core,
    )


def integration_clients(
    stack: EmulatedStack, core: Callable[[str], Any], role_arn: str | None
) -> Callable[[str], Any]:
    """Clients signed as the integration role, assumed with the runner role's credentials
    (the Lambda endpoint for Invoke), as ``deps.services`` makes them in the runner."""
    import boto3

    assert role_arn, "the runner names its integration role"
    credentials = core("sts").assume_role(RoleArn=role_arn, RoleSessionName="tests")
    keys = credentials["Credentials"]

    def client(service: str) -> Any:
        endpoint = stack.lambda_endpoint if service == "lambda" else stack.aws_endpoint
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
        )

    return client


@pytest.fixture(scope="module")
def admin(stack: EmulatedStack) -> Any:
    """Start's settings as the account root, the first hop through the queue.

    Runner tests set up workflows and executions with it and then drive the runner
    themselves from the steps queue.
    """
    from stepline.service.deps import Services, Settings

    settings = Settings.from_env(stack.function("StartFunction").environment)
    settings = replace(settings, runner_function=None, time_scale=TIME_SCALE)
    return Services(settings, cached(root_clients(stack.aws_endpoint)))


class Runs:
    """Creates workflows and starts executions through the core, for runner tests."""

    def __init__(self, services: Any) -> None:
        self.svc = services  # the account root's: setting up is not the runner's job

    def workflow(self, spec: str) -> str:
        """A new workflow (in a folder of its own) with this spec."""
        from stepline.models import CreateWorkflowRequest
        from stepline.service import workflows

        request = CreateWorkflowRequest.model_validate(
            {
                "folderId": "r" + uuid.uuid4().hex[:10],
                "name": "run",
                "specification": {"specYaml": spec},
            }
        )
        operation = workflows.create(self.svc, request, caller="test")
        return str(operation.resource_id)

    def start(self, spec_or_workflow: str, input_json: str = "{}") -> str:
        """Start an execution of a spec (or of an existing workflow id)."""
        from stepline.service import executions

        workflow_id = (
            self.workflow(spec_or_workflow) if "\n" in spec_or_workflow else spec_or_workflow
        )
        command = executions.StartCommand(workflow_id, input_json, "test")
        return executions.start(self.svc, command)


@pytest.fixture
def runs(admin: Any) -> Runs:
    """Workflows and executions for runner tests."""
    return Runs(admin)
