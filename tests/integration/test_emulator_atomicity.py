"""The emulator applies each DynamoDB request atomically, as DynamoDB does: of conditional
writes racing on one item, exactly those whose condition held when they ran land."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from botocore.exceptions import ClientError

ROUNDS = 40
RACERS = 8


def test_of_racing_conditional_writes_on_one_item_exactly_one_lands(admin: Any) -> None:
    client, table = admin.table.client, admin.table.name
    for _ in range(ROUNDS):
        key = {"PK": {"S": f"TEST#{uuid.uuid4().hex}"}, "SK": {"S": "race"}}
        client.put_item(TableName=table, Item={**key, "rev": {"N": "0"}})
        landed: list[int] = []
        go = threading.Barrier(RACERS)

        def race(n: int) -> None:
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

        threads = [threading.Thread(target=race, args=(n,)) for n in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)

        item: Any = client.get_item(TableName=table, Key=key)["Item"]
        assert len(landed) == 1, landed
        assert (item["rev"]["N"], item["winner"]["N"]) == ("1", str(landed[0]))
        client.delete_item(TableName=table, Key=key)
