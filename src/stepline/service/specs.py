"""Checks a workflow specification before it is stored: the full YaWL validation."""

from __future__ import annotations

from stepline.errors import InvalidArgument


def check(spec_yaml: str) -> None:
    """Refuse an invalid specification, listing every problem with its path and line."""
    from stepline.yawl import SpecError, load

    try:
        load(spec_yaml)
    except SpecError as exc:
        problems = "; ".join(str(exc).splitlines())
        raise InvalidArgument(f"specification.specYaml: {problems}") from exc
