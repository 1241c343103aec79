"""``stepline task success|failure|heartbeat TOKEN``: answer a waitForTask step (a Stepline
extension, docs/signals.md). ``-`` as the token reads it from stdin (it stays out of the
shell's history)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from stepline.cli.common import EndpointOption, ProfileOption, RegionOption, api

app = typer.Typer(no_args_is_help=True, help="Answer the task tokens of waitForTask steps.")

Token = Annotated[
    str, typer.Argument(help="The task token ('-': read it from stdin).", show_default=False)
]


def _token(token: str) -> str:
    return sys.stdin.readline().strip() if token == "-" else token


def _send(
    method: str,
    body: dict[str, Any],
    endpoint: str | None,
    profile: str | None,
    region: str | None,
) -> None:
    with api(endpoint, profile, region) as client:
        client.call("POST", f"/execution:{method}", body=body)
    typer.echo(f"{method}: accepted")


@app.command()
def success(
    token: Token,
    output_json: Annotated[
        str, typer.Option("--output-json", help="The step's output, as JSON text.")
    ] = "{}",
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Complete the waiting step with an output."""
    try:
        json.loads(output_json)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON text: {exc}", param_hint="--output-json") from None
    body = {"taskToken": _token(token), "outputJson": output_json}
    _send("sendTaskSuccess", body, endpoint, profile, region)


@app.command()
def failure(
    token: Token,
    error_code: Annotated[
        str, typer.Option("--error-code", help="A YaWL error code, e.g. STEP_FAIL.")
    ] = "STEP_FAIL",
    message: Annotated[str, typer.Option("--message", help="What went wrong.")] = "",
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Fail the waiting step (its catch rules and retry policy see the error code)."""
    body = {"taskToken": _token(token), "errorCode": error_code, "message": message}
    _send("sendTaskFailure", body, endpoint, profile, region)


@app.command()
def heartbeat(
    token: Token,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Tell the waiting step that its task is still being worked on."""
    _send("sendTaskHeartbeat", {"taskToken": _token(token)}, endpoint, profile, region)
