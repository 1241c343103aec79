"""stepline.client without a stack: which endpoint, which error, what is sent again."""

from __future__ import annotations

import json

import httpx
import pytest

from stepline.client import Client
from stepline.errors import (
    Code,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    SteplineError,
    Unavailable,
)
from stepline.testing.ports import free_port

EXECUTION = {
    "id": "swexample-00000000-0000-4000-8000-000000000000",
    "workflowId": "swexample",
    "input": {"inputJson": "{}"},
    "status": "RUNNING",
    "startedAt": "2026-12-02T10:00:00Z",
    "duration": "1s",
}


def _client(answers: list[httpx.Response], seen: list[httpx.Request]) -> Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return Client("http://127.0.0.1:1", transport=httpx.MockTransport(handle), retries=2)


def test_the_endpoint_comes_from_the_environment_unless_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEPLINE_ENDPOINT", "http://127.0.0.1:18080/")
    assert Client().endpoint == "http://127.0.0.1:18080"
    assert Client("http://localhost:9000").endpoint == "http://localhost:9000"
    monkeypatch.delenv("STEPLINE_ENDPOINT")
    assert Client().endpoint == "http://127.0.0.1:8080"
    with pytest.raises(InvalidArgument, match="endpoint: 'ftp://x' is not an http"):
        Client("ftp://x")


def test_a_stack_that_is_not_there_says_how_to_start_one() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", retries=0)
    with pytest.raises(Unavailable) as caught:
        client.get(EXECUTION["id"])
    assert caught.value.code is Code.UNAVAILABLE
    assert "make dev" in caught.value.message
    assert "STEPLINE_ENDPOINT" in caught.value.message


def test_reads_are_sent_again_after_throttling_as_retry_after_says() -> None:
    seen: list[httpx.Request] = []
    throttled = {"code": 8, "message": "slow down", "details": []}
    answers = [
        httpx.Response(429, json=throttled, headers={"Retry-After": "0"}),
        httpx.Response(200, json={"execution": EXECUTION}),
    ]
    execution = _client(answers, seen).get(EXECUTION["id"])
    assert execution.status == "RUNNING"
    assert len(seen) == 2
    assert seen[0].headers["authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_a_start_without_a_key_is_never_sent_twice() -> None:
    seen: list[httpx.Request] = []
    unavailable = {"code": 14, "message": "AWS is unavailable", "details": []}
    answers = [httpx.Response(503, json=unavailable, headers={"Retry-After": "0"})]
    with pytest.raises(Unavailable, match="AWS is unavailable"):
        _client(answers, seen).start("swexample", {"a": 1})
    assert len(seen) == 1
    assert json.loads(seen[0].content) == {
        "workflowId": "swexample",
        "input": {"inputJson": '{"a":1}'},
    }


def test_a_start_with_a_key_is_sent_again_with_the_same_key() -> None:
    seen: list[httpx.Request] = []
    answers = [
        httpx.Response(503, json={"code": 14, "message": "x", "details": []}),
        httpx.Response(200, json={"executionId": EXECUTION["id"]}),
    ]
    assert _client(answers, seen).start("swexample", idempotency_key="k-1") == EXECUTION["id"]
    assert [r.headers["idempotency-key"] for r in seen] == ["k-1", "k-1"]


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (403, {"Message": "User is not authorized to access this resource"}, PermissionDenied, 7),
        (429, {"message": "Too Many Requests"}, ResourceExhausted, 8),
        (504, {"message": "Endpoint request timed out"}, SteplineError, 4),
        (418, "teapot", SteplineError, 2),
    ],
)
def test_the_gateways_own_answers_map_to_codes(
    status: int, body: object, kind: type[SteplineError], code: int
) -> None:
    answer = (
        httpx.Response(status, json=body)
        if isinstance(body, dict)
        else httpx.Response(status, text=str(body))
    )
    client = _client([answer] * 3, [])
    client.retries = 0
    with pytest.raises(kind) as caught:
        client.get(EXECUTION["id"])
    assert int(caught.value.code) == code
    assert f"HTTP {status}" in caught.value.message


def test_a_field_a_newer_stack_adds_is_ignored() -> None:
    newer = {**EXECUTION, "pausedAt": "2026-12-02T10:00:01Z"}
    answers = [httpx.Response(200, json={"execution": newer})]
    assert _client(answers, []).get(EXECUTION["id"]).id == EXECUTION["id"]
