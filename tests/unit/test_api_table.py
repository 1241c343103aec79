"""docs/api.md covers every RPC, message and field of the official protos.

The page's convention: each RPC is a table row whose first cell is `` `Service.Method` ``; each
message has a heading ``### MessageName`` and, in the table under it, a row per field whose
first cell is the field's proto3 JSON name (or its proto name) in backticks. Messages are walked
from every method's input and output, into every field whose message is in a ``yandex.cloud``
package (map entries are documented by their map field; google.* types are not walked), plus
the Operation metadata the API packs into ``google.protobuf.Any``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor, ServiceDescriptor
from yandex.cloud.access import access_pb2
from yandex.cloud.operation import operation_service_pb2
from yandex.cloud.serverless.workflows.v1 import execution_service_pb2, workflow_service_pb2

PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
SERVICES: tuple[ServiceDescriptor, ...] = (
    execution_service_pb2.DESCRIPTOR.services_by_name["ExecutionService"],
    workflow_service_pb2.DESCRIPTOR.services_by_name["WorkflowService"],
    operation_service_pb2.DESCRIPTOR.services_by_name["OperationService"],
)
METADATA: tuple[Descriptor, ...] = (
    workflow_service_pb2.CreateWorkflowMetadata.DESCRIPTOR,
    workflow_service_pb2.UpdateWorkflowMetadata.DESCRIPTOR,
    workflow_service_pb2.DeleteWorkflowMetadata.DESCRIPTOR,
    access_pb2.SetAccessBindingsMetadata.DESCRIPTOR,
    access_pb2.UpdateAccessBindingsMetadata.DESCRIPTOR,
)
_HEADING = re.compile(r"^(#{1,3}) (.+?)\s*$")
_FIRST_CELL = re.compile(r"^\|\s*`([A-Za-z0-9_.]+)`\s*\|")


def _walked() -> list[Descriptor]:
    """Every message to document, each once, in walking order."""
    found: dict[str, Descriptor] = {}

    def walk(message: Descriptor) -> None:
        if not message.full_name.startswith("yandex.cloud.") or message.GetOptions().map_entry:
            return
        if message.full_name in found:
            return
        found[message.full_name] = message
        for field in message.fields:
            if field.message_type is not None:
                walk(field.message_type)

    for service in SERVICES:
        for method in service.methods:
            walk(method.input_type)
            walk(method.output_type)
    for message in METADATA:
        walk(message)
    return list(found.values())


def _messages() -> dict[str, Descriptor]:
    """The messages to document by their short name (the page's headings)."""
    return {message.name: message for message in _walked()}


def _sections(text: str) -> Iterator[tuple[str, set[str]]]:
    """Each ``###`` heading with the first-cell names of its table rows."""
    heading: str | None = None
    names: set[str] = set()
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            if heading is not None:
                yield heading, names
            heading = match.group(2) if len(match.group(1)) == 3 else None
            names = set()
        elif heading is not None and (cell := _FIRST_CELL.match(line)):
            names.add(cell.group(1))
    if heading is not None:
        yield heading, names


def _rows(text: str) -> set[str]:
    return {m.group(1) for line in text.splitlines() if (m := _FIRST_CELL.match(line))}


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_every_rpc_has_a_row(page: str) -> None:
    rows = _rows(page)
    rpcs = [f"{s.name}.{m.name}" for s in SERVICES for m in s.methods]
    missing = [rpc for rpc in rpcs if rpc not in rows]
    assert not missing, f"docs/api.md has no row for: {', '.join(missing)}"


def test_every_message_field_has_a_row_under_its_heading(page: str) -> None:
    sections = dict(_sections(page))
    missing = []
    for name, message in _messages().items():
        documented = sections.get(name)
        if documented is None:
            missing.append(f"### {name}")
            continue
        missing += [
            f"{name}.{f.name}"
            for f in message.fields
            if f.name not in documented and f.json_name not in documented
        ]
    assert not missing, f"docs/api.md does not mention: {', '.join(missing)}"


def test_page_documents_no_stale_message_or_field(page: str) -> None:
    messages = _messages()
    stale = []
    for heading, names in _sections(page):
        message = messages.get(heading)
        if message is None:
            stale.append(f"### {heading}")
            continue
        known = {f.name for f in message.fields} | {f.json_name for f in message.fields}
        stale += [f"{heading}.{name}" for name in sorted(names - known)]
    assert not stale, f"docs/api.md documents what the protos lack: {', '.join(stale)}"


def test_message_names_are_unique() -> None:
    names = [message.name for message in _walked()]
    clashes = sorted({n for n in names if names.count(n) > 1})
    assert not clashes, f"messages of one name in two packages: {clashes}"
