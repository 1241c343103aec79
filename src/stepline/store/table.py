"""A thin typed wrapper over the DynamoDB low-level client for the single table.

Every request goes through :func:`stepline.store.errors.translated`: a throttled request raises
``Throttled``, an unreachable or failing DynamoDB ``Unavailable``, anything else ``Refused``;
a failed condition stays ``ConditionFailed`` and a cancelled transaction ``TransactionConflict``
(``Throttled`` when throttling is all that cancelled it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stepline.store.errors import (
    ITEM_LIMIT,
    ConditionFailed,
    ItemTooLarge,
    Throttled,
    transaction_failure,
    translated,
)

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]
_SERVICE = "dynamodb"
_BATCH_ROUNDS = 3


@cache
def _codecs() -> tuple[TypeSerializer, TypeDeserializer]:
    # Imported on first use: importing boto3 is most of a cold start, and a handler that
    # answers from the event alone (bad input, unknown route) never needs it.
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def to_dynamo(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain Python values → DynamoDB AttributeValues (None values are dropped)."""
    serializer = _codecs()[0]
    return {k: serializer.serialize(v) for k, v in item.items() if v is not None}


def from_dynamo(item: Mapping[str, Any]) -> Item:
    """DynamoDB AttributeValues → plain Python values (integral numbers become int)."""
    deserializer = _codecs()[1]
    return {k: _plain(deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Page:
    """One page of a Query: the items, where to resume, and how many items were read."""

    items: list[Item]
    last_key: Item | None
    scanned: int


@dataclass(frozen=True)
class Condition:
    """A condition expression with its placeholders."""

    expression: str
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None

    def params(self) -> dict[str, Any]:
        """The request parameters this condition contributes."""
        params: dict[str, Any] = {"ConditionExpression": self.expression}
        if self.names:
            params["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            params["ExpressionAttributeValues"] = to_dynamo(self.values)
        return params


ITEM_ABSENT = Condition("attribute_not_exists(PK)")
ITEM_PRESENT = Condition("attribute_exists(PK)")


class Table:
    """Conditional reads and writes on one DynamoDB table; botocore errors never leak."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.client = client
        self.name = name

    def get(self, key: Mapping[str, str], *, consistent: bool = True) -> Item | None:
        """Read one item by primary key, or None."""
        with translated(_SERVICE):
            reply = self.client.get_item(
                TableName=self.name, Key=to_dynamo(key), ConsistentRead=consistent
            )
        raw = reply.get("Item")
        return from_dynamo(raw) if raw else None

    def get_many(self, keys: Sequence[Mapping[str, str]], *, consistent: bool = True) -> list[Item]:
        """Read up to 100 items by primary key in one BatchGetItem; missing ones are left out.

        Keys DynamoDB leaves unprocessed (throughput) are asked for again, twice at most; after
        that the read counts as throttled.
        """
        wanted: dict[str, Any] = {
            self.name: {"Keys": [to_dynamo(k) for k in keys], "ConsistentRead": consistent}
        }
        found: list[Item] = []
        for _ in range(_BATCH_ROUNDS):
            with translated(_SERVICE):
                reply = self.client.batch_get_item(RequestItems=wanted)
            found += [from_dynamo(i) for i in reply.get("Responses", {}).get(self.name, [])]
            wanted = reply.get("UnprocessedKeys") or {}
            if not wanted:
                return found
        raise Throttled(_SERVICE, "BatchGetItem: keys left unprocessed")

    def put(self, item: Mapping[str, Any], condition: Condition | None = None) -> None:
        """Write one item, optionally only if ``condition`` holds; raises ItemTooLarge first
        when the item would be over DynamoDB's limit."""
        params: dict[str, Any] = {"TableName": self.name, "Item": checked(to_dynamo(item))}
        if condition:
            params |= condition.params()
        self._conditional(self.client.put_item, params)

    def update(
        self,
        key: Mapping[str, str],
        expression: str,
        *,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        condition: Condition | None = None,
        returns: str = "NONE",
    ) -> Item:
        """Apply an update expression; return the new item when ``returns="ALL_NEW"``."""
        params: dict[str, Any] = {
            "TableName": self.name,
            "Key": to_dynamo(key),
            "UpdateExpression": expression,
            "ReturnValues": returns,
        }
        merged_names = dict(names or {}) | dict((condition.names if condition else None) or {})
        merged_values = dict(values or {}) | dict((condition.values if condition else None) or {})
        if condition:
            params["ConditionExpression"] = condition.expression
        if merged_names:
            params["ExpressionAttributeNames"] = merged_names
        if merged_values:
            # The values an update sets bound the size it can add (the rest is already stored).
            params["ExpressionAttributeValues"] = checked(to_dynamo(merged_values))
        reply = self._conditional(self.client.update_item, params)
        return from_dynamo(reply.get("Attributes", {}))

    def delete(self, key: Mapping[str, str], condition: Condition | None = None) -> None:
        """Delete one item, optionally only if ``condition`` holds."""
        params: dict[str, Any] = {"TableName": self.name, "Key": to_dynamo(key)}
        if condition:
            params |= condition.params()
        self._conditional(self.client.delete_item, params)

    def transact(self, operations: list[dict[str, Any]]) -> None:
        """Write several items atomically (operations from the ``*_op`` helpers below)."""
        for op in operations:
            body = next(iter(op.values()))
            body["TableName"] = self.name
            checked(body.get("Item") or body.get("ExpressionAttributeValues") or {})
        with translated(_SERVICE):
            try:
                self.client.transact_write_items(TransactItems=operations)  # type: ignore[arg-type]
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                cancelled = exc.response.get("CancellationReasons", [])
                raise transaction_failure([r.get("Code", "None") for r in cancelled]) from exc

    def query(
        self,
        *,
        key_condition: str,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
        index: str | None = None,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        forward: bool = True,
        filter_expression: str | None = None,
        consistent: bool = False,
    ) -> Page:
        """Run one Query request and return one page."""
        params: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": to_dynamo(values),
            "ScanIndexForward": forward,
        }
        if names:
            params["ExpressionAttributeNames"] = dict(names)
        if index:
            params["IndexName"] = index
        else:
            params["ConsistentRead"] = consistent
        if limit:
            params["Limit"] = limit
        if start_key:
            params["ExclusiveStartKey"] = to_dynamo(start_key)
        if filter_expression:
            params["FilterExpression"] = filter_expression
        with translated(_SERVICE):
            reply = self.client.query(**params)
        last = reply.get("LastEvaluatedKey")
        return Page(
            items=[from_dynamo(i) for i in reply.get("Items", [])],
            last_key=from_dynamo(last) if last else None,
            scanned=int(reply.get("ScannedCount", 0)),
        )

    @staticmethod
    def _conditional(call: Any, params: dict[str, Any]) -> Any:
        with translated(_SERVICE):
            try:
                return call(**params)
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    raise ConditionFailed(str(exc)) from exc
                raise


def item_size(attributes: Mapping[str, Any]) -> int:
    """DynamoDB's size of an item in AttributeValue form: names plus values, as AWS counts."""
    total = 0
    stack: list[Any] = [attributes]
    while stack:  # iterative: values may nest deeply
        value = stack.pop()
        if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _TYPES:
            kind, inner = next(iter(value.items()))
            if kind in ("M", "L"):
                total += 3 + len(inner)  # per element overhead, as AWS documents
                stack.extend(inner.values() if kind == "M" else inner)
                if kind == "M":
                    total += sum(len(k.encode()) for k in inner)
            elif kind in ("SS", "NS", "BS"):
                total += sum(_scalar_size(kind[0], v) for v in inner)
            else:
                total += _scalar_size(kind, inner)
        elif isinstance(value, Mapping):
            total += sum(len(k.encode()) for k in value)
            stack.extend(value.values())
    return total


_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})


