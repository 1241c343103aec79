"""lockboxPayload secrets from Secrets Manager on moto, and their redaction."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from stepline.integrations import secrets
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import HTTPCall
from stepline.yawl.templating import render
from tests.unit.integrations.conftest import stubbed

Code = WorkflowErrorCode


def http_step() -> HTTPCall:
    return HTTPCall.model_validate(
        {
            "url": "https://api.example.com/\\(.id)",
            "headers": {"authorization": 'Bearer \\(lockboxPayload("api"; "token"))'},
            "body": '\\({k: lockboxPayload("db"; "password"; "AWSPREVIOUS")})',
        }
    )


def test_references_finds_every_literal_lockbox_call_of_a_step() -> None:
    assert secrets.references(http_step()) == {
        ("api", "token", None),
        ("db", "password", "AWSPREVIOUS"),
    }


def test_references_of_a_step_without_secrets_is_empty() -> None:
    assert secrets.references(HTTPCall.model_validate({"url": "\\(.u)"})) == set()


@pytest.fixture
def manager(aws: None) -> Any:
    client = boto3.client("secretsmanager")
    client.create_secret(Name="api", SecretString=json.dumps({"token": "t0k3n", "n": 5}))
    client.create_secret(Name="db", SecretString=json.dumps({"password": "old"}))
    client.put_secret_value(SecretId="db", SecretString=json.dumps({"password": "new"}))
    return client


def test_secrets_for_gives_the_mapping_templates_read(manager: Any) -> None:
    mapping = secrets.secrets_for(http_step(), secrets.SecretCache(manager), 5)
    assert mapping == {"api": {"token": "t0k3n", "n": "5"}, "db@AWSPREVIOUS": {"password": "old"}}
    header = 'Bearer \\(lockboxPayload("api"; "token"))'
    assert render(header, {}, secrets=mapping) == "Bearer t0k3n"
    body = '\\(lockboxPayload("db"; "password"; "AWSPREVIOUS"))'
    assert render(body, {}, secrets=mapping) == "old"


def test_a_version_id_is_sent_as_version_id(manager: Any) -> None:
    version = manager.describe_secret(SecretId="db")["VersionIdsToStages"]
    old = next(v for v, stages in version.items() if "AWSPREVIOUS" in stages)
    payload = secrets.SecretCache(manager).payload("db", old, 5)
    assert payload == {"password": "old"}


def test_each_secret_is_fetched_once_per_cache(manager: Any) -> None:
    calls: list[str] = []
    manager.meta.events.register(
        "before-call.secrets-manager.GetSecretValue",
        lambda params, **_: calls.append(params["body"]),
    )
    cache = secrets.SecretCache(manager)
    cache.resolve([("api", "token", None), ("api", "n", None)], 5)
    cache.resolve([("api", "token", None)], 5)
    assert len(calls) == 1


def test_missing_secret_is_an_invalid_argument(aws: None) -> None:
    cache = secrets.SecretCache(boto3.client("secretsmanager"))
    with pytest.raises(StepFailure) as caught:
        cache.resolve([("nope", "k", None)], 5)
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


@pytest.mark.parametrize("value", ["plain text", '["a"]'])
def test_secret_that_is_not_a_json_object_is_an_invalid_argument(value: str, aws: None) -> None:
    client = boto3.client("secretsmanager")
    client.create_secret(Name="odd", SecretString=value)
    with pytest.raises(StepFailure) as caught:
        secrets.SecretCache(client).payload("odd", None, 5)
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("aws_code", "status", "expected"),
    [
        ("AccessDeniedException", 400, Code.STEP_PERMISSION_DENIED),
        ("DecryptionFailure", 400, Code.STEP_INVALID_ARGUMENT),
        ("ThrottlingException", 400, Code.STEP_QUOTA_EXCEEDED),
        ("InternalServiceError", 500, Code.STEP_QUOTA_EXCEEDED),
    ],
)
def test_fetch_errors_map_to_workflow_codes(aws_code: str, status: int, expected: Code) -> None:
    client = stubbed("secretsmanager", "get_secret_value", aws_code, status)("secretsmanager")
    with pytest.raises(StepFailure) as caught:
        secrets.SecretCache(client).payload("api", None, 5)
    assert caught.value.code == expected


def test_redact_replaces_secret_values_anywhere_in_a_json_value() -> None:
    mapping = {"api": {"token": "t0k3n", "empty": ""}, "db": {"pw": 'p"w'}}
    value = {
        "headers": {"authorization": "Bearer t0k3n"},
        "list": ["t0k3n", 1, None, True],
        "t0k3n": "key too",
        "json": json.dumps({"pw": 'p"w'}),
        "raw": 'p"w',
    }
    assert secrets.redact(value, mapping) == {
        "headers": {"authorization": "Bearer ***"},
        "list": ["***", 1, None, True],
        "***": "key too",
        "json": '{"pw": "***"}',
        "raw": "***",
    }


def test_redact_without_secrets_returns_the_value_unchanged() -> None:
    value = {"a": "b"}
    assert secrets.redact(value, {}) is value
