"""SQS → DynamoDB → S3 → child workflow through the dev stack, checked in the emulator."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import httpx
import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).parents[2] / "examples" / "integrations"


def _create(client: httpx.Client, name: str, spec: str) -> str:
    reply = client.post(
        "/workflow",
        json={"folderId": "integrations", "name": name, "specification": {"specYaml": spec}},
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["metadata"]["workflowId"])


def test_a_workflow_chains_sqs_dynamodb_s3_and_a_child(dev_stack: RunningStack) -> None:
    aws = boto3.session.Session(  # the dev account's root key
        aws_access_key_id="stepline-dev",
        aws_secret_access_key="stepline-dev",
        region_name="us-east-1",
    )
    sqs = aws.client("sqs", endpoint_url=dev_stack.aws_endpoint)
    dynamodb = aws.client("dynamodb", endpoint_url=dev_stack.aws_endpoint)
    s3 = aws.client("s3", endpoint_url=dev_stack.aws_endpoint)
    queue_url = sqs.create_queue(QueueName="stepline-orders")["QueueUrl"]
    dynamodb.create_table(
        TableName="stepline-orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    s3.create_bucket(Bucket="stepline-archive")

    client = dev_stack.client()
    child = _create(client, "receipt", (EXAMPLES / "receipt.yaml").read_text())
    spec = (EXAMPLES / "order_pipeline.yaml").read_text().replace("CHILD_WORKFLOW_ID", child)
    parent = _create(client, "order-pipeline", spec)
    started = client.post(
        f"/execution/{parent}/start", content=json.dumps({"orderId": 7, "total": 19.5})
    )
    execution_id = started.json()["executionId"]

    deadline = time.monotonic() + 60
    while True:
        execution = client.get(f"/execution/{execution_id}").json()["execution"]
        if execution["status"] not in ("QUEUED", "RUNNING"):
            break
        assert time.monotonic() < deadline, execution
        time.sleep(0.1)

    assert execution["status"] == "FINISHED", execution
    result = json.loads(execution["result"]["resultJson"])
    assert result == {"receipt": {"receipt": "R-7"}}
    message = sqs.receive_message(QueueUrl=queue_url)["Messages"][0]
    assert json.loads(message["Body"]) == {"orderId": 7, "event": "received"}
    item = dynamodb.get_item(TableName="stepline-orders", Key={"id": {"N": "7"}})["Item"]
    assert item["status"] == {"S": "received"} and item["total"] == {"N": "19.5"}
    archived = s3.get_object(Bucket="stepline-archive", Key="orders/7.json")["Body"].read()
    assert json.loads(archived) == {"orderId": 7, "total": 19.5}
    children = client.get("/execution", params={"workflowId": child}).json()["executions"]
    assert [c["status"] for c in children] == ["FINISHED"]
