"""ObjectStorage → S3 PutObject / GetObject of ``object`` in ``bucket`` (REFERENCE §4.7).

put: the rendered ``content`` is stored as ``contentType`` says — TEXT: UTF-8 text
(``text/plain; charset=utf-8``); JSON: JSON text (a rendered value that is not a string is
serialised; a string must hold valid JSON) as ``application/json``; BINARY: the content is
base64 and its decoded bytes are stored as ``application/octet-stream``. Output (REFERENCE is
silent): ``{"ETag": ..., "VersionId": ...}`` (VersionId only on versioned buckets).

get: output ``{"Content": ...}`` with the object decoded per ``contentType`` — BINARY (the
default): base64 text; TEXT: UTF-8 text; JSON: the parsed value; CSV: an array of rows, each an
array of strings (RFC 4180 quoting understood); EXCEL: an array of sheets, each an array of rows
of strings (xlsx/xlsm/xltx/xltm/xlam; empty cells are "", booleans TRUE/FALSE, dates ISO 8601).

Limits: the step output may not exceed 2 MB, so an object is never read past that: its
``ContentLength`` is checked before the body is read (BINARY: 1.5 MB, which base64 grows to
2 MB), the read itself is capped, and an EXCEL workbook is unpacked row by row until its cells
pass 2 MB. Over the limit → ``STEP_DATA_LIMIT_EXCEEDED``.

Errors: see ``aws_errors``; a missing bucket or key, or content that does not decode as asked
(bad base64, UTF-8, JSON or workbook), is ``STEP_INVALID_ARGUMENT`` (REFERENCE §4.7: a missing
object or non-JSON body surfaced so in the docs' tutorial).
IAM: ``s3:GetObject``, ``s3:PutObject`` (+ ``kms:Decrypt``/``kms:GenerateDataKey`` for SSE-KMS).
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime
import io
import json
import zipfile
from typing import Any

from stepline import bounds
from stepline.integrations import CallContext, aws_errors
from stepline.integrations.boundary import refuse_own
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import ObjectStorage

MAX_DATA_BYTES = 2 * 1024 * 1024
_MIME = {
    "TEXT": "text/plain; charset=utf-8",
    "JSON": "application/json",
    "BINARY": "application/octet-stream",
}


def call(step: ObjectStorage, step_input: Any, ctx: CallContext) -> dict[str, Any]:
    """Put or get the object and return the put's ETag or the decoded content."""
    key = ctx.render(step.object_key)
    if not isinstance(key, str) or not key:
        raise _invalid("object must render to a non-empty string")
    refuse_own(ctx.reserved, "objectStorage", step.bucket)
    s3 = aws_errors.client(ctx, "s3")
    if step.put is not None:
        body = encode(ctx.render(step.put.content), step.put.content_type)
        params = {
            "Bucket": step.bucket,
            "Key": key,
            "Body": body,
            "ContentType": _MIME[step.put.content_type],
        }
        with aws_errors.translated(ctx.timeout, action=f"PutObject s3://{step.bucket}/{key}"):
            reply = s3.put_object(**params)
        output = {"ETag": reply.get("ETag", "")}
        if reply.get("VersionId"):
            output["VersionId"] = reply["VersionId"]
        return output
    assert step.get is not None  # the model requires exactly one of put/get
    kind = step.get.content_type
    data = read(s3, step.bucket, key, ctx.timeout, _raw_limit(kind))
    return {"Content": decode(data, kind)}


def encode(content: Any, content_type: str) -> bytes:
    """The bytes a rendered ``put.content`` stands for."""
    if content_type == "JSON":
        if isinstance(content, str):
            try:
                bounds.loads(content)
            except bounds.BoundsError as exc:
                raise _invalid(f"put.content is JSON beyond Stepline's bounds: {exc}") from None
            except ValueError:
                raise _invalid("put.content is not JSON text") from None
            text = content
        else:
            text = json.dumps(content, ensure_ascii=False)
        data = text.encode()
    elif content_type == "BINARY":
        if not isinstance(content, str):
            raise _invalid("put.content must be base64 text for contentType BINARY")
        try:
            data = base64.b64decode(content, validate=True)
        except binascii.Error:
            raise _invalid("put.content is not valid base64") from None
    else:
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        data = text.encode()
    if len(data) > MAX_DATA_BYTES:
        raise StepFailure(
            WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED,
            f"objectStorage: put.content is {len(data)} bytes, the step limit is {MAX_DATA_BYTES}",
        )
    return data


def _raw_limit(content_type: str) -> int:
    # base64 turns 3 bytes into 4 characters: 1.5 MB of object is 2 MB of output.
    return MAX_DATA_BYTES // 4 * 3 if content_type == "BINARY" else MAX_DATA_BYTES


def read(s3: Any, bucket: str, key: str, timeout: float, limit: int) -> bytes:
    """The object's bytes, refusing objects larger than ``limit`` before reading them."""
    where = f"s3://{bucket}/{key}"
    with aws_errors.translated(timeout, action=f"GetObject {where}"):
        reply = s3.get_object(Bucket=bucket, Key=key)
        body = reply["Body"]
        try:
            size = int(reply.get("ContentLength", 0))
            if size > limit:
                raise _too_large(where, size, limit)
            data: bytes = body.read(limit + 1)
        finally:
            body.close()
    if len(data) > limit:
        raise _too_large(where, len(data), limit)
    return data


def decode(data: bytes, content_type: str) -> Any:
    """An object's bytes as the step output value of ``get.contentType``."""
    if content_type == "BINARY":
        return base64.b64encode(data).decode("ascii")
    if content_type == "EXCEL":
        return excel_sheets(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid(f"the object is not UTF-8 text (contentType {content_type})") from None
    if content_type == "JSON":
        try:
            return bounds.loads(text)
        except bounds.BoundsError as exc:
            raise _invalid(f"the object is JSON beyond Stepline's bounds: {exc}") from None
        except ValueError:
            raise _invalid("the object is not JSON") from None
    if content_type == "CSV":
        return [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    return text


def excel_sheets(data: bytes) -> list[list[list[str]]]:
    """Every sheet of an xlsx-family workbook as rows of strings, within the size limit."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _invalid(f"the object is not an Excel workbook: {exc}") from None
    budget = MAX_DATA_BYTES
    sheets: list[list[list[str]]] = []
    try:
        for sheet in book.worksheets:
            rows: list[list[str]] = []
            for values in sheet.iter_rows(values_only=True):
                row = [_cell(value) for value in values]
                budget -= sum(len(cell) + 3 for cell in row) + 2
                if budget < 0:
                    raise StepFailure(
                        WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED,
                        f"objectStorage: the workbook's cells exceed {MAX_DATA_BYTES} bytes",
                    )
                rows.append(row)
            sheets.append(rows)
    finally:
        book.close()
    return sheets


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _invalid(message: str) -> StepFailure:
    return StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"objectStorage: {message}")


def _too_large(where: str, size: int, limit: int) -> StepFailure:
    return StepFailure(
        WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED,
        f"objectStorage: {where} is {size} bytes, more than the {limit} bytes a step may read",
    )
