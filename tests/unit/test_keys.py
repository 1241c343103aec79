"""Key building: index keys follow status changes; time bounds bracket ids."""

from stepline.store import keys


def test_active_execution_has_no_finish_index_keys() -> None:
    built = keys.execution_index_keys("w1", "w1-x", "RUNNING", "2026-01-01T00:00:00.000000Z", None)
    assert set(built) == {"GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"}
    assert built["GSI2PK"] == "WFEX#w1#RUNNING"


def test_ended_execution_appears_in_the_sparse_finish_indexes() -> None:
    built = keys.execution_index_keys(
        "w1", "w1-x", "FAILED", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:01:00.000000Z"
    )
    assert built["GSI3SK"] == "2026-01-01T00:01:00.000000Z#w1-x"
    assert built["GSI4PK"] == "WFEX#w1#FAILED"


def test_time_bounds_bracket_every_execution_id() -> None:
    ts = "2026-01-01T00:00:00.000000Z"
    key = keys.time_sort_key(ts, "swzzzzzzzzzzzzzzzzzz-ffffffff-ffff-ffff-ffff-ffffffffffff")
    assert (
        keys.time_lower_bound(ts, inclusive=True)
        <= key
        <= keys.time_upper_bound(ts, inclusive=True)
    )
    assert key < keys.time_lower_bound(ts, inclusive=False)
    assert keys.time_upper_bound(ts, inclusive=False) < key


def test_history_items_sort_by_sequence() -> None:
    assert keys.history_item("e", 9)["SK"] < keys.history_item("e", 10)["SK"]


def test_index_names_match_the_template() -> None:
    from stepline.dev import template

    table = template.load()["Resources"]["Table"]["Properties"]
    declared = {
        index["IndexName"]: tuple(k["AttributeName"] for k in index["KeySchema"])
        for index in table["GlobalSecondaryIndexes"]
    }
    assert declared == keys.INDEXES


def test_a_workflows_access_item_sits_in_its_partition_beside_head_and_versions() -> None:
    assert keys.workflow_access("w1") == {"PK": keys.workflow("w1")["PK"], "SK": "ACL"}
    assert not keys.workflow_access("w1")["SK"].startswith(keys.VERSION_PREFIX)
    assert keys.folder_access("f1") == {"PK": "FOLDER#f1", "SK": "ACL"}
