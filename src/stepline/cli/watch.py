"""``execution start --wait`` and ``execution watch``: follow an execution's history until it
ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from stepline.cli.client import Client
from stepline.cli.output import ENTRY_STYLES, EXECUTION_STYLES, error_text, human_duration

ENDED = frozenset({"FINISHED", "FAILED", "STOPPED"})
OPEN = frozenset({"SCHEDULED", "STARTED", "CANCEL_REQUESTED"})
FIRST_INTERVAL = 0.2
MAX_INTERVAL = 1.0

Entry = Mapping[str, Any]


def entry_key(entry: Entry) -> str:
    """Identifies one run of a step (a step may run again after a loop back)."""
    return f"{entry['id']}@{entry.get('startedAt', '')}"


@dataclass(frozen=True)
class StepEvent:
    """A step started or ended between two looks at the history."""

    kind: str  # "started", "retrying" or "ended"
    entry: Entry

    def line(self) -> Text:
        """The event as one line of text."""
        entry = self.entry
        name = f"{entry['id']} ({entry.get('type', '')})"
        if self.kind == "started":
            return Text.assemble(("  ▶ ", "blue"), name, " started")
        if self.kind == "retrying":
            return Text.assemble(
                ("  ↻ ", "yellow"),
                name,
                f" attempt {entry.get('attempts')}",
                (f" after {error_text(entry['lastError'])}", "yellow"),
            )
        status = entry.get("status", "")
        text = Text.assemble(
            (f"  {_icon(status)} ", ENTRY_STYLES.get(status, "")),
            name,
            " ",
            (status, ENTRY_STYLES.get(status, "")),
            f" in {human_duration(entry.get('duration'))}",
        )
        if int(entry.get("attempts") or 1) > 1:
            text.append(f" after {entry['attempts']} attempts")
        if entry.get("error"):
            text.append(f" — {error_text(entry['error'])}", style="red")
        return text


def step_events(seen: dict[str, str], entries: Sequence[Entry]) -> list[StepEvent]:
    """What changed since ``seen`` (key → status and attempt), which is updated in place: a
    step that started, one that is being tried again after an error (its last error), one
    that ended."""
    events = []
    for entry in entries:
        key, status = entry_key(entry), entry.get("status", "")
        now = f"{status}#{entry.get('attempts') or 1}"
        before = seen.get(key)
        if before == now:
            continue
        if before is None and status in OPEN:
            events.append(StepEvent("started", entry))
        if status in OPEN and entry.get("lastError") and int(entry.get("attempts") or 1) > 1:
            events.append(StepEvent("retrying", entry))
        elif status not in OPEN:
            events.append(StepEvent("ended", entry))
        seen[key] = now
    return events


def _icon(status: str) -> str:
    return {"COMPLETED": "✓", "FAILED": "✗", "CANCELLED": "■"}.get(status, "•")


class LiveView:
    """The steps so far as a table, a spinner on each running one (for a terminal)."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        self.status = "QUEUED"
        self.entries: list[Entry] = []
        self._spinners: dict[str, Spinner] = {}

    def update(self, status: str, entries: Sequence[Entry]) -> None:
        """Take a new look at the execution."""
        self.status, self.entries = status, list(entries)

    def __rich__(self) -> RenderableType:
        grid = Table.grid(padding=(0, 1))
        for _ in range(5):
            grid.add_column()
        for entry in self.entries:
            status = entry.get("status", "")
            style = ENTRY_STYLES.get(status, "")
            mark: RenderableType = Text(_icon(status), style=style)
            if status in OPEN:
                mark = self._spinners.setdefault(entry_key(entry), Spinner("dots", style="blue"))
            attempts = int(entry.get("attempts") or 1)
            took = Text(human_duration(entry.get("duration"))
                        + (f"  attempt {attempts}" if attempts > 1 else ""))  # fmt: skip
            if status in OPEN and entry.get("lastError"):  # being retried: why
                took.append(f"  after {error_text(entry['lastError'])}", style="yellow")
            grid.add_row(
                mark,
                Text(entry["id"]),
                Text(entry.get("type", ""), style="dim"),
                Text(status, style=style),
                took,
            )
        header = Text.assemble(
            f"execution {self.execution_id}: ",
            (self.status, EXECUTION_STYLES.get(self.status, "")),
        )
        return Group(header, grid)


def follow(
    client: Client,
    execution_id: str,
    progress: Console,
    *,
    pause: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the history until the execution ends, showing progress; return the Execution."""
    if progress.is_terminal:
        view = LiveView(execution_id)
        with Live(view, console=progress, refresh_per_second=12, transient=False) as live:
            status = _poll(client, execution_id, pause, lambda s, e: _show_live(live, view, s, e))
    else:
        seen: dict[str, str] = {}
        status = _poll(client, execution_id, pause, lambda s, e: _show_lines(progress, seen, e))
    execution = client.get_execution(execution_id)
    if execution.get("status") not in ENDED:  # pragma: no cover - history and Get disagree
        execution["status"] = status
    return execution


def _show_live(live: Live, view: LiveView, status: str, entries: Sequence[Entry]) -> None:
    view.update(status, entries)
    live.refresh()


def _show_lines(progress: Console, seen: dict[str, str], entries: Sequence[Entry]) -> None:
    for event in step_events(seen, entries):
        progress.print(event.line())


def _poll(
    client: Client,
    execution_id: str,
    pause: Callable[[float], None],
    show: Callable[[str, Sequence[Entry]], None],
) -> str:
    """Look at the history at small, growing intervals until the execution has ended."""
    interval = FIRST_INTERVAL
    while True:
        history = client.history(execution_id)
        status = str(history["execution"].get("status", ""))
        show(status, history.get("entries") or [])
        if status in ENDED:
            return status
        pause(interval)
        interval = min(MAX_INTERVAL, interval * 1.5)
