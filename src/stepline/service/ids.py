"""Identifiers of workflows, executions and operations: generation and validation."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

from stepline.errors import InvalidArgument

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
WORKFLOW_ID = re.compile(r"^[a-z][a-z0-9]{2,49}$")
EXECUTION_ID = re.compile(
    r"^[a-z][a-z0-9]{2,49}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def new_workflow_id() -> str:
    """A fresh workflow id: ``sw`` and 18 random lowercase letters and digits."""
    return "sw" + "".join(secrets.choice(_ALPHABET) for _ in range(18))


def new_operation_id() -> str:
    """A fresh operation id: ``op`` and 18 random lowercase letters and digits."""
    return "op" + "".join(secrets.choice(_ALPHABET) for _ in range(18))


def stable_workflow_id(folder_id: str, name: str) -> str:
    """A workflow id derived from folder and name (the dev stack's example workflows)."""
    digest = hashlib.sha256(f"{folder_id}/{name}".encode()).digest()
    return "sw" + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:18])


def new_execution_id(workflow_id: str) -> str:
    """A fresh execution id: ``<workflowId>-<uuid4>``."""
    return f"{workflow_id}-{uuid.uuid4()}"


def check_workflow_id(value: str, field: str = "workflowId") -> str:
    """Refuse malformed workflow ids before they reach the table."""
    if not WORKFLOW_ID.match(value):
        raise InvalidArgument(f"{field}: {value[:80]!r} is not a workflow id")
    return value


def check_execution_id(value: str, field: str = "executionId") -> str:
    """Refuse malformed execution ids before they reach the table."""
    if not EXECUTION_ID.match(value):
        raise InvalidArgument(f"{field}: {value[:80]!r} is not an execution id")
    return value
