"""Reads template.yaml: the one description of resources, functions and routes.

:func:`transformed` is what the dev stack and the integration tests deploy on the emulator
(:mod:`stepline.dev.deploy`); the rest serves the benchmarks' in-process harness
(:mod:`stepline.dev.resources`).
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


def project_root() -> Path:
    """The checkout holding template.yaml, functions/ and examples/."""
    root = Path(os.environ.get("STEPLINE_PROJECT_ROOT", PROJECT_ROOT))
    if not (root / "template.yaml").is_file():
        raise RuntimeError(f"template.yaml not found under {root}; set STEPLINE_PROJECT_ROOT")
    return root


@cache
def load(path: Path | None = None) -> dict[str, Any]:
    """The SAM template as written (intrinsic tags decoded into their JSON forms)."""
    from cfnlint.decode import decode_str

    path = path or project_root() / "template.yaml"
    template, problems = decode_str(path.read_text())
    if problems or template is None:
        raise RuntimeError(f"{path}: cannot read template: {problems}")
    return dict(template)


@cache
def transformed(path: Path | None = None) -> dict[str, Any]:
    """The template turned into plain CloudFormation by the SAM translator, offline."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(load(path))
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        for name in ("CodeUri", "ContentUri"):
            if isinstance(props.get(name), str) and not props[name].startswith("s3://"):
                # The translator wants S3 locations; the dev stack runs code from the checkout.
                props[name] = f"s3://local-checkout/{props[name]}"

    class _NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return dict(transform(template, {}, _NoManagedPolicies()))


@dataclass(frozen=True)
class Route:
    """One HTTP API route and the function that serves it."""

    function: str
    method: str
    path: str
    code_dir: Path
    handler: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """A regex matching request paths, capturing the path parameters."""
        regex = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", r"(?P<\1>[^/]+)", self.path)
        return re.compile(f"^{regex}$")

    @property
    def specificity(self) -> int:
        """Literal segments count: the more, the earlier a route is tried (as API Gateway)."""
        return sum(1 for part in self.path.split("/") if part and not part.startswith("{"))


def routes(path: Path | None = None) -> list[Route]:
    """Every HttpApi event of every function, most specific first."""
    template = load(path)
    root = (path or project_root() / "template.yaml").parent
    defaults = template.get("Globals", {}).get("Function", {})
    found = []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            found.append(
                Route(
                    function=name,
                    method=str(event["Properties"]["Method"]).upper(),
                    path=str(event["Properties"]["Path"]),
                    code_dir=root / str(props.get("CodeUri", defaults.get("CodeUri", ""))),
                    handler=str(props.get("Handler", defaults.get("Handler", ""))),
                )
            )
    return sorted(found, key=lambda r: r.specificity, reverse=True)


def function_route(function: str, path: Path | None = None) -> Route:
    """A function without HTTP routes (the runner), in the shape the dev stack loads."""
    template = load(path)
    root = (path or project_root() / "template.yaml").parent
    props = template["Resources"][function]["Properties"]
    return Route(function, "", "", root / str(props["CodeUri"]), str(props["Handler"]))


def function_environment(function: str, physical: dict[str, str]) -> dict[str, str]:
    """A function's environment variables with Refs resolved to the given physical ids."""
    resource = transformed()["Resources"][function]
    variables = resource["Properties"].get("Environment", {}).get("Variables", {})
    parameters = transformed().get("Parameters", {})
    resolved = {}
    for key, value in variables.items():
        if isinstance(value, str):
            resolved[key] = value
        elif isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref in physical:
                resolved[key] = physical[ref]
            elif ref in parameters and "Default" in parameters[ref]:
                resolved[key] = str(parameters[ref]["Default"])
    return resolved
