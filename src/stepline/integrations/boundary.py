"""The stack's own resources are out of a workflow's reach.

Every resource the stack creates is named ``<stack name>-…`` by CloudFormation (its table,
queues, buckets, functions), so an integration step whose target carries that name is refused
with ``STEP_PERMISSION_DENIED`` before any call is made — whatever ``IntegrationPrefix`` would
let IAM allow. This is the first of two fences: the runner makes integration calls with the
``IntegrationRole``, whose explicit Deny statements name the same resources (a Deny wins over
any Allow), so a target this check does not recognise is refused by IAM all the same
(docs/security.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stepline.yawl.errors import StepFailure, WorkflowErrorCode


@dataclass(frozen=True)
class Reserved:
    """Names no workflow may reach: the stack's name prefix and resources named otherwise."""

    stack_name: str = ""
    names: frozenset[str] = frozenset()
    """Exact names (or ARNs) of stack resources that do not carry the stack's name."""

    def covers(self, name: str) -> bool:
        """Whether ``name`` is one of the stack's own resources."""
        if not self.stack_name and not self.names:
            return False
        plain = resource_name(name)
        if plain in self.names or name in self.names:
            return True
        prefix = f"{self.stack_name}-".lower()
        return bool(self.stack_name) and plain.lower().startswith(prefix)


def resource_name(target: str) -> str:
    """The name a target gives its resource: from an ARN (``table/NAME``, ``function:NAME[:Q]``,
    ``secret:NAME``, an S3 ``BUCKET/KEY``, a queue's ``NAME``), a queue URL or a YDS path (the
    last segment), ``ACCOUNT:function:NAME``, or the name itself."""
    text = target.strip().rstrip("/")
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        if len(parts) < 6:
            return text
        segments = re.split(r"[:/]", parts[5])
        if len(segments) == 1 or parts[2] == "s3":
            return segments[0]
        return segments[1]
    if "://" in text or text.startswith("/"):
        return text.rsplit("/", 1)[-1]
    parts = text.split(":")
    if "function" in parts[:-1]:
        return parts[parts.index("function") + 1]
    return text


def refuse_own(reserved: Reserved, kind: str, target: str) -> None:
    """Raise STEP_PERMISSION_DENIED when ``target`` is one of the stack's own resources."""
    if reserved.covers(target):
        raise StepFailure(
            WorkflowErrorCode.STEP_PERMISSION_DENIED,
            f"{kind} {target}: the resource belongs to the Stepline stack itself, which "
            "workflows cannot reach",
        )
