"""Error codes and step failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepline.yawl.errors import (
    CALL_STATUSES,
    StepFailure,
    WorkflowErrorCode,
    container_call_error,
    http_call_error,
)

SCHEMA = Path(__file__).resolve().parents[4] / "shared" / "yawl" / "yawl.schema.json"


def test_call_statuses_are_the_53_documented_ones() -> None:
    assert len(CALL_STATUSES) == 53
    assert 430 not in CALL_STATUSES and 432 not in CALL_STATUSES
    assert {400, 429, 431, 449, 451, 499, 500, 511, 520, 526} <= set(CALL_STATUSES)


def test_enum_holds_schema_codes_plus_failed_precondition() -> None:
    codes = {code.value for code in WorkflowErrorCode}
    assert len(codes) == 130
    assert "STEP_FAILED_PRECONDITION" in codes
    if SCHEMA.exists():
        schema = json.loads(SCHEMA.read_text())
        listed = schema["definitions"]["yawl.RetryPolicy"]["properties"]["errorList"]["items"]
        assert set(listed["enum"]) == codes - {"STEP_FAILED_PRECONDITION"}


def test_http_and_container_statuses_map_to_codes() -> None:
    assert http_call_error(503) is WorkflowErrorCode.HTTP_CALL_503
    assert container_call_error(404) is WorkflowErrorCode.CONTAINER_CALL_404


@pytest.mark.parametrize("status", [430, 302, 600])
def test_undocumented_status_maps_to_step_internal(status: int) -> None:
    assert http_call_error(status) is WorkflowErrorCode.STEP_INTERNAL


def test_step_failure_carries_code_message_and_error_info() -> None:
    failure = StepFailure("STEP_TIMEOUT", "took too long")
    assert failure.code is WorkflowErrorCode.STEP_TIMEOUT
    assert failure.retryable
    assert failure.error_info() == {"error": "STEP_TIMEOUT", "message": "took too long"}
    assert failure == StepFailure(WorkflowErrorCode.STEP_TIMEOUT, "took too long")


def test_step_internal_is_not_retryable() -> None:
    assert not StepFailure(WorkflowErrorCode.STEP_INTERNAL, "boom").retryable


def test_step_failure_rejects_unknown_code() -> None:
    with pytest.raises(ValueError):
        StepFailure("NOT_A_CODE", "x")
