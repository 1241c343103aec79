"""Key building: index keys follow status changes; time bounds bracket both key forms."""

import pytest

from stepline.store import keys

TS = "2026-01-01T00:00:00.000000Z"
LAST_ID = "swzzzzzzzzzzzzzzzzzz-ffffffff-ffff-ffff-ffff-ffffffffffff"


def test_an_execution_head_has_one_partition_naming_its_workflow_and_status() -> None:
    built = keys.execution_index_keys("w1", "RUNNING")
    assert built == {"GSI2PK": "WFEX#w1#RUNNING"}
    assert keys.workflow_of_partition(built["GSI2PK"]) == "w1"
    assert keys.status_of_partition(built["GSI2PK"]) == "RUNNING"


def test_the_list_indexes_share_their_partitions_and_sort_on_the_heads_own_times() -> None:
    by_start, by_finish = (
        keys.INDEXES[keys.BY_STATUS_STARTED],
        keys.INDEXES[keys.BY_STATUS_FINISHED],
    )
    assert (by_start[1], by_finish[1]) == (keys.STARTED_AT, keys.FINISHED_AT)
    assert by_start[0] == by_finish[0] == keys.STATUS_PARTITION
    # Workflow heads have a GSI1PK too, but no startedAt: they are in none of these.
    assert keys.INDEXES[keys.BY_FOLDER_NAME] == ("GSI1PK", "GSI1SK")


@pytest.mark.parametrize(
    "key",
    [TS, f"{TS}#{LAST_ID}", f"{TS}#a"],
    ids=["bare timestamp", "timestamp#id (last id)", "timestamp#id (first id)"],
)
def test_time_bounds_bracket_every_key_at_a_timestamp_in_either_form(key: str) -> None:
    assert (
        keys.time_lower_bound(TS, inclusive=True)
        <= key
        <= keys.time_upper_bound(TS, inclusive=True)
    )
    assert key < keys.time_lower_bound(TS, inclusive=False)
    assert keys.time_upper_bound(TS, inclusive=False) < key


def test_exclusive_bounds_keep_the_neighbouring_microseconds() -> None:
    earlier, later = "2025-12-31T23:59:59.999999Z", "2026-01-01T00:00:00.000001Z"
    for key in (earlier, f"{earlier}#{LAST_ID}"):
        assert key < keys.time_upper_bound(TS, inclusive=False)
    for key in (later, f"{later}#a"):
        assert keys.time_lower_bound(TS, inclusive=False) < key


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
