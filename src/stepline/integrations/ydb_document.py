"""YDBDocument → DynamoDB GetItem / PutItem / UpdateItem / Scan on ``tableName``.

``key``, ``item``, ``expressionAttributeValues`` and ``exclusive_start_key`` are plain JSON
objects (a whole-value template such as ``\\({"id": .id})``, or a string holding JSON) and are
converted to typed AttributeValues here; ``database`` has no DynamoDB counterpart.

Conversion (:func:`to_attribute` / :func:`from_attribute`):

* JSON → DynamoDB: null→NULL, boolean→BOOL, string→S, number→N, array→L, object→M. Numbers are
  written from their exact text (integers of any size, floats by their shortest repr); NaN and
  infinities are rejected. Plain JSON has no sets or binary, so they are never written.
* DynamoDB → JSON: N → an integer when integral (exact at any size), else the float of the
  same value; SS/NS → sorted arrays of strings/numbers; B → base64 text; BS → sorted array of
  base64 texts. A set therefore comes back as an array: writing it back stores a list.

YaWL has no ``ExpressionAttributeNames``: a ``#name`` placeholder in ``update.expression``
stands for the attribute ``name`` (write ``SET #count = #count + :n`` for reserved words).

Outputs (REFERENCE is silent): get → ``{"Item": item|null}``; put → ``{"Attributes": the
replaced item|null}``; update → ``{"Attributes": the item after the update}``; scan →
``{"Items": [...], "Count": n, "LastEvaluatedKey": key|null}`` (feed the key back as
``exclusive_start_key`` to read the next page).

Errors: see ``aws_errors``, with unavailable/5xx/connection errors as
``YDB_CALL_SERVICE_UNAVAILABLE``; a failed condition is ``STEP_FAILED_PRECONDITION``; a missing
table, bad key or bad expression ``STEP_INVALID_ARGUMENT``.
IAM: ``dynamodb:GetItem``, ``dynamodb:PutItem``, ``dynamodb:UpdateItem``, ``dynamodb:Scan``.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from stepline import bounds
from stepline.integrations import CallContext, aws_errors
from stepline.integrations.boundary import refuse_own
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import YDBDocument, YdbScan

_UNAVAILABLE = WorkflowErrorCode.YDB_CALL_SERVICE_UNAVAILABLE


def call(step: YDBDocument, step_input: Any, ctx: CallContext) -> dict[str, Any]:
    """Run the step's one table operation and return its result as plain JSON."""
    table = step.table_name
    refuse_own(ctx.reserved, "ydbDocument", table)
    if step.get is not None:
        params = {"TableName": table, "Key": _object(ctx.render(step.get.key), "get.key")}
        reply = _aws(ctx, "GetItem", params)
        return {"Item": _plain_item(reply.get("Item"))}
    if step.put is not None:
        item = _object(ctx.render(step.put.item), "put.item")
        params = {"TableName": table, "Item": item, "ReturnValues": "ALL_OLD"}
        reply = _aws(ctx, "PutItem", params)
        return {"Attributes": _plain_item(reply.get("Attributes"))}
    if step.update is not None:
        expression = _text(ctx.render(step.update.expression), "update.expression")
        params = {
            "TableName": table,
            "Key": _object(ctx.render(step.update.key), "update.key"),
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        names = attribute_names(expression)
        if names:
            params["ExpressionAttributeNames"] = names
        if step.update.expression_attribute_values:
            values = ctx.render(step.update.expression_attribute_values)
            if values not in ("", None):
                params["ExpressionAttributeValues"] = _object(
                    values, "update.expressionAttributeValues"
                )
        reply = _aws(ctx, "UpdateItem", params)
        return {"Attributes": _plain_item(reply.get("Attributes"))}
    assert step.scan is not None  # the model requires exactly one operation
    reply = _aws(ctx, "Scan", {"TableName": table, **_scan_params(step.scan, ctx)})
    return {
        "Items": [_plain_item(item) for item in reply.get("Items", [])],
        "Count": reply.get("Count", 0),
        "LastEvaluatedKey": _plain_item(reply.get("LastEvaluatedKey")),
    }


def attribute_names(expression: str) -> dict[str, str]:
    """``{"#name": "name"}`` for every ``#name`` placeholder of an update expression."""
    return {f"#{name}": name for name in _PLACEHOLDER.findall(expression)}


_PLACEHOLDER = re.compile(r"#([A-Za-z0-9_]+)")


def _scan_params(scan: YdbScan, ctx: CallContext) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if scan.limit is not None:
        limit = ctx.render(scan.limit)
        if limit not in ("", None):
            params["Limit"] = _limit(limit)
    if scan.exclusive_start_key is not None:
        start = ctx.render(scan.exclusive_start_key)
        if start not in ("", None):
            params["ExclusiveStartKey"] = _object(start, "scan.exclusive_start_key")
    return params


def _limit(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"ydbDocument: scan.limit must be a positive integer, not {json.dumps(value)}",
        )
    return value


def _aws(ctx: CallContext, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    dynamodb = aws_errors.client(ctx, "dynamodb")
    method = getattr(dynamodb, _SNAKE[operation])
    action = f"{operation} {params['TableName']}"
    with aws_errors.translated(ctx.timeout, action=action, unavailable=_UNAVAILABLE):
        reply: dict[str, Any] = method(**params)
    return reply


_SNAKE = {"GetItem": "get_item", "PutItem": "put_item", "UpdateItem": "update_item", "Scan": "scan"}


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"ydbDocument: {field} must be a string"
        )
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    """A rendered JSON object (or a string holding one) as a map of AttributeValues."""
    if isinstance(value, str):
        try:
            bounds.check_text(value)
            value = json.loads(value, parse_float=Decimal)
        except bounds.BoundsError as exc:
            raise StepFailure(
                WorkflowErrorCode.STEP_INVALID_ARGUMENT,
                f"ydbDocument: {field} is JSON beyond Stepline's bounds: {exc}",
            ) from None
        except ValueError:
            raise StepFailure(
                WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"ydbDocument: {field} is not JSON"
            ) from None
    if not isinstance(value, dict) or not value:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"ydbDocument: {field} must be a non-empty JSON object",
        )
    return {name: to_attribute(item, f"{field}.{name}") for name, item in value.items()}


