"""``stepline events put``: send an EventBridge event to the stack's trigger rule."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from stepline.cli.output import err
from stepline.client.auth import DEV_CREDENTIALS, DEV_REGION, is_loopback

app = typer.Typer(no_args_is_help=True, help="Send events that start executions (triggers).")


def events_client(endpoint: str | None, profile: str | None, region: str | None) -> Any:
    """EventBridge at ``endpoint``, else wherever the environment points boto3.

    The lines ``make dev`` prints set ``AWS_ENDPOINT_URL`` and the dev account's root key, so
    in a shell that ran them this is the dev stack's emulator; elsewhere it is AWS itself,
    with the standard credential chain (``--profile``, ``--region``). As for the API, a
    loopback endpoint (the dev stack) is signed with the dev root key unless a profile is
    named.
    """
    import boto3

    url = endpoint or os.environ.get("AWS_ENDPOINT_URL") or None
    if url is not None and profile is None and is_loopback(url):
        key, secret = DEV_CREDENTIALS
        return boto3.client(
            "events",
            endpoint_url=url,
            region_name=region or DEV_REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
    session = boto3.Session(profile_name=profile, region_name=region)
    return session.client("events", endpoint_url=url)


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
            help="AWS endpoint (default: $AWS_ENDPOINT_URL, which `make dev` prints; else AWS).",
            show_default=False,
        ),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile (a deployed stack).")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (a deployed stack).")] = None,
) -> None:
    """Put one event on the default bus; print its event id."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    item = entry(source, detail_type, detail, workflow_id)
    try:
        reply = events_client(aws_endpoint, profile, region).put_events(Entries=[item])
    except NoCredentialsError:
        err().print(
            "error: no AWS credentials: for the dev stack, run the export lines `make dev` "
            "printed; for AWS, pass --profile",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    except (BotoCoreError, ClientError) as exc:
        err().print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    result = reply["Entries"][0]
    if "EventId" not in result:
        err().print(f"error: {result.get('ErrorCode')}: {result.get('ErrorMessage')}")
        raise typer.Exit(1)
    typer.echo(result["EventId"])
