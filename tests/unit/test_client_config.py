"""The core's botocore clients fit every API call inside its function's timeout."""

from __future__ import annotations

from typing import Any

import pytest

from stepline.dev import template
from stepline.service import deps
from stepline.service.deps import Services, Settings, core_client_config

CORE = ["dynamodb", "s3", "sqs", "secretsmanager", "scheduler"]
SETTINGS = Settings(table_name="t", steps_queue_url="q", payload_bucket="b", page_token_key="k")


def worst_case(service: str) -> float:
    """attempts x (connect + read) + the standard mode's largest backoffs (2 ** i s)."""
    config = core_client_config(service)
    attempts = config.retries["total_max_attempts"]
    backoff = sum(2**i for i in range(attempts - 1))
    return float(attempts * (config.connect_timeout + config.read_timeout) + backoff)


def _api_timeouts() -> dict[str, int]:
    cfn = template.load()
    default = cfn["Globals"]["Function"]["Timeout"]
    functions = {route.function for route in template.routes()}
    resources = cfn["Resources"]
    return {f: resources[f]["Properties"].get("Timeout", default) for f in functions}


@pytest.mark.parametrize("service", [*CORE, "lambda"])
def test_core_clients_use_standard_retries_and_bounded_timeouts(service: str) -> None:
    config = core_client_config(service)

    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] >= 1
    assert 0 < config.connect_timeout <= 2
    assert 0 < config.read_timeout <= 3


def test_every_core_call_fits_inside_every_api_function_timeout() -> None:
    timeouts = _api_timeouts()
    assert timeouts and min(timeouts.values()) == 10  # template.yaml: Globals Timeout 10

    for service in CORE:
        assert worst_case(service) == 7.0 < min(timeouts.values())
    # Start's worst path: the runner hop fails, then the queue takes the message.
    assert worst_case("lambda") + worst_case("sqs") == 9.0 < min(timeouts.values())


def test_the_core_retries_once_and_the_hop_never() -> None:
    assert core_client_config("dynamodb").retries["total_max_attempts"] == 2
    assert core_client_config("lambda").retries["total_max_attempts"] == 1


def test_the_process_clients_carry_the_config() -> None:
    table = deps._core_client("dynamodb")
    integration_lambda = deps._boto3_client("lambda")

    assert (table.meta.config.connect_timeout, table.meta.config.read_timeout) == (1.0, 2.0)
    assert table.meta.config.retries["mode"] == "standard"
    # FunctionCall waits for the function it calls: the integrations' clients keep the defaults.
    assert integration_lambda.meta.config.read_timeout == 60
    assert deps._core_client("lambda") is not integration_lambda
    # Only the workflows function's schedules use Scheduler: bounded there too.
    assert deps._boto3_client("scheduler") is deps._core_client("scheduler")


def test_core_resources_use_the_core_factory_and_integrations_the_other() -> None:
    made: list[tuple[str, str]] = []

    def factory(kind: str) -> Any:
        return lambda service: made.append((kind, service)) or object()

    svc = Services(SETTINGS, factory("integration"), core_client_factory=factory("core"))
    svc.table, svc.queue, svc.payloads  # noqa: B018
    svc.client_factory("lambda")

    assert made == [
        ("core", "dynamodb"),
        ("core", "sqs"),
        ("core", "s3"),
        ("integration", "lambda"),
    ]


def test_without_a_core_factory_everything_comes_from_client_factory() -> None:
    made: list[str] = []
    svc = Services(SETTINGS, lambda service: made.append(service) or object())

    svc.table, svc.payloads  # noqa: B018

    assert made == ["dynamodb", "s3"]
