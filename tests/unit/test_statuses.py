"""The status enums name exactly what the official protos name."""

from __future__ import annotations

from yandex.cloud.serverless.workflows.v1 import execution_pb2, history_entry_pb2

from stepline.statuses import ACTIVE, ENDED, EntryStatus, ExecutionStatus


def test_execution_statuses_are_the_protos_and_each_is_active_or_ended() -> None:
    official = set(execution_pb2.Execution.Status.keys()) - {"STATUS_UNSPECIFIED"}
    assert {s.value for s in ExecutionStatus} == official
    assert set(ACTIVE) | set(ENDED) == set(ExecutionStatus)
    assert not set(ACTIVE) & set(ENDED)


def test_entry_statuses_are_among_the_protos() -> None:
    assert {s.value for s in EntryStatus} <= set(history_entry_pb2.HistoryEntry.Status.keys())


def test_a_status_is_its_string_wherever_it_goes() -> None:
    assert ExecutionStatus.FINISHED == "FINISHED"
    assert f"{ExecutionStatus.RUNNING}" == "RUNNING"
    assert {"FAILED": 1}[ExecutionStatus.FAILED] == 1
