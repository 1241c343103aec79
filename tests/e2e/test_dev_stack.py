"""Every call over HTTP against ``stepline dev``, as the README's curl lines do."""

from __future__ import annotations

import signal

import boto3
import httpx
import pytest

from tests.e2e.conftest import RunningStack, launch_dev_stack

pytestmark = pytest.mark.e2e

SPEC = "yawl: '0.1'\nstart: nap\nsteps:\n  nap:\n    wait: {duration: 1h}\n"


@pytest.fixture
def client(dev_stack: RunningStack) -> httpx.Client:
    return dev_stack.client()


def test_the_examples_are_registered(dev_stack: RunningStack, client: httpx.Client) -> None:
    workflow_id = dev_stack.workflow_id("hello")
    workflow = client.get(f"/workflow/{workflow_id}").json()["workflow"]
    assert workflow["name"] == "hello"
    assert workflow["executionUrl"] == f"{dev_stack.url}/workflows/v1/execution/{workflow_id}/start"


def test_every_call_over_http(client: httpx.Client) -> None:
    created = client.post(
        "/workflow",
        json={"folderId": "e2e", "name": "orders", "specification": {"specYaml": SPEC}},
    )
    assert created.status_code == 200, created.text
    workflow_id = created.json()["metadata"]["workflowId"]

    started = client.post(
        "/execution/start", json={"workflowId": workflow_id, "input": {"inputJson": '{"n": 1}'}}
    ).json()["executionId"]
    by_link = client.post(f"/execution/{workflow_id}/start", content=b'{"n": 2}').json()[
        "executionId"
    ]

    execution = client.get(f"/execution/{started}").json()["execution"]
    assert execution["status"] in ("QUEUED", "RUNNING")
    history = client.get(f"/execution/{started}/history").json()
    assert history["execution"]["id"] == started

    listed = client.get("/execution", params={"workflowId": workflow_id}).json()
    assert [e["id"] for e in listed["executions"]] == [by_link, started]

    assert client.post(f"/execution/{started}/stop").json() == {"executionId": started}
    assert client.post(f"/execution/{by_link}/terminate").json() == {"executionId": by_link}
    stopped = client.get(
        "/execution", params={"workflowId": workflow_id, "filter": "status=STOPPED"}
    ).json()
    assert len(stopped["executions"]) == 2

    updated = client.patch(
        f"/workflow/{workflow_id}", json={"description": "changed", "updateMask": "description"}
    )
    assert updated.json()["response"]["description"] == "changed"
    folder = client.get("/workflow", params={"folderId": "e2e"}).json()
    assert [w["id"] for w in folder["workflows"]] == [workflow_id]
    assert client.delete(f"/workflow/{workflow_id}").json()["done"] is True
    assert client.get(f"/workflow/{workflow_id}").status_code == 404


def test_errors_over_http_are_json_with_codes(client: httpx.Client) -> None:
    bad_json = client.post("/execution/start", content=b"{nope")
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == 3
    unknown = client.get("/nothing-here")  # no route: API Gateway's own answer
    assert (unknown.status_code, unknown.json()) == (404, {"message": "Not Found"})


def test_unsigned_and_badly_signed_requests_are_refused_as_api_gateway_does(
    dev_stack: RunningStack,
) -> None:
    url = dev_stack.url + "/workflows/v1/workflow"
    unsigned = httpx.get(url, timeout=10)
    assert (unsigned.status_code, unsigned.json()) == (403, {"message": "Forbidden"})

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("stepline-dev", "wrong"), "execute-api", "us-east-1").add_auth(request)
    forged = httpx.get(url, headers=dict(request.headers.items()), timeout=10)
    assert forged.status_code == 403
    assert forged.json()["message"].startswith("The request signature we calculated")


def test_the_public_api_starts_public_workflows_for_anyone_and_nothing_else(
    dev_stack: RunningStack, client: httpx.Client
) -> None:
    created = client.post(
        "/workflow",
        json={"folderId": "e2e-public", "name": "open", "specification": {"specYaml": SPEC}},
    )
    workflow_id = created.json()["metadata"]["workflowId"]
    public = dev_stack.public_url + f"/workflows/v1/execution/{workflow_id}/start"

    refused = httpx.post(public, content=b"{}", timeout=10)
    assert refused.status_code == 401 and refused.json()["code"] == 16

    made_public = client.patch(f"/workflow/{workflow_id}", json={"isPublic": True}).json()
    assert made_public["response"]["executionUrl"] == public
    started = httpx.post(public, content=b'{"n": 1}', timeout=10)
    assert started.status_code == 200, started.text
    signed = client.post(f"/execution/{workflow_id}/start", content=b'{"n": 2}')  # by link
    assert signed.status_code == 200, signed.text


def test_emulated_aws_is_reachable_for_users_with_the_root_key(dev_stack: RunningStack) -> None:
    session = boto3.session.Session(
        aws_access_key_id="stepline-dev",
        aws_secret_access_key="stepline-dev",
        region_name="us-east-1",
    )
    dynamodb = session.client("dynamodb", endpoint_url=dev_stack.aws_endpoint)
    sqs = session.client("sqs", endpoint_url=dev_stack.aws_endpoint)
    assert any("Table" in name for name in dynamodb.list_tables()["TableNames"])
    assert any("StepsQueue" in url for url in sqs.list_queues()["QueueUrls"])
    stranger = boto3.session.Session(
        aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key="x", region_name="us-east-1"
    ).client("dynamodb", endpoint_url=dev_stack.aws_endpoint)
    with pytest.raises(stranger.exceptions.ClientError):
        stranger.list_tables()


def test_ctrl_c_stops_the_stack_cleanly() -> None:
    # A stack of its own: the session's stack is shared with other e2e files on this worker.
    dev_stack = launch_dev_stack()
    dev_stack.process.send_signal(signal.SIGINT)
    assert dev_stack.process.wait(timeout=20) == 0
    assert "Stepline dev stack stopped" in dev_stack.lines[-1]
    with pytest.raises(httpx.TransportError):
        httpx.get(dev_stack.url + "/workflows/v1/workflow", timeout=2)
