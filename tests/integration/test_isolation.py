"""A workflow cannot reach the stack's own resources, whatever IntegrationPrefix allows.

The integration role of this module's stack is granted everything on top of its own policy
(Allow * on *, as a careless prefix would): its explicit Deny still keeps the stack's table,
queues, buckets, functions and secret out of reach, and the adapters refuse such targets
before calling. A prefix that would cover the stack's own names is refused at deploy time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepline.api import queries
from stepline.dev import deploy
from stepline.dev.stack import EmulatedStack, root_clients
from stepline.testing import drive
from tests.integration.conftest import Runs

STACK_NAME = "iso"
# AWS's defaults where the dev stack differs: Postbox steps may send from no identity.
STACK_PARAMETERS = {"SesIdentity": ""}


@pytest.fixture
def granted_everything(stack: EmulatedStack) -> Iterator[str]:
    """The integration role, given Allow * on * besides its own policy: only its Deny holds."""
    arn = stack.function("RunnerFunction").environment["INTEGRATION_ROLE_ARN"]
    iam, role = stack.clients("iam"), arn.rsplit("/", 1)[-1]
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    iam.put_role_policy(
        RoleName=role,
        PolicyName="everything",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    yield arn
    iam.delete_role_policy(RoleName=role, PolicyName="everything")


def _probe(stack: EmulatedStack, step: str) -> str:
    return f'yawl: "0.1"\nstart: probe\nsteps:\n  probe:\n    {step}\n'


def _error_of(svc: Any, runs: Runs, spec: str) -> dict[str, str]:
    """The error the probe step failed with (secrets are read before any step starts: then
    the execution's own)."""
    execution_id = runs.start(spec)
    ended = ("FINISHED", "FAILED", "STOPPED")
    drive.drain(svc, until=lambda: queries.get(svc, execution_id)["execution"]["status"] in ended)
    execution = queries.get(svc, execution_id)["execution"]
    assert execution["status"] == "FAILED", execution
    entries = queries.history(svc, execution_id, size=None, token=None)["entries"]
    return dict(entries[0]["error"] if entries else execution["error"])


def _probes(stack: EmulatedStack) -> dict[str, str]:
    physical = stack.deployment.physical
    queue_url = physical["StepsQueue"]
    start = stack.function("StartFunction").name
    return {
        "scan the table": (
            f"ydbDocument: {{database: d, tableName: {physical['Table']}, scan: {{}}}}"
        ),
        "put into the steps queue": f"ymq: {{queueArn: {queue_url}, put: {{body: x}}}}",
        "read the payload bucket": (
            f"objectStorage: {{bucket: {physical['PayloadBucket']}, object: x, get: {{}}}}"
        ),
        "invoke the Start function": f"functionCall: {{functionId: {start}}}",
        "read the page token secret": (
            """noOp: {output: '\\({k: lockboxPayload("SECRET"; "x")})'}"""
        ).replace("SECRET", physical["PageTokenSecret"]),
    }


@pytest.mark.parametrize(
    "probe",
    [
        "scan the table",
        "put into the steps queue",
        "read the payload bucket",
        "invoke the Start function",
        "read the page token secret",
    ],
)
def test_a_workflow_reaching_for_the_stacks_own_resources_is_refused(
    stack: EmulatedStack, svc: Any, runs: Runs, granted_everything: str, probe: str
) -> None:
    error = _error_of(svc, runs, _probe(stack, _probes(stack)[probe]))

    assert error["errorCode"] == "STEP_PERMISSION_DENIED", error


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("dynamodb", lambda c, p: c.scan(TableName=p["Table"])),
        ("sqs", lambda c, p: c.send_message(QueueUrl=p["StepsQueue"], MessageBody="x")),
        ("s3", lambda c, p: c.get_object(Bucket=p["PayloadBucket"], Key="x")),
        ("secretsmanager", lambda c, p: c.get_secret_value(SecretId=p["PageTokenSecret"])),
    ],
)
def test_the_integration_role_is_denied_them_even_when_granted_everything(
    stack: EmulatedStack, svc: Any, granted_everything: str, service: str, call: Any
) -> None:
    client = svc.client_factory(service)  # signed as the integration role

    with pytest.raises(ClientError) as caught:
        call(client, stack.deployment.physical)

    assert caught.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")


