"""One error root: every error Stepline raises on purpose is a SteplineError with a gRPC code,
and one table (api.errors.HTTP_STATUS) says how each code travels over HTTP, to the API and the
CLI alike."""

from __future__ import annotations

import inspect

import pytest

from stepline import errors
from stepline.api.errors import HTTP_STATUS, body, http_status, retry_after
from stepline.cli import client
from stepline.client import calls
from stepline.errors import Code, SteplineError
from stepline.store import access, executions, log, payloads, workflows
from stepline.store import errors as store_errors
from stepline.yawl.problems import Problem, SpecError

DOMAIN_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, Exception) and cls.__module__ == errors.__name__
]
STORE_ERRORS = [
    cls
    for module in (store_errors, access, executions, log, payloads, workflows)
    for _, cls in inspect.getmembers(module, inspect.isclass)
    if issubclass(cls, store_errors.StoreError)
]


def test_every_domain_error_derives_from_the_root_with_a_code_of_its_own() -> None:
    leaves = [cls for cls in DOMAIN_ERRORS if cls is not SteplineError]

    assert len(leaves) >= 10
    assert all(issubclass(cls, SteplineError) for cls in leaves)
    assert len({cls.code for cls in leaves}) == len(leaves)


@pytest.mark.parametrize("cls", STORE_ERRORS, ids=lambda cls: cls.__name__)
def test_every_store_error_is_a_stepline_error(cls: type[Exception]) -> None:
    assert issubclass(cls, SteplineError)


def test_a_spec_error_is_an_invalid_argument_and_still_a_value_error() -> None:
    error = SpecError([Problem("steps", "required")])

    assert isinstance(error, SteplineError) and isinstance(error, ValueError)
    assert (error.code, error.message) == (Code.INVALID_ARGUMENT, "steps: required")


def test_the_body_and_status_of_an_error_come_from_its_code() -> None:
    error = errors.NotFound("executionId: execution e1 not found", details=[{"a": 1}])

    assert (http_status(error), retry_after(error)) == (404, None)
    assert body(error) == {
        "code": 5,
        "message": "executionId: execution e1 not found",
        "details": [{"a": 1}],
    }
    assert (http_status(errors.Unavailable("x")), retry_after(errors.Unavailable("x"))) == (503, 2)


def test_the_cli_reads_codes_with_the_one_table_and_enum() -> None:
    assert client.Code is Code
    for status, code in calls.GATEWAY_CODES.items():
        assert status in (502, 504) or HTTP_STATUS[code] == status
    assert client.ApiError(5, "gone").code_name == "NOT_FOUND"
    assert client.ApiError(99, "odd").code_name == "99"
