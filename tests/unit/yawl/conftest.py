"""Helpers shared by the YaWL tests."""

from __future__ import annotations

import json
from typing import Any

from stepline.yawl import Step, Workflow, load


def spec(steps: dict[str, Any], start: str | None = None, **top: Any) -> str:
    """A JSON spec text around the given steps (start defaults to the first step)."""
    return json.dumps({"yawl": "0.1", "start": start or next(iter(steps)), "steps": steps, **top})


def one_step(kind: str, body: dict[str, Any], **extra: Any) -> Step:
    """Load a one-step workflow and return that step."""
    workflow: Workflow = load(spec({"s": {kind: body, **extra}}))
    return workflow.steps["s"]