def to_attribute(value: Any, where: str = "value") -> dict[str, Any]:
    """The DynamoDB AttributeValue of a plain JSON value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float | Decimal):
        return {"N": _number_text(value, where)}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(item, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute(v, f"{where}.{k}") for k, v in value.items()}}
    raise StepFailure(
        WorkflowErrorCode.STEP_INVALID_ARGUMENT,
        f"ydbDocument: {where} is a {type(value).__name__}, not a JSON value",
    )


def _number_text(value: int | float | Decimal, where: str) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"ydbDocument: {where} is {value}, which DynamoDB cannot store",
        )
    if isinstance(value, Decimal) and not value.is_finite():
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"ydbDocument: {where} is {value}, which DynamoDB cannot store",
        )
    return repr(value) if isinstance(value, float) else str(value)


def from_attribute(value: Mapping[str, Any]) -> Any:
    """The plain JSON value of a DynamoDB AttributeValue."""
    ((kind, data),) = value.items()
    if kind in _SCALARS:
        return _SCALARS[kind](data)
    if kind == "L":
        return [from_attribute(item) for item in data]
    if kind == "M":
        return {name: from_attribute(item) for name, item in data.items()}
    if kind == "SS":
        return sorted(data)
    if kind == "NS":
        return [_number(text) for text in sorted(data, key=Decimal)]
    if kind == "BS":
        return sorted(_base64(item) for item in data)
    raise StepFailure(WorkflowErrorCode.STEP_INVALID_OUTPUT, f"unknown DynamoDB type {kind!r}")


def _number(text: str) -> int | float:
    """An N value as an int when integral (exact), else as the nearest float."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_OUTPUT, f"bad DynamoDB number {text!r}"
        ) from None
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _base64(data: bytes | bytearray | str) -> str:
    raw = data.encode() if isinstance(data, str) else bytes(data)
    return base64.b64encode(raw).decode("ascii")


_SCALARS: dict[str, Any] = {
    "S": str,
    "N": _number,
    "BOOL": bool,
    "NULL": lambda _: None,
    "B": _base64,
}


def _plain_item(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {name: from_attribute(value) for name, value in item.items()}
