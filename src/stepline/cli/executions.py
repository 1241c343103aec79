"""``stepline execution start|stop|terminate|pause|resume|redrive|get|history|list``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from stepline.cli import output
from stepline.cli.client import Client
from stepline.cli.common import (
    AllOption,
    EndpointOption,
    FilterOption,
    FormatOption,
    PageSizeOption,
    ProfileOption,
    RegionOption,
    api,
    endpoint_of,
)
from stepline.cli.output import Format
from stepline.cli.watch import follow as follow_execution

app = typer.Typer(no_args_is_help=True, help="Start, watch, stop, pause and inspect executions.")

FAILED_EXIT = 1
INTERRUPTED_EXIT = 130


def complete_workflow_id(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion: workflow ids of the default folder, with their names."""
    try:
        client = Client(endpoint_of(None))
        try:
            found = list(client.list_workflows("default", page_size=1000))
        finally:
            client.close()
    except Exception:  # completion must never break the shell
        return []
    return [(w["id"], w.get("name", "")) for w in found if w["id"].startswith(incomplete)]


WorkflowIdOption = Annotated[
    str,
    typer.Option(
        "--workflow-id",
        help="Workflow id.",
        autocompletion=complete_workflow_id,
        show_default=False,
    ),
]
ExecutionId = Annotated[str, typer.Argument(help="Execution id.", show_default=False)]


def read_input(input_json: str | None, input_file: Path | None) -> str:
    """The execution input as a JSON string, checked here before it is sent."""
    if input_json is not None and input_file is not None:
        raise typer.BadParameter("give --input-json or --input-file, not both")
    if input_file is None:
        text, hint = (input_json if input_json is not None else "{}"), "--input-json"
    elif str(input_file) == "-":
        text, hint = sys.stdin.read(), "--input-file"
    else:
        try:
            text, hint = input_file.read_text(encoding="utf-8"), "--input-file"
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {input_file}: {exc}") from exc
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON ({exc})", param_hint=hint) from exc
    return text


@app.command()
def start(
    workflow_id: WorkflowIdOption,
    input_json: Annotated[
        str | None, typer.Option("--input-json", help="Input as a JSON text (default {}).")
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input-file", help="File holding the JSON input (- = stdin).")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Show steps as they run; exit 0 on FINISHED, 1 on FAILED or STOPPED."
        ),
    ] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="Start at most once for this key (24 h): the same key and input answer the "
            "same execution, so the command is safe to run again.",
        ),
    ] = None,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Start an execution of a workflow."""
    text = read_input(input_json, input_file)
    chosen = output.resolve(fmt)
    with api(endpoint, profile, region) as client:
        execution_id = client.start(workflow_id, text, idempotency_key=idempotency_key)
        if not wait:
            if chosen is Format.table:
                output.out().print(f"Started execution {execution_id}")
            else:
                output.dump({"executionId": execution_id}, chosen)
            return
        progress = output.err()
        progress.print(f"Started execution {execution_id}")
        execution = _follow(client, execution_id, progress)
    _ended(execution, chosen)


@app.command()
def watch(
    execution_id: ExecutionId,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Follow an execution (one already running, or ended) as --wait does: its steps as they
    run, the last error of one being retried; exit 0 on FINISHED, 1 on FAILED or STOPPED."""
    chosen = output.resolve(fmt)
    with api(endpoint, profile, region) as client:
        execution = _follow(client, execution_id, output.err())
    _ended(execution, chosen)


def _follow(client: Client, execution_id: str, progress: Console) -> dict[str, Any]:
    try:
        return follow_execution(client, execution_id, progress)
    except KeyboardInterrupt:
        progress.print(
            f"Stopped watching; the execution goes on: stepline execution watch {execution_id}"
        )
        raise typer.Exit(INTERRUPTED_EXIT) from None


def _ended(execution: dict[str, Any], fmt: Format) -> None:
    _show_outcome(execution, fmt)
    if execution.get("status") != "FINISHED":
        raise typer.Exit(FAILED_EXIT)