def test_the_integration_role_invokes_none_of_the_stacks_functions(
    stack: EmulatedStack, svc: Any, granted_everything: str
) -> None:
    with pytest.raises(ClientError) as caught:
        svc.client_factory("lambda").invoke(FunctionName=stack.function("StartFunction").name)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_only_the_runner_may_assume_the_integration_role(stack: EmulatedStack) -> None:
    arn = stack.function("RunnerFunction").environment["INTEGRATION_ROLE_ARN"]
    start = stack.role_clients("StartFunction")

    with pytest.raises(ClientError) as caught:
        start("sts").assume_role(RoleArn=arn, RoleSessionName="escape")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize(
    ("stack_name", "prefix"),
    [("stepline-prod", "stepline-"), ("stepline", "stepline-"), ("acme-flows-a", "acme-flows-")],
)
def test_a_prefix_that_covers_the_stacks_name_is_refused_at_deploy(
    stack: EmulatedStack, stack_name: str, prefix: str
) -> None:
    with pytest.raises(deploy.DeployRefused) as refused:
        deploy.deploy_template(
            root_clients(stack.aws_endpoint), stack_name, {"IntegrationPrefix": prefix}
        )
    assert f"IntegrationPrefix {prefix} covers this stack's own resource names" in str(
        refused.value
    )


@pytest.mark.parametrize("prefix", ["Stepline-", "stepline", "a_b-", "a-b-c-d-", "*"])
def test_a_prefix_of_the_wrong_shape_is_refused_at_deploy(
    stack: EmulatedStack, prefix: str
) -> None:
    with pytest.raises(deploy.DeployRefused, match="IntegrationPrefix"):
        deploy.deploy_template(
            root_clients(stack.aws_endpoint), "other", {"IntegrationPrefix": prefix}
        )


def test_each_poller_role_receives_from_its_own_queue_only(stack: EmulatedStack) -> None:
    physical = stack.deployment.physical
    for function, own, other in [
        ("RunnerFunction", "StepsQueue", "TriggerQueue"),
        ("TriggerFunction", "TriggerQueue", "StepsQueue"),
        ("DeadLetterFunction", "StepsDeadLetterQueue", "TriggerQueue"),
    ]:
        sqs = stack.role_clients(function)("sqs")
        sqs.receive_message(QueueUrl=physical[own], VisibilityTimeout=0)
        with pytest.raises(ClientError) as caught:
            sqs.receive_message(QueueUrl=physical[other])
        assert "AccessDenied" in caught.value.response["Error"]["Code"], function


def test_postbox_sends_from_no_identity_until_one_is_named(svc: Any, runs: Runs) -> None:
    step = (
        "postbox: {fromAddress: a@stepline.test, destination: {toAddresses: '[b@stepline.test]'}, "
        "simple: {subject: {data: s, charset: UTF_8}, body: {text: {data: t, charset: UTF_8}, "
        "html: {data: t, charset: UTF_8}}}}"
    )
    error = _error_of(svc, runs, f'yawl: "0.1"\nstart: probe\nsteps:\n  probe:\n    {step}\n')

    assert error["errorCode"] == "STEP_PERMISSION_DENIED", error


def test_an_empty_alarm_topic_is_said_in_the_outputs(stack: EmulatedStack) -> None:
    assert stack.deployment.outputs["DeadLetterAlarmTopic"].startswith("nobody")
    assert stack.deployment.outputs["IntegrationPrefixCheck"] == "ok"
