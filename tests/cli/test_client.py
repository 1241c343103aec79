"""The CLI's client and progress logic, without a server."""

from __future__ import annotations

import httpx
import pytest

from stepline.cli.client import ApiError, Client
from stepline.cli.output import human_duration
from stepline.cli.watch import step_events
from stepline.client.auth import is_loopback


def test_loopback_endpoints_are_not_signed() -> None:
    assert is_loopback("http://127.0.0.1:8080")
    assert is_loopback("http://localhost:9000")
    assert is_loopback("http://[::1]:8080")
    assert not is_loopback("https://abc123.execute-api.eu-west-1.amazonaws.com")


def test_deployed_endpoints_are_signed_for_execute_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"executionId": "wf-1"})

    endpoint = "https://abc123.execute-api.eu-west-1.amazonaws.com"
    client = Client(endpoint, transport=httpx.MockTransport(answer))
    assert client.start("wf", "{}") == "wf-1"
    authorization = seen[0].headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert "x-amz-date" in seen[0].headers


def test_api_errors_carry_the_code_and_message() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"code": 5, "message": "no such thing", "details": []})

    client = Client("http://127.0.0.1:1", transport=httpx.MockTransport(answer))
    with pytest.raises(ApiError) as caught:
        client.get_execution("x")
    assert str(caught.value) == "NOT_FOUND (5): no such thing"


def test_gateway_answers_without_the_api_shape_become_errors_too() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": "Forbidden"})

    client = Client("http://127.0.0.1:1", transport=httpx.MockTransport(answer))
    with pytest.raises(ApiError) as caught:
        client.get_workflow("x")
    assert (caught.value.code_name, caught.value.message) == (
        "PERMISSION_DENIED",
        "HTTP 403: Forbidden",
    )


def test_step_events_report_starts_and_ends_once() -> None:
    seen: dict[str, str] = {}
    running = {"id": "a", "startedAt": "t1", "status": "STARTED", "type": "NoOp"}
    first = step_events(seen, [running])
    assert [(e.kind, e.entry["id"]) for e in first] == [("started", "a")]
    assert step_events(seen, [running]) == []
    done = running | {"status": "COMPLETED", "duration": "0.5s"}
    again = {"id": "a", "startedAt": "t2", "status": "FAILED", "attempts": "3"}
    events = step_events(seen, [done, again])
    assert [(e.kind, e.entry["startedAt"]) for e in events] == [("ended", "t1"), ("ended", "t2")]
    assert "a (NoOp) COMPLETED in 500ms" in events[0].line().plain
    assert "after 3 attempts" in events[1].line().plain


@pytest.mark.parametrize(
    ("proto", "shown"),
    [("0.012s", "12ms"), ("1.5s", "1.5s"), ("61s", "1m 1s"), ("3725s", "1h 2m 5s"), ("", "")],
)
def test_durations_read_like_people_write_them(proto: str, shown: str) -> None:
    assert human_duration(proto) == shown


def test_a_step_being_retried_shows_its_last_error() -> None:
    seen: dict[str, str] = {}
    first = {"id": "call", "startedAt": "t1", "status": "STARTED", "type": "HTTPCall"}
    step_events(seen, [first])
    retried = first | {"attempts": "2", "lastError": {"errorCode": "HTTP_CALL_503", "message": "x"}}
    events = step_events(seen, [retried])
    assert [e.kind for e in events] == ["retrying"]
    assert events[0].line().plain == "  ↻ call (HTTPCall) attempt 2 after HTTP_CALL_503: x"
    assert step_events(seen, [retried]) == []
