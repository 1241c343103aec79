"""serviceAccountId: a workflow's integration calls are made as the role it names.

The role is created as an operator would: under the stack's IAM path, trusting the runner's
role, allowed one bucket and one queue. Both the runner driven in this process (signed as the
runner's role) and the deployed runner function in its sandbox assume it through the
emulator's STS, whose IAM enforcement then holds each call to the role's policy — not to the
integration role's, which would allow every ``stepline-`` bucket and queue.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from stepline.api import queries
from stepline.dev import authorizer
from stepline.dev.stack import EmulatedStack
from stepline.models import CreateWorkflowRequest, UpdateWorkflowRequest
from stepline.service import executions, workflows
from stepline.testing import drive
from tests.integration.conftest import SPEC, Api

STACK_NAME = "sa"
ALLOWED = "stepline-sa-allowed"
OTHER = "stepline-sa-other"

PUT = """
yawl: "0.1"
start: put
steps:
  put:
    objectStorage:
      bucket: BUCKET
      object: '\\("runs/\\(.input.n).json")'
      put:
        content: '\\({n: .input.n} | tojson)'
        contentType: JSON
      catch:
        - errorList: [STEP_PERMISSION_DENIED]
          output: '\\({caught: .error})'
          next: denied
      next: send
  send:
    ymq:
      queueArn: arn:aws:sqs:us-east-1:123456789012:QUEUE
      put:
        body: '\\({n: .input.n})'
  denied:
    noOp: {}
"""


def _spec(bucket: str, queue: str = ALLOWED) -> str:
    return PUT.replace("BUCKET", bucket).replace("QUEUE", queue)


@dataclass(frozen=True)
class Roles:
    allowed: str
    """Name of a role under the stack's path that trusts the runner: one bucket, one queue."""
    untrusting: str
    """ARN of a role under the stack's path that trusts nobody the runner is."""
    path: str


