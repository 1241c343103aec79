"""YDBDocument → DynamoDB GetItem/PutItem/UpdateItem/Scan on moto, and the JSON conversion."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from stepline.integrations import ydb_document
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import YDBDocument
from tests.unit.integrations.conftest import Failing, MakeContext, stubbed

Code = WorkflowErrorCode


def step(**operation: Any) -> YDBDocument:
    return YDBDocument.model_validate(
        {"database": "/ru-central1/db", "tableName": "t", **operation}
    )


@pytest.fixture
def table(aws: None) -> Any:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


def test_put_then_get_round_trips_a_document(table: Any, make_ctx: MakeContext) -> None:
    doc = {"id": "a", "n": 1.5, "tags": ["x", None], "meta": {"ok": True}}
    data = {"doc": doc}
    put = ydb_document.call(step(put={"item": "\\(.doc)"}), data, make_ctx(data))
    got = ydb_document.call(step(get={"key": '\\({"id": .doc.id})'}), data, make_ctx(data))
    assert put == {"Attributes": None}
    assert got == {"Item": doc}


def test_put_returns_the_replaced_document(table: Any, make_ctx: MakeContext) -> None:
    ctx = make_ctx({})
    ydb_document.call(step(put={"item": '{"id": "a", "v": 1}'}), {}, ctx)
    put = ydb_document.call(step(put={"item": '{"id": "a", "v": 2}'}), {}, ctx)
    assert put == {"Attributes": {"id": "a", "v": 1}}


def test_get_of_a_missing_document_gives_null_item(table: Any, make_ctx: MakeContext) -> None:
    got = ydb_document.call(step(get={"key": '{"id": "zz"}'}), {}, make_ctx({}))
    assert got == {"Item": None}


def test_numbers_keep_their_precision(table: Any, make_ctx: MakeContext) -> None:
    item = '{"id": "p", "big": 123456789012345678901234567890, "dec": 0.1, "e": 1.5e-7}'
    ydb_document.call(step(put={"item": item}), {}, make_ctx({}))
    raw = table.get_item(TableName="t", Key={"id": {"S": "p"}})["Item"]
    assert raw["big"] == {"N": "123456789012345678901234567890"}
    assert Decimal(raw["dec"]["N"]) == Decimal("0.1")
    got = ydb_document.call(step(get={"key": '{"id": "p"}'}), {}, make_ctx({}))
    assert got["Item"]["big"] == 123456789012345678901234567890
    assert got["Item"]["dec"] == 0.1
    assert got["Item"]["e"] == 1.5e-7


def test_sets_and_binary_are_read_as_arrays_and_base64(table: Any, make_ctx: MakeContext) -> None:
    table.put_item(
        TableName="t",
        Item={
            "id": {"S": "s"},
            "ss": {"SS": ["b", "a"]},
            "ns": {"NS": ["10", "2.5"]},
            "b": {"B": b"\x00\x01"},
            "bs": {"BS": [b"\x02"]},
        },
    )
    got = ydb_document.call(step(get={"key": '{"id": "s"}'}), {}, make_ctx({}))
    assert got["Item"] == {
        "id": "s",
        "ss": ["a", "b"],
        "ns": [2.5, 10],
        "b": "AAE=",
        "bs": ["Ag=="],
    }


def test_update_applies_the_rendered_expression(table: Any, make_ctx: MakeContext) -> None:
    table.put_item(TableName="t", Item={"id": {"S": "u"}, "count": {"N": "1"}})
    data = {"id": "u", "by": 4}
    update = {
        "key": '\\({"id": .id})',
        "expression": "SET #count = #count + :by, who = :who",
        "expressionAttributeValues": '\\({":by": .by, ":who": "ann"})',
    }
    output = ydb_document.call(step(update=update), data, make_ctx(data))
    assert output == {"Attributes": {"id": "u", "count": 5, "who": "ann"}}


def test_scan_pages_with_limit_and_exclusive_start_key(table: Any, make_ctx: MakeContext) -> None:
    for i in range(3):
        table.put_item(TableName="t", Item={"id": {"S": f"k{i}"}})
    ctx = make_ctx({})
    first = ydb_document.call(step(scan={"limit": "2"}), {}, ctx)
    assert first["Count"] == 2
    assert first["LastEvaluatedKey"] is not None
    data = {"next": first["LastEvaluatedKey"]}
    rest = ydb_document.call(
        step(scan={"limit": "\\(2)", "exclusive_start_key": "\\(.next)"}), data, make_ctx(data)
    )
    ids = [item["id"] for item in first["Items"] + rest["Items"]]
    assert sorted(ids) == ["k0", "k1", "k2"]
    assert rest["LastEvaluatedKey"] is None


@pytest.mark.parametrize("limit", ["0", "-1", "two", "1.5", "\\(true)"])
def test_scan_rejects_a_limit_that_is_not_a_positive_integer(
    limit: str, table: Any, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        ydb_document.call(step(scan={"limit": limit}), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


@pytest.mark.parametrize("key", ["not json", "[1]", "{}", "\\(1)"])
def test_key_that_is_not_a_json_object_is_an_invalid_argument(
    key: str, table: Any, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        ydb_document.call(step(get={"key": key}), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


def test_missing_table_is_an_invalid_argument(aws: None, make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        ydb_document.call(step(get={"key": '{"id": "a"}'}), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


def test_non_finite_numbers_are_rejected() -> None:
    with pytest.raises(StepFailure) as caught:
        ydb_document.to_attribute({"x": math.inf})
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("aws_code", "status", "expected"),
    [
        ("AccessDeniedException", 400, Code.STEP_PERMISSION_DENIED),
        ("ProvisionedThroughputExceededException", 400, Code.STEP_QUOTA_EXCEEDED),
        ("ThrottlingException", 400, Code.STEP_QUOTA_EXCEEDED),
        ("ConditionalCheckFailedException", 400, Code.STEP_FAILED_PRECONDITION),
        ("ValidationException", 400, Code.STEP_INVALID_ARGUMENT),
        ("InternalServerError", 500, Code.YDB_CALL_SERVICE_UNAVAILABLE),
        ("ServiceUnavailable", 503, Code.YDB_CALL_SERVICE_UNAVAILABLE),
    ],
)
def test_put_errors_map_to_workflow_codes(
    aws_code: str, status: int, expected: Code, make_ctx: MakeContext
) -> None:
    client = stubbed("dynamodb", "put_item", aws_code, status)
    with pytest.raises(StepFailure) as caught:
        ydb_document.call(step(put={"item": '{"id": "a"}'}), {}, make_ctx({}, client=client))
    assert caught.value.code == expected


def test_unreachable_dynamodb_is_ydb_service_unavailable(make_ctx: MakeContext) -> None:
    client = Failing(EndpointConnectionError(endpoint_url="http://dynamodb"))
    with pytest.raises(StepFailure) as caught:
        ydb_document.call(
            step(get={"key": '{"id": "a"}'}), {}, make_ctx({}, client=lambda _: client)
        )
    assert caught.value.code == Code.YDB_CALL_SERVICE_UNAVAILABLE
