"""Checks a workflow specification before it is stored."""

from __future__ import annotations

from io import StringIO
from typing import Any

from stepline.api.errors import InvalidArgument

_REQUIRED = ("yawl", "start", "steps")


def check(spec_yaml: str) -> None:
    """Refuse a specification that is not a YAML mapping with ``yawl``, ``start`` and ``steps``."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document: Any = YAML(typ="safe", pure=True).load(StringIO(spec_yaml))
    except YAMLError as exc:
        raise InvalidArgument(f"specification.specYaml: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidArgument("specification.specYaml: must be a YAML mapping")
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        raise InvalidArgument(
            f"specification.specYaml: missing required keys: {', '.join(missing)}"
        )
