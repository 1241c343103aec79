"""The one error mapping of the API edge: AWS trouble → 429/503 with Retry-After, bugs → 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepline.api.errors import RETRY_AFTER_SECONDS
from stepline.api.http import make_app
from stepline.errors import Code, SteplineError
from stepline.store.errors import ConditionFailed, Refused, Throttled, Unavailable

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def _event(path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1"},
            "requestId": REQUEST_ID,
            "routeKey": f"GET {path}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


class SchedulerDown(SteplineError):
    """Like service.schedules.Unavailable: a SteplineError with the UNAVAILABLE code."""

    code = Code.UNAVAILABLE


def _answer(exc: Exception) -> tuple[int, dict[str, str], dict[str, Any]]:
    app = make_app()

    @app.get("/boom")
    def boom() -> dict[str, Any]:
        raise exc

    result = app.resolve(_event("/boom"), None)  # type: ignore[arg-type]
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    return result["statusCode"], headers, json.loads(result["body"])


@pytest.mark.parametrize("service", ["dynamodb", "s3", "sqs", "secretsmanager"])
def test_throttled_aws_answers_429_resource_exhausted_with_retry_after(service: str) -> None:
    status, headers, body = _answer(Throttled(service, "GetItem: ThrottlingException (400)"))

    assert status == 429
    assert headers["retry-after"] == "1"
    assert body == {"code": 8, "message": body["message"], "details": []}
    assert "ThrottlingException" not in body["message"]  # AWS details stay in the logs


def test_unavailable_aws_answers_503_unavailable_with_retry_after() -> None:
    status, headers, body = _answer(Unavailable("dynamodb", "EndpointConnectionError: ..."))

    assert status == 503
    assert headers["retry-after"] == "2"
    assert set(body) == {"code", "message", "details"}
    assert (body["code"], body["details"]) == (14, [])


def test_any_unavailable_api_error_carries_retry_after() -> None:
    status, headers, body = _answer(SchedulerDown("schedule: EventBridge Scheduler ...; retry"))

    assert (status, headers["retry-after"], body["code"]) == (503, "2", 14)


def test_retry_after_is_only_for_the_codes_a_retry_may_cure() -> None:
    assert set(RETRY_AFTER_SECONDS) == {Code.RESOURCE_EXHAUSTED, Code.UNAVAILABLE}
    status, headers, _ = _answer(SteplineError("plain"))

    assert status == 500
    assert "retry-after" not in headers


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("a bug"),
        Refused("dynamodb", "GetItem: AccessDeniedException (400): no"),
        ConditionFailed("a bug: PutItem: ConditionalCheckFailed"),  # ABORTED, but not for callers
    ],
    ids=["bug", "refused", "condition"],
)
def test_a_real_bug_answers_500_internal_naming_the_request_id(exc: Exception) -> None:
    status, headers, body = _answer(exc)

    assert status == 500
    assert "retry-after" not in headers
    assert body["code"] == 13
    assert REQUEST_ID in body["message"]
    assert "AccessDenied" not in body["message"] and "a bug" not in body["message"]
