"""Handlers fed API Gateway events from tests/events/, on moto, resources from template.yaml."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from moto import mock_aws

from stepline.dev import resources, template
from stepline.dev.gateway import Functions

EVENTS = Path(__file__).parents[1] / "events"
SPEC = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"


@dataclass
class Reply:
    """What the API answered."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class Api:
    """Calls handlers the way API Gateway does, with events built from the fixture files."""

    def __init__(self, functions: Functions, routes: list[template.Route]) -> None:
        self.functions = functions
        self.by_route = {f"{r.method} {r.path}": r.function for r in routes}

    def call(
        self,
        event_name: str,
        *,
        path: dict[str, str] | None = None,
        body: Any = None,
        raw_body: str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
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
        result = self.functions.invoke(self.by_route[event["routeKey"]], event)
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


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, str]]:
    """One emulated account per test module, resources created from template.yaml.

    Module scope (with ``--dist loadfile``) keeps the emulator from outliving the module, so
    other test folders that start their own emulators never see these resources.
    """
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "Stepline",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        physical = resources.provision(boto3.client, stack_name="stepline-test")
        env = resources.environment(physical)
        os.environ.update(env)
        from stepline.service.deps import services

        services.cache_clear()
        yield physical
        services.cache_clear()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def api(aws: dict[str, str]) -> Api:
    """The API, through the real handlers."""
    routes = template.routes()
    return Api(Functions(routes), routes)


@pytest.fixture
def folder() -> str:
    """A folder of its own for each test, so tests never see each other's workflows."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def workflow_id(api: Api, folder: str) -> str:
    """A fresh ACTIVE workflow."""
    return api.create_workflow(folder)


@pytest.fixture
def steps_queue(aws: dict[str, str]) -> Iterator[Any]:
    """A function that drains the steps queue and returns the message bodies."""
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


@pytest.fixture(scope="session")
def local_functions() -> Iterator[str]:
    """tests/functions/*.py served through the Lambda Invoke API on a free port."""
    import threading

    from stepline.dev.lambdas import LambdaServer, LocalFunctions

    server = LambdaServer(("127.0.0.1", 0), LocalFunctions(Path(__file__).parents[1] / "functions"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def svc(aws: dict[str, str], local_functions: str) -> Any:
    """Core services for runner tests: local functions, waits and delays 1000x faster."""
    from dataclasses import replace

    from stepline.service.deps import Services, Settings

    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            endpoint = local_functions if service == "lambda" else None
            clients[service] = boto3.client(service, endpoint_url=endpoint)
        return clients[service]

    settings = replace(
        Settings.from_env(), time_scale=0.001, allowed_private_hosts=frozenset({"*"})
    )
    return Services(settings, client)


class Runs:
    """Creates workflows and starts executions through the core, for runner tests."""

    def __init__(self, services: Any) -> None:
        self.svc = services

    def workflow(self, spec: str) -> str:
        """A new workflow (in a folder of its own) with this spec."""
        from stepline.api.models import CreateWorkflowRequest
        from stepline.service import workflows

        request = CreateWorkflowRequest.model_validate(
            {
                "folderId": "r" + uuid.uuid4().hex[:10],
                "name": "run",
                "specification": {"specYaml": spec},
            }
        )
        operation = workflows.create(self.svc, request, caller="test", base_url="http://x")
        return str(operation["metadata"]["workflowId"])

    def start(self, spec_or_workflow: str, input_json: str = "{}") -> str:
        """Start an execution of a spec (or of an existing workflow id)."""
        from stepline.service import executions

        workflow_id = (
            self.workflow(spec_or_workflow) if "\n" in spec_or_workflow else spec_or_workflow
        )
        command = executions.StartCommand(workflow_id, input_json, "test")
        return executions.start(self.svc, command)


@pytest.fixture
def runs(svc: Any) -> Runs:
    """Workflows and executions for runner tests."""
    return Runs(svc)
