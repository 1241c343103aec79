"""The emulator applies each DynamoDB request atomically, as DynamoDB does: of conditional
writes racing on one item, exactly those whose condition held when they ran land."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from botocore.exceptions import ClientError

ROUNDS = 40
RACERS = 8


def _race(client: Any, table: str) -> tuple[list[int], dict[str, Any]]:
    """``RACERS`` threads set ``rev`` 0 → 1 on one fresh item at once; who landed, and the
    item after."""
    key = {"PK": {"S": f"TEST#{uuid.uuid4().hex}"}, "SK": {"S": "race"}}
    client.put_item(TableName=table, Item={**key, "rev": {"N": "0"}})
    landed: list[int] = []
    go = threading.Barrier(RACERS)

    def racer(n: int) -> None:
        go.wait()
        try:
            client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET rev = rev + :one, winner = :n",
                ConditionExpression="rev = :zero",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":zero": {"N": "0"},
                    ":n": {"N": str(n)},
                },
            )
            landed.append(n)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    item: dict[str, Any] = client.get_item(TableName=table, Key=key)["Item"]
    client.delete_item(TableName=table, Key=key)
    return landed, item


def test_of_racing_conditional_writes_on_one_item_exactly_one_lands(admin: Any) -> None:
    for _ in range(ROUNDS):
        landed, item = _race(admin.table.client, admin.table.name)

        assert len(landed) == 1, landed
        assert (item["rev"]["N"], item["winner"]["N"]) == ("1", str(landed[0]))
