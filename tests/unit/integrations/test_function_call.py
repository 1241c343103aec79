"""FunctionCall answers are read within the bounds; others are FUNCTION_CALL_INVALID_RESPONSE."""

from __future__ import annotations

import io
from typing import Any

import pytest

from stepline.bounds import MAX_DEPTH
from stepline.integrations import function_call
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import FunctionCall
from tests.unit.integrations.conftest import MakeContext

STEP = FunctionCall.model_validate({"functionId": "stepline-echo"})


class FakeLambda:
    """A Lambda client whose Invoke answers with the given payload."""

    def __init__(self, payload: bytes, function_error: str | None = None) -> None:
        self.payload = payload
        self.function_error = function_error

    def invoke(self, **_: Any) -> dict[str, Any]:
        reply: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(self.payload)}
        if self.function_error:
            reply["FunctionError"] = self.function_error
        return reply


def _call(make_ctx: MakeContext, payload: bytes, function_error: str | None = None) -> Any:
    client = FakeLambda(payload, function_error)
    return function_call.call(STEP, {"id": 1}, make_ctx({"id": 1}, client=lambda _name: client))


def _invalid(make_ctx: MakeContext, payload: bytes) -> StepFailure:
    with pytest.raises(StepFailure) as caught:
        _call(make_ctx, payload)
    assert caught.value.code == WorkflowErrorCode.FUNCTION_CALL_INVALID_RESPONSE
    return caught.value


def test_function_answer_is_parsed_json(make_ctx: MakeContext) -> None:
    assert _call(make_ctx, b'{"ok": [1, 2.5, "x"]}') == {"ok": [1, 2.5, "x"]}
    assert _call(make_ctx, b"") is None


def test_function_answer_nested_deeper_than_the_limit_is_an_invalid_response(
    make_ctx: MakeContext,
) -> None:
    failure = _invalid(make_ctx, b"[" * 10_000 + b"]" * 10_000)
    assert failure.message == (
        "function stepline-echo answered JSON beyond Stepline's bounds: "
        f"nested deeper than {MAX_DEPTH} levels of arrays and objects"
    )


def test_function_answer_with_a_5000_digit_number_is_an_invalid_response(
    make_ctx: MakeContext,
) -> None:
    failure = _invalid(make_ctx, b'{"n": ' + b"9" * 5000 + b"}")
    assert "a number literal has 5000 characters" in failure.message


@pytest.mark.parametrize("payload", [b"[1e400]", b"[NaN]", b'{"a": Infinity}', b"not json"])
def test_function_answer_that_is_not_finite_json_is_an_invalid_response(
    make_ctx: MakeContext, payload: bytes
) -> None:
    _invalid(make_ctx, payload)


def test_function_error_reply_nested_too_deep_is_reported_as_text(make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        _call(make_ctx, b"[" * 10_000 + b"]" * 10_000, function_error="Unhandled")
    assert caught.value.code == WorkflowErrorCode.FUNCTION_CALL_INVALID_RESPONSE
    assert caught.value.message.startswith("function stepline-echo failed: [[[[")
