"""No write can make an item over DynamoDB's 400 KB: the table checks before it sends."""

from __future__ import annotations

from typing import Any

import pytest

from stepline.store.errors import ITEM_LIMIT, ItemTooLarge
from stepline.store.table import Table, item_size, put_op, to_dynamo


class _NoCalls:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} must not be called for an item over the limit")


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    # A number is about one byte per two significant digits, plus one (AWS's rule).
    assert item_size(to_dynamo({"PK": "abc", "n": 12345})) == 2 + 3 + 1 + 4
    nested = to_dynamo({"m": {"a": "xy", "l": ["z"]}})
    assert item_size(nested) == 1 + 3 + 2 + 1 + 2 + 1 + 3 + 1 + 1


def test_a_deeply_nested_value_is_measured_without_recursion() -> None:
    value: Any = {"S": "x"}
    for _ in range(5000):
        value = {"L": [value]}
    assert item_size({"v": value}) > 5000


@pytest.mark.parametrize("write", ["put", "update", "transact"])
def test_every_write_path_refuses_an_item_over_the_limit_before_sending(write: str) -> None:
    table = Table(_NoCalls(), "t")
    big = "x" * (ITEM_LIMIT + 1)
    with pytest.raises(ItemTooLarge):
        if write == "put":
            table.put({"PK": "a", "SK": "b", "data": big})
        elif write == "update":
            table.update({"PK": "a", "SK": "b"}, "SET d = :d", values={":d": big})
        else:
            table.transact([put_op({"PK": "a", "SK": "b", "data": big})])


def test_an_item_just_under_the_limit_is_sent() -> None:
    sent: list[Any] = []

    class Client:
        def put_item(self, **params: Any) -> dict[str, Any]:
            sent.append(params)
            return {}

    Table(Client(), "t").put({"PK": "a", "SK": "b", "data": "x" * (ITEM_LIMIT - 100)})
    assert sent
