"""Whom an execution's AWS calls are made as: the stack's integration role, or the role its
workflow's ``serviceAccountId`` names (pinned on the head at Start, as the spec version is).

A name is a role under the integration role's own IAM path (``/stepline-integrations/<stack
name>/``); an ARN must be under that path, in this account: anything else fails the call with
``STEP_PERMISSION_DENIED`` before STS is asked (and the runner's policy would refuse it: it may
assume roles under that path only). The role is assumed with the runner's own credentials, so
it must trust the runner's role; its policies then decide what the calls may reach — never the
stack's own resources: the session policy the runner passes denies them (as the integration
role's explicit Deny does), and the adapters refuse them by name before any call
(:mod:`stepline.integrations.boundary`).

What uses the role: every integration step that calls AWS (FunctionCall, YMQ, YDS,
YDBDocument, ObjectStorage, Postbox, and ContainerCall's signed function URLs) and the
``lockboxPayload`` secrets of the spec. HTTPCall, gRPC calls, unsigned ContainerCalls and child
workflows use no AWS credentials and are the same with or without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepline.integrations.roles import SESSIONS
from stepline.service.deps import Services, Settings
from stepline.store.records import ExecutionRecord
from stepline.yawl.errors import StepFailure, WorkflowErrorCode


@dataclass(frozen=True)
class Identity:
    """The clients calls sign with, and the credentials behind them (None: the default
    chain's)."""

    client: Callable[[str], Any]
    credentials: Callable[[], Any] | None


def identity(svc: Services, head: ExecutionRecord) -> Identity:
    """The clients of the execution's calls; a StepFailure naming the role when it is not one
    the runner may assume, or STS refuses it."""
    if not head.service_account_id:
        return Identity(svc.client_factory, svc.credentials)
    settings = svc.settings
    arn = role_arn(settings.integration_role_arn, head.service_account_id)
    session = SESSIONS.session(
        settings.table_name,
        svc.core_client("sts"),
        arn,
        session_name(head.workflow_id),
        fence(settings, arn),
    )
    return Identity(session.clients, session.credentials)


def fence(settings: Settings, arn: str) -> str:
    """The session policy of a workflow's role: everything its own policies allow but the
    stack's resources — the integration role's explicit Deny, for roles the stack does not
    own (an Allow of everything here grants nothing: a session gets the intersection)."""
    partition, account = arn.split(":")[1], arn.split(":")[4]
    stack, lower = settings.stack_name, settings.stack_name.lower()
    queue = settings.steps_queue_url.rstrip("/").rsplit("/", 1)[-1]

    def arns(service: str, *names: str) -> list[str]:
        return [f"arn:{partition}:{service}:*:{account}:{name}" for name in names]

    own = [
        *arns("dynamodb", f"table/{settings.table_name}", f"table/{settings.table_name}/*"),
        *arns("sqs", queue),
        f"arn:{partition}:s3:::{settings.payload_bucket}",
        f"arn:{partition}:s3:::{settings.payload_bucket}/*",
    ]
    if stack:  # every resource CloudFormation names after the stack (buckets in lower case)
        own += arns("dynamodb", f"table/{stack}-*")
        own += arns("sqs", f"{stack}-*")
        own += arns("kinesis", f"stream/{stack}-*")
        own += arns("secretsmanager", f"secret:{stack}-*")
        own += arns("lambda", f"function:{stack}-*")
        own += [f"arn:{partition}:s3:::{lower}-*"]
    statements = [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": own},
    ]
    policy = {"Version": "2012-10-17", "Statement": statements}
    return json.dumps(policy, separators=(",", ":"))


def role_arn(integration_role_arn: str | None, service_account_id: str) -> str:
    """The ARN a ``serviceAccountId`` names: a name under the integration role's path, or an
    ARN that must be under it."""
    if not integration_role_arn or "/" not in integration_role_arn:
        raise _denied(
            service_account_id,
            "the runner has no integration role (INTEGRATION_ROLE_ARN), so no IAM path to "
            "assume roles under",
        )
    base = integration_role_arn.rsplit("/", 1)[0] + "/"
    if not service_account_id.startswith("arn:"):
        return base + service_account_id
    if not service_account_id.startswith(base):
        path = "/" + base.split(":role/", 1)[-1]
        raise _denied(
            service_account_id,
            f"not a role under this stack's IAM path {path} in this account, which is where "
            "the runner may assume roles",
        )
    return service_account_id


def session_name(workflow_id: str) -> str:
    """``RoleSessionName`` of a workflow's session (2-64 of ``[\\w+=,.@-]``): its id."""
    return workflow_id[:64].ljust(2, "-")


def _denied(service_account_id: str, why: str) -> StepFailure:
    return StepFailure(
        WorkflowErrorCode.STEP_PERMISSION_DENIED, f"serviceAccountId {service_account_id}: {why}"
    )