def _role(iam: Any, path: str, name: str, trusted: str, statements: list[dict[str, Any]]) -> str:
    trust = {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(
        RoleName=name,
        Path=path,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="reach",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return str(arn)


@pytest.fixture(scope="module")
def roles(stack: EmulatedStack) -> Roles:
    """The roles, bucket and queues an operator would set up for the workflows."""
    iam, path = stack.clients("iam"), f"/stepline-integrations/{STACK_NAME}/"
    for bucket in (ALLOWED, OTHER):
        stack.clients("s3").create_bucket(Bucket=bucket)
        stack.clients("sqs").create_queue(QueueName=bucket)
    reach = [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"arn:aws:s3:::{ALLOWED}/*"},
        {
            "Effect": "Allow",
            "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"],
            "Resource": f"arn:aws:sqs:us-east-1:123456789012:{ALLOWED}",
        },
    ]
    runner = stack.function("RunnerFunction").role
    _role(iam, path, "orders-writer", runner, reach)
    nobody = "arn:aws:iam::123456789012:role/somebody-else"
    untrusting = _role(iam, path, "orders-closed", nobody, reach)
    _role(iam, path, "careless", runner, [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    return Roles("orders-writer", untrusting, path)


def _workflow(admin: Any, spec: str, service_account: str = "") -> str:
    request = CreateWorkflowRequest.model_validate(
        {
            "folderId": "s" + uuid.uuid4().hex[:10],
            "name": "put",
            "specification": {"specYaml": spec},
            "serviceAccountId": service_account,
        }
    )
    operation = workflows.create(admin, request, caller="test")
    return str(operation.resource_id)


def _start(admin: Any, workflow_id: str, n: int) -> str:
    command = executions.StartCommand(workflow_id, json.dumps({"n": n}), "test")
    return executions.start(admin, command)


def _history(svc: Any, execution_id: str) -> dict[str, dict[str, Any]]:
    entries = queries.history(svc, execution_id, size=None, token=None)["entries"]
    return {e["id"]: e for e in entries}


def _keys(bucket: str) -> set[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return {o["Key"] for o in listed.get("Contents", [])}


def test_a_step_under_the_workflows_role_reaches_what_the_role_allows(
    svc: Any, admin: Any, roles: Roles
) -> None:
    workflow_id = _workflow(admin, _spec(ALLOWED), roles.allowed)

    execution = drive.run_to_end(svc, _start(admin, workflow_id, 1))

    assert execution["status"] == "FINISHED", execution
    assert "runs/1.json" in _keys(ALLOWED)
    history = _history(svc, execution["id"])
    assert [history["put"]["status"], history["send"]["status"]] == ["COMPLETED", "COMPLETED"]


def test_the_same_step_is_denied_where_the_role_does_not_reach_and_can_be_caught(
    svc: Any, admin: Any, roles: Roles
) -> None:
    # The integration role may write to every stepline- bucket: only the workflow's role
    # keeps this one out.
    workflow_id = _workflow(admin, _spec(OTHER), roles.allowed)

    execution = drive.run_to_end(svc, _start(admin, workflow_id, 2))

    assert execution["status"] == "FINISHED", execution
    put = _history(svc, execution["id"])["put"]
    assert put["error"]["errorCode"] == "STEP_PERMISSION_DENIED", put
    assert "orders-writer" in put["error"]["message"]
    assert "runs/2.json" not in _keys(OTHER)


def test_a_queue_the_role_does_not_reach_fails_the_step(svc: Any, admin: Any, roles: Roles) -> None:
    workflow_id = _workflow(admin, _spec(ALLOWED, queue=OTHER), roles.allowed)

    execution = drive.run_to_end(svc, _start(admin, workflow_id, 3))

    assert execution["status"] == "FAILED", execution
    send = _history(svc, execution["id"])["send"]
    assert send["error"]["errorCode"] == "STEP_PERMISSION_DENIED", send


def test_without_a_service_account_the_integration_role_is_used(svc: Any, admin: Any) -> None:
    workflow_id = _workflow(admin, _spec(OTHER, queue=OTHER))

    execution = drive.run_to_end(svc, _start(admin, workflow_id, 4))

    assert execution["status"] == "FINISHED", execution
    assert "runs/4.json" in _keys(OTHER)


def test_a_role_that_cannot_be_assumed_fails_the_step_naming_it(
    svc: Any, admin: Any, roles: Roles
) -> None:
    workflow_id = _workflow(admin, _spec(ALLOWED), roles.untrusting)

    execution = drive.run_to_end(svc, _start(admin, workflow_id, 5))

    put = _history(svc, execution["id"])["put"]
    assert put["error"]["errorCode"] == "STEP_PERMISSION_DENIED", put
    message = put["error"]["message"]
    assert f"serviceAccountId {roles.untrusting}: the runner could not assume the role" in message
    assert "SecretAccessKey" not in message and "SessionToken" not in message
    assert execution["status"] == "FINISHED"  # caught like any denied call
    assert "runs/5.json" not in _keys(ALLOWED)


def test_a_role_of_another_stacks_path_is_refused_before_sts(svc: Any, admin: Any) -> None:
    other = "arn:aws:iam::123456789012:role/stepline-integrations/prod/orders-writer"
    workflow_id = _workflow(admin, _spec(ALLOWED), other)

    execution = drive.run_to_end(svc, _start(admin, workflow_id, 6))

    put = _history(svc, execution["id"])["put"]
    assert put["error"]["errorCode"] == "STEP_PERMISSION_DENIED", put
    assert (
        "not a role under this stack's IAM path /stepline-integrations/sa/"
        in (put["error"]["message"])
    )


def test_the_role_is_pinned_when_the_execution_starts(svc: Any, admin: Any, roles: Roles) -> None:
    workflow_id = _workflow(admin, _spec(ALLOWED), roles.allowed)
    execution_id = _start(admin, workflow_id, 7)
    update = UpdateWorkflowRequest.model_validate(
        {"serviceAccountId": roles.untrusting, "updateMask": "serviceAccountId"}
    )
    workflows.update(admin, workflow_id, update, caller="test")

    execution = drive.run_to_end(svc, execution_id)

    assert execution["status"] == "FINISHED", execution
    assert _history(svc, execution_id)["put"]["status"] == "COMPLETED"
    later = drive.run_to_end(svc, _start(admin, workflow_id, 8))
    assert _history(svc, later["id"])["put"]["error"]["errorCode"] == "STEP_PERMISSION_DENIED"


@pytest.fixture
def deployed_runner(steps_queue: Any) -> Iterator[Any]:
    """The steps queue emptied before and after: the deployed runner takes the message."""
    yield steps_queue
    steps_queue()


def test_the_deployed_runner_assumes_the_role_in_its_sandbox(
    stack: EmulatedStack, svc: Any, admin: Any, roles: Roles, deployed_runner: Any
) -> None:
    allowed = _start(admin, _workflow(admin, _spec(ALLOWED), roles.allowed), 9)
    workflow_id = _workflow(admin, _spec(OTHER), roles.allowed)
    other = _start(admin, workflow_id, 10)
    authorizer.CALLS.clear()

    # The first hop, as Start hands it over: one invocation runs each execution to its end.
    for execution_id in (allowed, other):
        stack.invoke("RunnerFunction", {"executionId": execution_id, "seq": 0})

    assert svc.executions.get(allowed).status == "FINISHED"
    assert "runs/9.json" in _keys(ALLOWED)
    put = _history(svc, other)["put"]
    assert put["error"]["errorCode"] == "STEP_PERMISSION_DENIED", put
    assert "runs/10.json" not in _keys(OTHER)
    denied = [c for c in authorizer.CALLS.snapshot() if c.action == "s3:PutObject"]
    # The session is named after the workflow: CloudTrail (here, the emulator) says whose.
    assert [(c.role, c.principal.rsplit("/", 1)[1], c.allowed) for c in denied][-1] == (
        "orders-writer",
        workflow_id,
        False,
    )


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:iam::123456789012:role/admin",
        "arn:aws:iam::123456789012:role/other-path/orders-writer",
        "arn:aws:iam::123456789012:user/stepline-integrations/sa/ann",
        "orders writer",
        "x" * 65,
    ],
)
def test_a_role_outside_the_path_is_refused_at_create_and_update(
    api: Api, folder: str, value: str
) -> None:
    body = {"folderId": folder, "name": "orders", "specification": {"specYaml": SPEC}}
    created = api.call("workflow_create", body=body | {"serviceAccountId": value})
    assert (created.status, created.body["code"]) == (400, 3), created.body
    assert created.body["message"].startswith("serviceAccountId: ")
    assert "/stepline-integrations/<stack name>/" in created.body["message"]

    workflow_id = api.create_workflow(folder)
    updated = api.call(
        "workflow_update",
        path={"workflowId": workflow_id},
        body={"serviceAccountId": value, "updateMask": "serviceAccountId"},
    )
    assert (updated.status, updated.body["code"]) == (400, 3), updated.body
    assert updated.body["message"].startswith("serviceAccountId: ")


def test_a_role_name_or_arn_under_the_path_is_kept(api: Api, folder: str, roles: Roles) -> None:
    body = {"folderId": folder, "name": "orders", "specification": {"specYaml": SPEC}}
    for name, value in (("by-name", roles.allowed), ("by-arn", roles.untrusting)):
        reply = api.call("workflow_create", body=body | {"name": name, "serviceAccountId": value})
        assert reply.status == 200, reply.body
        assert reply.body["response"]["serviceAccountId"] == value


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("dynamodb", lambda c, p: c.scan(TableName=p["Table"])),
        ("sqs", lambda c, p: c.send_message(QueueUrl=p["StepsQueue"], MessageBody="x")),
        ("sqs", lambda c, p: c.send_message(QueueUrl=p["TriggerQueue"], MessageBody="x")),
        ("s3", lambda c, p: c.get_object(Bucket=p["PayloadBucket"], Key="x")),
        ("s3", lambda c, p: c.put_object(Bucket=p["TriggerBucket"], Key="x", Body=b"x")),
        ("secretsmanager", lambda c, p: c.get_secret_value(SecretId=p["PageTokenSecret"])),
    ],
)
def test_a_role_granted_everything_still_never_reaches_the_stacks_own_resources(
    stack: EmulatedStack, svc: Any, roles: Roles, service: str, call: Any
) -> None:
    from botocore.exceptions import ClientError

    from stepline.service.runner.delegation import identity
    from stepline.store.records import ExecutionRecord

    head = ExecutionRecord("ex", "wfcareless", 1, "RUNNING", datetime.now(UTC))
    clients = identity(svc, replace(head, service_account_id="careless")).client
    # The session policy takes only the stack away: the role reaches the rest.
    clients("s3").put_object(Bucket=ALLOWED, Key="careless.json", Body=b"{}")

    with pytest.raises(ClientError) as caught:
        call(clients(service), stack.deployment.physical)

    assert caught.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")


