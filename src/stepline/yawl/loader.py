"""`load(text)`: parse and fully validate a YaWL specification."""

from __future__ import annotations

from stepline.yawl.source import parse_document
from stepline.yawl.spec import Workflow
from stepline.yawl.validation import validate


def load(text: str) -> Workflow:
    """Parse YAML 1.2 or JSON spec text and validate it; raise SpecError with every problem."""
    return validate(parse_document(text))
