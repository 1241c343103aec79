"""``stepline workflow create|get|update|delete|list``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.syntax import Syntax

from stepline.cli import output
from stepline.cli.common import (
    AllOption,
    EndpointOption,
    FilterOption,
    FormatOption,
    PageSizeOption,
    ProfileOption,
    RegionOption,
    api,
)
from stepline.cli.output import Format

app = typer.Typer(no_args_is_help=True, help="Create, inspect, change and delete workflows.")

WorkflowId = Annotated[str, typer.Argument(help="Workflow id.", show_default=False)]
SpecOption = Annotated[
    Path | None,
    typer.Option("--spec", help="YaWL file.", exists=True, dir_okay=False, readable=True),
]
NameOption = Annotated[str | None, typer.Option("--name", help="Workflow name.")]
DescriptionOption = Annotated[str | None, typer.Option("--description", help="Description.")]
LabelsOption = Annotated[
    list[str] | None,
    typer.Option("--labels", help="Labels as k=v (repeat, or separate with commas)."),
]
FolderOption = Annotated[str, typer.Option("--folder-id", help="Folder of the workflow.")]


def parse_labels(values: list[str] | None) -> dict[str, str] | None:
    """``["a=1,b=2", "c=3"]`` → ``{"a": "1", "b": "2", "c": "3"}``; None when not given."""
    if values is None:
        return None
    labels: dict[str, str] = {}
    for value in values:
        for pair in filter(None, (p.strip() for p in value.split(","))):
            key, sep, val = pair.partition("=")
            if not sep or not key:
                raise typer.BadParameter(f"{pair!r} is not k=v", param_hint="--labels")
            labels[key.strip()] = val.strip()
    return labels


def name_from_file(path: Path) -> str:
    """A workflow name from a file name, as ``stepline dev`` names the examples."""
    name = re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-")
    return name[:63] or "workflow"


def _show_operation(operation: dict[str, Any], verb: str, fmt: Format) -> None:
    if fmt is not Format.table:
        output.dump(operation, fmt)
        return
    workflow_id = operation.get("metadata", {}).get("workflowId", "")
    name = operation.get("response", {}).get("name")
    output.out().print(f"{verb} workflow {name + ': ' if name else ''}{workflow_id}")


@app.command()
def create(
    spec: SpecOption,
    name: NameOption = None,
    folder_id: FolderOption = "default",
    description: DescriptionOption = None,
    labels: LabelsOption = None,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Create a workflow from a YaWL file (its name defaults to the file's)."""
    if spec is None:
        raise typer.BadParameter("a YaWL file is required", param_hint="--spec")
    body: dict[str, Any] = {
        "folderId": folder_id,
        "name": name or name_from_file(spec),
        "specification": {"specYaml": spec.read_text(encoding="utf-8")},
    }
    if description is not None:
        body["description"] = description
    parsed = parse_labels(labels)
    if parsed is not None:
        body["labels"] = parsed
    with api(endpoint, profile, region) as client:
        _show_operation(client.create_workflow(body), "Created", output.resolve(fmt))


@app.command()
def update(
    workflow_id: WorkflowId,
    spec: SpecOption = None,
    name: NameOption = None,
    description: DescriptionOption = None,
    labels: LabelsOption = None,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Change the given fields of a workflow; the others stay as they are."""
    body: dict[str, Any] = {}
    if spec is not None:
        body["specification"] = {"specYaml": spec.read_text(encoding="utf-8")}
    if name is not None:
        body["name"] = name
    if description is not None:
        body["description"] = description
    parsed = parse_labels(labels)
    if parsed is not None:
        body["labels"] = parsed
    if not body:
        raise typer.BadParameter("give at least one of --spec, --name, --description, --labels")
    body["updateMask"] = ",".join(body)
    with api(endpoint, profile, region) as client:
        _show_operation(client.update_workflow(workflow_id, body), "Updated", output.resolve(fmt))


@app.command()
def get(
    workflow_id: WorkflowId,
    spec_only: Annotated[
        bool, typer.Option("--spec-only", help="Print only the YaWL specification.")
    ] = False,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Show a workflow and its specification."""
    with api(endpoint, profile, region) as client:
        workflow = client.get_workflow(workflow_id)
    spec_yaml = str(workflow.get("specification", {}).get("specYaml", ""))
    if spec_only:
        typer.echo(spec_yaml, nl=not spec_yaml.endswith("\n"))
        return
    chosen = output.resolve(fmt)
    if chosen is not Format.table:
        output.dump(workflow, chosen)
        return
    console = output.out()
    console.print(output.workflow_fields(workflow))
    console.print()
    console.print(Syntax(spec_yaml, "yaml", line_numbers=True, background_color="default"))


@app.command()
def delete(
    workflow_id: WorkflowId,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Delete a workflow."""
    with api(endpoint, profile, region) as client:
        operation = client.delete_workflow(workflow_id)
    _show_operation(operation, "Deleted", output.resolve(fmt))


@app.command("list")
def list_(
    folder_id: FolderOption = "default",
    filter_text: FilterOption = "",
    page_size: PageSizeOption = 0,
    follow: AllOption = False,
    endpoint: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
) -> None:
    """List the workflows of a folder (filter: name=NAME, created_at=T)."""
    with api(endpoint, profile, region) as client:
        workflows = list(
            client.list_workflows(
                folder_id, filter_text=filter_text, page_size=page_size, follow=follow
            )
        )
    chosen = output.resolve(fmt)
    if chosen is Format.table:
        output.out().print(output.workflows_table(workflows))
    else:
        output.dump(workflows, chosen)