def test_it_is_the_session_policy_that_keeps_them_out(
    stack: EmulatedStack, svc: Any, roles: Roles
) -> None:
    from botocore.exceptions import ClientError

    from stepline.integrations.roles import assume, session_clients

    arn = f"arn:aws:iam::123456789012:role{roles.path}careless"
    unfenced = session_clients(assume(svc.core_client("sts"), arn, "probe"))

    with pytest.raises(ClientError) as caught:
        unfenced("s3").get_object(Bucket=stack.deployment.physical["PayloadBucket"], Key="x")

    assert caught.value.response["Error"]["Code"] == "NoSuchKey"  # reached, not refused


def test_a_trust_policy_may_admit_chosen_workflows_only(
    stack: EmulatedStack, svc: Any, admin: Any, roles: Roles
) -> None:
    chosen = _workflow(admin, _spec(ALLOWED), "chosen-only")
    other = _workflow(admin, _spec(ALLOWED), "chosen-only")
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": stack.function("RunnerFunction").role},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:RoleSessionName": [chosen]}},
    }
    iam = stack.clients("iam")
    iam.create_role(
        RoleName="chosen-only",
        Path=roles.path,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )
    reach = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{ALLOWED}/*"}
    iam.put_role_policy(
        RoleName="chosen-only",
        PolicyName="reach",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [reach]}),
    )

    admitted = drive.run_to_end(svc, _start(admin, chosen, 11))
    refused = drive.run_to_end(svc, _start(admin, other, 12))

    assert _history(svc, admitted["id"])["put"]["status"] == "COMPLETED"
    put = _history(svc, refused["id"])["put"]
    assert put["error"]["errorCode"] == "STEP_PERMISSION_DENIED", put
    assert "could not assume the role" in put["error"]["message"]


CALLS = """
yawl: "0.1"
start: echo
steps:
  echo:
    functionCall:
      functionId: stepline-echo
      input: '\\({value: 2})'
      next: double
  double:
    functionCall:
      functionId: stepline-double
      input: '\\({value: 2})'
"""


def test_function_calls_are_made_as_the_role_too(
    stack: EmulatedStack, svc: Any, admin: Any, roles: Roles, steps_queue: Any
) -> None:
    echo = "arn:aws:lambda:us-east-1:123456789012:function:stepline-echo"
    allow = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": echo}
    _role(
        stack.clients("iam"),
        roles.path,
        "echo-only",
        stack.function("RunnerFunction").role,
        [allow],
    )
    execution_id = _start(admin, _workflow(admin, CALLS, "echo-only"), 13)

    # The deployed runner, whose clients reach the stack's Lambda endpoint as in AWS.
    stack.invoke("RunnerFunction", {"executionId": execution_id, "seq": 0})
    steps_queue()

    history = _history(svc, execution_id)
    assert history["echo"]["status"] == "COMPLETED", history["echo"]
    assert history["double"]["error"]["errorCode"] == "STEP_PERMISSION_DENIED"
    assert svc.executions.get(execution_id).status == "FAILED"
