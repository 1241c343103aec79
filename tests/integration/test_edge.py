"""The API Gateway edge as AWS runs it: IAM-authorised routes, the public start-by-link API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stepline.dev.gateway import Gateway
from stepline.dev.stack import EmulatedStack

from .conftest import SPEC, Api

HOST = "127.0.0.1:8080"


def call(
    gateway: Gateway,
    method: str,
    path: str,
    body: Any = None,
    credentials: Credentials | None = None,
) -> tuple[int, dict[str, Any]]:
    """One request through the edge, signed with ``credentials`` when given."""
    data = b"" if body is None else json.dumps(body).encode()
    headers = {"host": HOST}
    if credentials is not None:
        request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=data, headers=headers)
        SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
    status, _, payload = gateway.handle(method, path, headers, data, HOST)
    return status, json.loads(payload or b"{}")


ROOT = Credentials("stepline-dev", "stepline-dev")


@pytest.fixture(scope="module")
def edge(stack: EmulatedStack) -> Gateway:
    return stack.gateway()


@pytest.fixture(scope="module")
def public(stack: EmulatedStack) -> Gateway:
    return stack.public_gateway()


def user(stack: EmulatedStack, name: str, actions: list[str]) -> Credentials:
    """An IAM user of the emulated account allowed ``actions`` on every resource."""
    iam = stack.clients("iam")
    iam.create_user(UserName=name)
    if actions:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(UserName=name, PolicyName="api", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def test_an_unsigned_request_to_an_iam_route_is_forbidden(edge: Gateway) -> None:
    assert call(edge, "GET", "/workflows/v1/workflow") == (403, {"message": "Forbidden"})


def test_a_request_signed_with_a_wrong_secret_is_refused(edge: Gateway) -> None:
    status, body = call(
        edge, "GET", "/workflows/v1/workflow", credentials=Credentials("stepline-dev", "x")
    )
    assert status == 403
    assert body["message"].startswith("The request signature we calculated does not match")


def test_a_caller_needs_execute_api_invoke(
    stack: EmulatedStack, edge: Gateway, folder: str
) -> None:
    nobody = user(stack, "nobody", [])
    status, body = call(
        edge, "GET", f"/workflows/v1/workflow?folderId={folder}", credentials=nobody
    )
    assert status == 403
    assert "execute-api:Invoke" in body["Message"]

    allowed = user(stack, "operator", ["execute-api:Invoke"])
    spec = {"folderId": folder, "name": "mine", "specification": {"specYaml": SPEC}}
    status, body = call(edge, "POST", "/workflows/v1/workflow", spec, credentials=allowed)
    assert status == 200, body
    assert body["createdBy"] == "arn:aws:iam::123456789012:user/operator"  # the identity reached it


def test_start_by_link_on_the_main_api_starts_any_workflow_for_a_signed_caller(
    edge: Gateway, workflow_id: str
) -> None:
    path = f"/workflows/v1/execution/{workflow_id}/start"
    assert call(edge, "POST", path, {"a": 1})[0] == 403  # anonymous: API Gateway refuses
    status, body = call(edge, "POST", path, {"a": 1}, credentials=ROOT)
    assert status == 200, body


def test_the_public_api_starts_only_public_workflows_and_ignores_signatures(
    api: Api, public: Gateway, workflow_id: str
) -> None:
    path = f"/workflows/v1/execution/{workflow_id}/start"
    for credentials in (None, ROOT):  # no authorizer: a signature proves nothing there
        status, body = call(public, "POST", path, {"a": 1}, credentials=credentials)
        assert (status, body["code"]) == (401, 16), body

    made_public = api.call(
        "workflow_update", path={"workflowId": workflow_id}, body={"isPublic": True}
    )
    assert made_public.status == 200, made_public.body
    status, body = call(public, "POST", path, {"a": 1})
    assert status == 200, body
    assert call(public, "GET", "/workflows/v1/workflow") == (404, {"message": "Not Found"})
