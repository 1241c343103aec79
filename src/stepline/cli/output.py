"""How the CLI prints: tables for people, JSON or YAML for programs."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from io import StringIO
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

EXECUTION_STYLES = {
    "QUEUED": "dim",
    "RUNNING": "blue",
    "PAUSED": "cyan",
    "STOPPED": "yellow",
    "FAILED": "red",
    "FINISHED": "green",
}
ENTRY_STYLES = {
    "SCHEDULED": "dim",
    "STARTED": "blue",
    "COMPLETED": "green",
    "FAILED": "red",
    "CANCEL_REQUESTED": "yellow",
    "CANCELLED": "yellow",
}
PIPE_WIDTH = 200  # tables asked for on a pipe are not cut to 80 columns
_DURATION = re.compile(r"^(\d+)(?:\.(\d+))?s$")


class Format(StrEnum):
    """Output formats of every command."""

    table = "table"
    json = "json"
    yaml = "yaml"


def out() -> Console:
    """The console for results (stdout, read at call time so test runners can capture it)."""
    width = None if sys.stdout.isatty() else PIPE_WIDTH
    return Console(file=sys.stdout, soft_wrap=False, width=width)


def err() -> Console:
    """The console for progress and errors (stderr)."""
    return Console(file=sys.stderr, soft_wrap=True)


def resolve(fmt: Format | None) -> Format:
    """The chosen format, or table on a terminal and json when piped."""
    if fmt is not None:
        return fmt
    return Format.table if sys.stdout.isatty() else Format.json


def dump(data: Any, fmt: Format) -> None:
    """Print data as JSON or YAML on stdout."""
    if fmt is Format.yaml:
        from ruamel.yaml import YAML

        yaml = YAML(pure=True)  # round-trip dumper: keys stay in the API's order
        yaml.default_flow_style = False
        buffer = StringIO()
        yaml.dump(data, buffer)
        sys.stdout.write(buffer.getvalue())
    else:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def human_duration(text: str | None) -> str:
    """A proto3 duration (``"61.5s"``) as people read it (``1m 1.5s``)."""
    match = _DURATION.match(text or "")
    if not match:
        return text or ""
    seconds = int(match.group(1)) + float("0." + (match.group(2) or "0"))
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}".rstrip("0").rstrip(".") + "s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {rest}s" if hours else f"{minutes}m {rest}s"


def short_time(text: str | None) -> str:
    """An RFC 3339 timestamp to the second, for tables: ``2026-01-02 03:04:05Z``."""
    if not text:
        return ""
    return text.replace("T", " ")[:19] + "Z"


def styled(status: str, styles: Mapping[str, str]) -> Text:
    """A status word in its colour."""
    return Text(status, style=styles.get(status, ""))


def pretty_json(text: str | None) -> str:
    """A JSON string re-indented for reading (as given when it is not JSON)."""
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except json.JSONDecodeError:
        return text


def table(columns: Sequence[str], rows: Iterable[Sequence[str | Text]]) -> Table:
    """A plain table with the given column headers."""
    grid = Table(box=None, header_style="bold", pad_edge=False)
    for index, column in enumerate(columns):
        grid.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        grid.add_row(*row)
    return grid


def fields(pairs: Iterable[tuple[str, str | Text]]) -> Table:
    """A two-column name/value table for one object."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for name, value in pairs:
        grid.add_row(name, value)
    return grid


def workflows_table(workflows: Iterable[Mapping[str, Any]]) -> Table:
    """WorkflowPreviews as a table."""
    rows = (
        (w["id"], w.get("name", ""), w.get("folderId", ""), w.get("status", ""),
         short_time(w.get("createdAt")), w.get("description", ""))
        for w in workflows
    )  # fmt: skip
    return table(("ID", "NAME", "FOLDER", "STATUS", "CREATED", "DESCRIPTION"), rows)


def workflow_fields(workflow: Mapping[str, Any]) -> Table:
    """One Workflow as name/value pairs (the spec is printed separately)."""
    labels = ", ".join(f"{k}={v}" for k, v in (workflow.get("labels") or {}).items())
    return fields(
        [
            ("id", workflow["id"]),
            ("name", workflow.get("name", "")),
            ("folder", workflow.get("folderId", "")),
            ("status", workflow.get("status", "")),
            ("created", workflow.get("createdAt", "")),
            ("description", workflow.get("description", "")),
            ("labels", labels),
            ("start by link", workflow.get("executionUrl", "")),
        ]
    )


def executions_table(executions: Iterable[Mapping[str, Any]]) -> Table:
    """ExecutionPreviews as a table."""
    rows = (
        (
            e["id"],
            styled(e.get("status", ""), EXECUTION_STYLES),
            short_time(e.get("startedAt")),
            human_duration(e.get("duration")),
        )
        for e in executions
    )
    return table(("ID", "STATUS", "STARTED", "DURATION"), rows)


def execution_fields(execution: Mapping[str, Any]) -> Table:
    """One Execution as name/value pairs: status, times, input, result or error."""
    pairs: list[tuple[str, str | Text]] = [
        ("id", execution["id"]),
        ("workflow", execution.get("workflowId", "")),
        ("status", styled(execution.get("status", ""), EXECUTION_STYLES)),
        ("started", execution.get("startedAt", "")),
        ("duration", human_duration(execution.get("duration"))),
        ("input", pretty_json((execution.get("input") or {}).get("inputJson"))),
    ]
    if "result" in execution:
        pairs.append(("result", pretty_json(execution["result"].get("resultJson"))))
    if "error" in execution:
        pairs.append(("error", Text(error_text(execution["error"]), style="red")))
    return fields(pairs)


def error_text(error: Mapping[str, Any] | None) -> str:
    """An ExecutionError or HistoryEntryError as ``CODE: message``."""
    if not error:
        return ""
    code, message = error.get("errorCode", ""), error.get("message", "")
    return f"{code}: {message}" if code else str(message)


def history_table(entries: Iterable[Mapping[str, Any]]) -> Table:
    """HistoryEntries as a table, retries and the latest error shown."""
    rows = (
        (
            entry["id"],
            entry.get("type", ""),
            styled(entry.get("status", ""), ENTRY_STYLES),
            short_time(entry.get("startedAt")),
            human_duration(entry.get("duration")),
            str(entry.get("attempts", "1")),
            error_text(entry.get("error") or entry.get("lastError")),
        )
        for entry in entries
    )
    return table(("STEP", "TYPE", "STATUS", "STARTED", "DURATION", "ATTEMPTS", "ERROR"), rows)
