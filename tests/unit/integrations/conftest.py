"""Fixtures of the adapter tests: moto-backed AWS and a CallContext rendering against an input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from stepline.integrations import CallContext
from stepline.yawl.templating import render

MakeContext = Callable[..., CallContext]


@pytest.fixture(autouse=True)
def _fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def make_ctx() -> MakeContext:
    """CallContext(client=boto3.client, render=lambda t: render(t, step_input), timeout=5)."""

    def make(step_input: Any = None, **fields: Any) -> CallContext:
        fields.setdefault("client", boto3.client)
        return CallContext(render=lambda t: render(t, step_input), timeout=5, **fields)

    return make


def stubbed(service: str, method: str, code: str, status: int) -> Callable[[str], Any]:
    """A client factory whose one `method` call fails with the given AWS error code."""
    client = boto3.client(service, region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error(method, service_error_code=code, http_status_code=status)
    stubber.activate()
    return lambda _name: client


class Failing:
    """A stand-in client whose every operation raises one exception."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise self.exc

        return fail