def _scalar_size(kind: str, value: Any) -> int:
    if kind == "S":
        return len(str(value).encode())
    if kind == "N":
        return len(str(value).lstrip("-").replace(".", "")) // 2 + 2
    if kind == "B":
        return len(value)
    return 1


def checked(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes, after making sure they fit in one item (else ItemTooLarge)."""
    size = item_size(attributes)
    if size > ITEM_LIMIT:
        raise ItemTooLarge(size)
    return attributes


def put_op(item: Mapping[str, Any], condition: Condition | None = None) -> dict[str, Any]:
    """A Put operation of a transaction."""
    body: dict[str, Any] = {"Item": to_dynamo(item)}
    if condition:
        body |= condition.params()
    return {"Put": body}


def delete_op(key: Mapping[str, str], condition: Condition | None = None) -> dict[str, Any]:
    """A Delete operation of a transaction."""
    body: dict[str, Any] = {"Key": to_dynamo(key)}
    if condition:
        body |= condition.params()
    return {"Delete": body}


def check_op(key: Mapping[str, str], condition: Condition) -> dict[str, Any]:
    """A ConditionCheck operation of a transaction."""
    return {"ConditionCheck": {"Key": to_dynamo(key)} | condition.params()}


def update_op(
    key: Mapping[str, str],
    expression: str,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    condition: Condition | None = None,
) -> dict[str, Any]:
    """An Update operation of a transaction."""
    body: dict[str, Any] = {"Key": to_dynamo(key), "UpdateExpression": expression}
    merged_names = dict(names or {}) | dict((condition.names if condition else None) or {})
    merged_values = dict(values or {}) | dict((condition.values if condition else None) or {})
    if condition:
        body["ConditionExpression"] = condition.expression
    if merged_names:
        body["ExpressionAttributeNames"] = merged_names
    if merged_values:
        body["ExpressionAttributeValues"] = to_dynamo(merged_values)
    return {"Update": body}
