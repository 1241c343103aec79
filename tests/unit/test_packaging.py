"""The Lambda layer ships the same runtime dependencies the package declares."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _names(requirements: list[str]) -> dict[str, str]:
    return {
        r.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip(): r for r in requirements
    }


def test_layer_requirements_match_the_package_runtime_dependencies() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    layer = [
        line.strip()
        for line in (ROOT / "src" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    client_side = {"boto3", "typer", "rich"}  # boto3 comes with the Lambda runtime
    expected = {
        n: r.split("#")[0].strip() for n, r in _names(declared).items() if n not in client_side
    }
    assert _names(layer) == expected
