"""``stepline events put``: send an EventBridge event to the stack's trigger rule."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from stepline.cli.output import err

app = typer.Typer(no_args_is_help=True, help="Send events that start executions (triggers).")

DEV_AWS_ENDPOINT = "http://127.0.0.1:4566"
DEV_CREDENTIALS = {"aws_access_key_id": "stepline-dev", "aws_secret_access_key": "stepline-dev"}


def events_client(endpoint: str | None, profile: str | None, region: str | None) -> Any:
    """EventBridge of the dev stack's emulator, or of AWS when a profile or region is given."""
    import boto3

    if endpoint is None and (profile or region):
        return boto3.Session(profile_name=profile, region_name=region).client("events")
    url = endpoint or os.environ.get("STEPLINE_AWS_ENDPOINT") or DEV_AWS_ENDPOINT
    return boto3.client(
        "events",
        endpoint_url=url,
        region_name=region or "us-east-1",
        aws_access_key_id=DEV_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=DEV_CREDENTIALS["aws_secret_access_key"],
    )


def entry(source: str, detail_type: str, detail: str, workflow_id: str | None) -> dict[str, Any]:
    """One PutEvents entry; a workflow id becomes the ``stepline:workflow/<id>`` resource."""
    try:
        parsed = json.loads(detail)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON ({exc})", param_hint="--detail") from exc
    if not isinstance(parsed, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--detail")
    item: dict[str, Any] = {"Source": source, "DetailType": detail_type, "Detail": detail}
    if workflow_id:
        item["Resources"] = [f"stepline:workflow/{workflow_id}"]
    return item


@app.command()
def put(
    source: Annotated[str, typer.Option(help="Event source (the trigger rule matches on it).")] = (
        "stepline.events"
    ),
    detail_type: Annotated[str, typer.Option("--detail-type", help="Event detail-type.")] = (
        "Test Event"
    ),
    detail: Annotated[str, typer.Option(help="Event detail, a JSON object.")] = "{}",
    workflow_id: Annotated[
        str | None,
        typer.Option("--workflow-id", help="Workflow to start (else the trigger's default)."),
    ] = None,
    aws_endpoint: Annotated[
        str | None,
        typer.Option(
            "--aws-endpoint",
            help=f"AWS endpoint (default: $STEPLINE_AWS_ENDPOINT, else {DEV_AWS_ENDPOINT}).",
            show_default=False,
        ),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile (a deployed stack).")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (a deployed stack).")] = None,
) -> None:
    """Put one event on the default bus; print its event id."""
    from botocore.exceptions import BotoCoreError, ClientError

    item = entry(source, detail_type, detail, workflow_id)
    try:
        reply = events_client(aws_endpoint, profile, region).put_events(Entries=[item])
    except (BotoCoreError, ClientError) as exc:
        err().print(f"error: {exc}")
        raise typer.Exit(1) from None
    result = reply["Entries"][0]
    if "EventId" not in result:
        err().print(f"error: {result.get('ErrorCode')}: {result.get('ErrorMessage')}")
        raise typer.Exit(1)
    typer.echo(result["EventId"])
