"""The workflow specifications a warm runner has parsed, by table, workflow and version.

A pinned version never changes, so an entry is never stale; the cache only bounds its size.
"""

from __future__ import annotations

from typing import Final

from stepline.service.deps import Services
from stepline.store.records import ExecutionRecord
from stepline.yawl import Workflow, load


class SpecCache:
    """Parsed specifications, at most ``size`` of them (all dropped when it is full)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._specs: dict[tuple[str, str, int], Workflow] = {}

    def get(self, svc: Services, head: ExecutionRecord) -> Workflow:
        """The execution's pinned specification, read and parsed on first use."""
        key = (svc.settings.table_name, head.workflow_id, head.spec_version)
        if key not in self._specs:
            text = svc.workflows.get_spec(head.workflow_id, head.spec_version)
            if text is None:
                raise RuntimeError(
                    f"spec version {head.spec_version} of {head.workflow_id} is missing"
                )
            if len(self._specs) >= self.size:
                self._specs.clear()
            self._specs[key] = load(text)
        return self._specs[key]

    def clear(self) -> None:
        """Forget every parsed specification."""
        self._specs.clear()


SPECS: Final = SpecCache()
