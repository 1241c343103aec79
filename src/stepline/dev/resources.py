"""The stack's stateful resources (table, queues, buckets, secret) from template.yaml, alone.

For benchmarks that drive the core in this process on moto without IAM or functions (the
cost and speed benches): they get the resources and one merged environment. The dev stack
and the integration tests deploy the whole template instead (:mod:`stepline.dev.deploy`).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from stepline.dev import template

# Resource types the dev stack creates through the emulator's CloudFormation.
STATEFUL_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket"})
SECRET_TYPE = "AWS::SecretsManager::Secret"


def provision(client_factory: Any, stack_name: str = "dev") -> dict[str, str]:
    """Create the stateful resources of template.yaml; returns logical id → physical id."""
    cfn = template.transformed()
    resources = cfn["Resources"]
    stateful = {k: v for k, v in resources.items() if v["Type"] in STATEFUL_TYPES}
    body = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": cfn.get("Parameters", {}),
        "Resources": stateful,
    }
    cloudformation = client_factory("cloudformation")
    cloudformation.create_stack(StackName=stack_name, TemplateBody=json.dumps(body))
    described = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in described}
    missing = set(stateful) - set(physical)
    if missing:
        raise RuntimeError(f"the emulator did not create {sorted(missing)}")
    # The emulator's CloudFormation has no Secrets Manager support: create those directly,
    # with a generated value as GenerateSecretString would.
    manager = client_factory("secretsmanager")
    for logical, resource in resources.items():
        if resource["Type"] == SECRET_TYPE:
            reply = manager.create_secret(
                Name=f"{stack_name}-{logical}", SecretString=secrets.token_urlsafe(36)
            )
            physical[logical] = reply["ARN"]
    return physical


def environment(physical: dict[str, str]) -> dict[str, str]:
    """The handlers' environment (as template.yaml sets it), resolved against ``physical``."""
    merged: dict[str, str] = {}
    for route in template.routes():
        merged |= template.function_environment(route.function, physical)
    return merged | template.function_environment(RUNNER, physical)


RUNNER = "RunnerFunction"