def _show_outcome(execution: dict[str, Any], fmt: Format) -> None:
    """The result, or the error, of an execution that has ended."""
    if fmt is not Format.table:
        output.dump(execution, fmt)
        return
    status = str(execution.get("status", ""))
    console = output.out()
    console.print(
        Text.assemble(
            (status, output.EXECUTION_STYLES.get(status, "")),
            f" in {output.human_duration(execution.get('duration'))}",
        )
    )
    if "result" in execution:
        console.print(output.pretty_json(execution["result"].get("resultJson")), markup=False)
    if "error" in execution:
        console.print(Text(output.error_text(execution["error"]), style="red"))


def _state_command(name: str, verb: str, summary: str) -> None:
    """Register ``execution NAME ID``: the client's call of that name, acknowledged as
    ``<verb> execution <id>`` (or the id as JSON/YAML)."""

    def command(
        execution_id: ExecutionId,
        endpoint: EndpointOption = None,
        profile: ProfileOption = None,
        region: RegionOption = None,
        fmt: FormatOption = None,
    ) -> None:
        with api(endpoint, profile, region) as client:
            answered = getattr(client, name)(execution_id)
        _acknowledge(answered, verb, output.resolve(fmt))

    command.__doc__ = summary
    app.command(name)(command)


for _name, _verb, _summary in (
    ("stop", "Stopping", "Stop an execution after its running step finishes."),
    ("terminate", "Terminating", "Stop an execution now, cancelling its running step."),
    (
        "pause",
        "Pausing",
        "Pause an execution: its running step finishes, nothing new starts until resumed.",
    ),
    ("resume", "Resuming", "Resume a paused execution."),
):
    _state_command(_name, _verb, _summary)


@app.command()
def redrive(
    execution_id: ExecutionId,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Redrive a FAILED or STOPPED execution: what failed or did not finish runs again."""
    with api(endpoint, profile, region) as client:
        answer = client.redrive(execution_id)
    resolved = output.resolve(fmt)
    if resolved is Format.table:
        output.out().print(
            f"Redriving execution {answer['executionId']} (redrive {answer['redriveCount']})"
        )
    else:
        output.dump(answer, resolved)


def _acknowledge(execution_id: str, verb: str, fmt: Format) -> None:
    if fmt is Format.table:
        output.out().print(f"{verb} execution {execution_id}")
    else:
        output.dump({"executionId": execution_id}, fmt)


@app.command()
def get(
    execution_id: ExecutionId,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Show an execution: status, duration, input, result or error."""
    with api(endpoint, profile, region) as client:
        execution = client.get_execution(execution_id)
    chosen = output.resolve(fmt)
    if chosen is Format.table:
        output.out().print(output.execution_fields(execution))
    else:
        output.dump(execution, chosen)


@app.command()
def history(
    execution_id: ExecutionId,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Show the steps an execution ran, oldest first."""
    with api(endpoint, profile, region) as client:
        found = client.history(execution_id)
    chosen = output.resolve(fmt)
    if chosen is not Format.table:
        output.dump(found, chosen)
        return
    preview = found["execution"]
    status = str(preview.get("status", ""))
    console = output.out()
    console.print(
        Text.assemble(
            f"execution {preview['id']}: ",
            (status, output.EXECUTION_STYLES.get(status, "")),
            f" ({output.human_duration(preview.get('duration'))})",
        )
    )
    console.print(output.history_table(found.get("entries") or []))


@app.command("list")
def list_(
    workflow_id: Annotated[
        str | None,
        typer.Option(
            "--workflow-id",
            help="Workflow id (default: every workflow of --folder-id).",
            autocompletion=complete_workflow_id,
            show_default=False,
        ),
    ] = None,
    folder_id: Annotated[
        str, typer.Option("--folder-id", help="Folder whose workflows' executions to list.")
    ] = "default",
    filter_text: FilterOption = "",
    page_size: PageSizeOption = 0,
    follow: AllOption = False,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """List executions newest first, of a workflow or of every workflow of a folder (filter
    e.g. 'status=FAILED')."""
    with api(endpoint, profile, region) as client:
        if workflow_id is not None:
            found = client.list_executions(
                workflow_id, filter_text=filter_text, page_size=page_size, follow=follow
            )
        else:
            found = client.folder_executions(
                folder_id, filter_text=filter_text, page_size=page_size, follow=follow
            )
        executions = list(found)
    chosen = output.resolve(fmt)
    if chosen is Format.table:
        output.out().print(output.executions_table(executions))
    else:
        output.dump(executions, chosen)
