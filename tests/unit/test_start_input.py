"""Start refuses execution input beyond the bounds, naming the field (400 INVALID_ARGUMENT)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stepline.api.http import describe_validation_error
from stepline.bounds import MAX_DEPTH
from stepline.errors import Code, InvalidArgument
from stepline.models import StartExecutionRequest
from stepline.service import triggers
from stepline.service.executions import check_input_json, input_from_request

DEEP = "[" * 10_000 + "]" * 10_000


def _request(input_body: str) -> StartExecutionRequest:
    body = f'{{"workflowId": "w", "input": {input_body}}}'
    return StartExecutionRequest.model_validate_json(body)


def _refused(text: str, field: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        check_input_json(text, field)
    assert caught.value.code == Code.INVALID_ARGUMENT
    return caught.value


def test_start_refuses_input_nested_deeper_than_the_limit() -> None:
    error = _refused(DEEP, "input.inputJson")
    assert error.message == (
        f"input.inputJson: nested deeper than {MAX_DEPTH} levels of arrays and objects"
    )


def test_start_accepts_input_nested_to_the_limit() -> None:
    text = '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    assert check_input_json(text, "input.inputJson") == text


def test_start_by_link_refuses_a_raw_body_nested_deeper_than_the_limit() -> None:
    error = _refused('{"order": ' + DEEP + "}", "body")
    assert error.message.startswith("body: nested deeper than")


def test_start_refuses_an_integer_longer_than_the_number_limit() -> None:
    error = _refused('{"n": ' + "9" * 5000 + "}", "input.inputJson")
    assert error.message == (
        "input.inputJson: a number literal has 5000 characters, more than the limit of 100"
    )


def test_start_refuses_a_number_that_overflows_a_double() -> None:
    error = _refused("[1e400]", "input.inputJson")
    assert "not a finite double" in error.message


def test_start_input_json_nested_too_deep_is_refused_through_the_request() -> None:
    request = _request(f'{{"inputJson": "{DEEP}"}}')
    with pytest.raises(InvalidArgument, match=r"^input\.inputJson: nested deeper than"):
        input_from_request(request)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper than 64 levels"),
        ("9" * 4000, "more than 100 characters"),
        ("1e400", "not a finite double"),
    ],
    ids=["deep", "long-number", "infinite"],
)
def test_start_refuses_an_input_value_beyond_the_bounds_naming_it(value: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _request(f'{{"inputValue": {value}}}')
    message = describe_validation_error(caught.value)
    assert message.startswith("input.inputValue: Value error, ")
    assert problem in message


def test_start_body_nested_past_the_parser_limit_is_a_bad_request() -> None:
    with pytest.raises(ValidationError) as caught:
        _request(f'{{"inputValue": {DEEP}}}')
    assert describe_validation_error(caught.value).startswith("body: not valid JSON")


def test_queue_message_beyond_the_bounds_is_refused_not_wrapped() -> None:
    assert triggers.message_input(DEEP) == DEEP
    with pytest.raises(InvalidArgument, match=r"^body: nested deeper than"):
        check_input_json(triggers.message_input(DEEP), "body")
    assert triggers.message_input("plain text") == '{"body": "plain text"}'
