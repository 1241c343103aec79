"""ObjectStorage → S3 PutObject/GetObject on moto, per contentType, within the 2 MB limit."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import boto3
import pytest
from openpyxl import Workbook

from stepline.integrations import object_storage
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import ObjectStorage
from tests.unit.integrations.conftest import MakeContext, stubbed

Code = WorkflowErrorCode
LIMIT = object_storage.MAX_DATA_BYTES


def step(key: str = "k", **operation: Any) -> ObjectStorage:
    return ObjectStorage.model_validate({"bucket": "reports", "object": key, **operation})


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket="reports")
    return client


def stored(s3: Any, key: str = "k") -> tuple[bytes, str]:
    reply = s3.get_object(Bucket="reports", Key=key)
    return reply["Body"].read(), reply["ContentType"]


def test_put_text_stores_rendered_content_under_rendered_key(
    s3: Any, make_ctx: MakeContext
) -> None:
    data = {"name": "report", "who": "Ann"}
    put = step("out/\\(.name).txt", put={"content": "hi \\(.who)"})
    output = object_storage.call(put, data, make_ctx(data))
    assert stored(s3, "out/report.txt") == (b"hi Ann", "text/plain; charset=utf-8")
    assert output["ETag"]


def test_put_json_serialises_a_rendered_value(s3: Any, make_ctx: MakeContext) -> None:
    data = {"doc": {"a": [1, 2]}}
    object_storage.call(
        step(put={"content": "\\(.doc)", "contentType": "JSON"}), data, make_ctx(data)
    )
    body, kind = stored(s3)
    assert (json.loads(body), kind) == ({"a": [1, 2]}, "application/json")


def test_put_binary_decodes_base64(s3: Any, make_ctx: MakeContext) -> None:
    content = base64.b64encode(b"\x00\xffdata").decode()
    object_storage.call(step(put={"content": content, "contentType": "BINARY"}), {}, make_ctx({}))
    assert stored(s3) == (b"\x00\xffdata", "application/octet-stream")


@pytest.mark.parametrize(("content", "kind"), [("not base64!", "BINARY"), ("{not json", "JSON")])
def test_put_rejects_content_that_does_not_match_its_type(
    content: str, kind: str, s3: Any, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        object_storage.call(step(put={"content": content, "contentType": kind}), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


def get(s3: Any, body: bytes, kind: str, make_ctx: MakeContext) -> Any:
    s3.put_object(Bucket="reports", Key="k", Body=body)
    return object_storage.call(step(get={"contentType": kind}), {}, make_ctx({}))


def test_get_defaults_to_base64_content(s3: Any, make_ctx: MakeContext) -> None:
    s3.put_object(Bucket="reports", Key="k", Body=b'{"a": 1}')
    output = object_storage.call(step(get={}), {}, make_ctx({}))
    assert output == {"Content": base64.b64encode(b'{"a": 1}').decode()}


@pytest.mark.parametrize(
    ("body", "kind", "content"),
    [
        ("héllo".encode(), "TEXT", "héllo"),
        (b'{"a": [1, {"b": null}]}', "JSON", {"a": [1, {"b": None}]}),
        (b'a,b\r\n"x, y",z\n\n', "CSV", [["a", "b"], ["x, y", "z"]]),
    ],
)
def test_get_decodes_content_per_content_type(
    body: bytes, kind: str, content: Any, s3: Any, make_ctx: MakeContext
) -> None:
    assert get(s3, body, kind, make_ctx) == {"Content": content}


def test_get_excel_gives_sheets_of_string_rows(s3: Any, make_ctx: MakeContext) -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.append(["name", 3, True])
    first.append([None, 2.5, "x"])
    book.create_sheet("second").append(["only"])
    buffer = io.BytesIO()
    book.save(buffer)
    output = get(s3, buffer.getvalue(), "EXCEL", make_ctx)
    assert output == {"Content": [[["name", "3", "TRUE"], ["", "2.5", "x"]], [["only"]]]}


@pytest.mark.parametrize(
    ("body", "kind"), [(b"\xff\xfe\x00", "TEXT"), (b"{oops", "JSON"), (b"not a zip", "EXCEL")]
)
def test_get_of_undecodable_content_is_an_invalid_argument(
    body: bytes, kind: str, s3: Any, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        get(s3, body, kind, make_ctx)
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


@pytest.mark.parametrize(("size", "kind"), [(LIMIT + 1, "TEXT"), (LIMIT // 4 * 3 + 1, "BINARY")])
def test_get_refuses_objects_over_the_step_limit(
    size: int, kind: str, s3: Any, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        get(s3, b"x" * size, kind, make_ctx)
    assert caught.value.code == Code.STEP_DATA_LIMIT_EXCEEDED


def test_get_reads_an_object_of_exactly_the_limit(s3: Any, make_ctx: MakeContext) -> None:
    assert len(get(s3, b"x" * LIMIT, "TEXT", make_ctx)["Content"]) == LIMIT


def test_read_never_takes_more_than_limit_plus_one_bytes() -> None:
    class Body:
        asked: list[int] = []

        def read(self, amount: int) -> bytes:
            self.asked.append(amount)
            return b"x" * amount

        def close(self) -> None:
            pass

    class S3:
        def get_object(self, **_: Any) -> dict[str, Any]:
            return {"Body": Body(), "ContentLength": 10}  # a lying length

    with pytest.raises(StepFailure) as caught:
        object_storage.read(S3(), "reports", "k", 5, limit=100)
    assert caught.value.code == Code.STEP_DATA_LIMIT_EXCEEDED
    assert Body.asked == [101]


def test_put_of_content_over_the_limit_exceeds_it(s3: Any, make_ctx: MakeContext) -> None:
    data = {"text": "x" * (LIMIT + 1)}
    with pytest.raises(StepFailure) as caught:
        object_storage.call(step(put={"content": "\\(.text)"}), data, make_ctx(data))
    assert caught.value.code == Code.STEP_DATA_LIMIT_EXCEEDED


@pytest.mark.parametrize("key", ["nope", "missing/"])
def test_missing_object_is_an_invalid_argument(key: str, s3: Any, make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        object_storage.call(step(key, get={"contentType": "TEXT"}), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


def test_missing_bucket_is_an_invalid_argument(aws: None, make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        object_storage.call(step(put={"content": "x"}), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("aws_code", "status", "expected"),
    [
        ("AccessDenied", 403, Code.STEP_PERMISSION_DENIED),
        ("SlowDown", 503, Code.STEP_QUOTA_EXCEEDED),
        ("InvalidObjectState", 403, Code.STEP_FAILED_PRECONDITION),
        ("InternalError", 500, Code.STEP_QUOTA_EXCEEDED),
    ],
)
def test_get_errors_map_to_workflow_codes(
    aws_code: str, status: int, expected: Code, make_ctx: MakeContext
) -> None:
    client = stubbed("s3", "get_object", aws_code, status)
    with pytest.raises(StepFailure) as caught:
        object_storage.call(step(get={}), {}, make_ctx({}, client=client))
    assert caught.value.code == expected
