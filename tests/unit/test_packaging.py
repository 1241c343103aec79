"""The Lambda layer ships the runtime package only, with the dependencies the package declares."""

import ast
import re
import tomllib
from pathlib import Path

from cfnlint.decode import decode_str

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
    client_side = {"boto3", "typer", "rich", "click"}  # boto3 comes with the Lambda runtime
    expected = {
        n: r.split("#")[0].strip() for n, r in _names(declared).items() if n not in client_side
    }
    assert _names(layer) == expected


def _layer_makefile_list(name: str) -> list[str]:
    makefile = (ROOT / "src" / "Makefile").read_text()
    match = re.search(rf"^{name} := (.*)$", makefile, re.MULTILINE)
    assert match, f"{name} is not set in src/Makefile"
    return match.group(1).split()


def test_layer_is_built_from_src_by_its_makefile() -> None:
    template = decode_str((ROOT / "template.yaml").read_text())[0]
    layer = template["Resources"]["CoreLayer"]
    assert layer["Properties"]["ContentUri"] == "src/"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert "build-CoreLayer:" in (ROOT / "src" / "Makefile").read_text()


def test_layer_leaves_out_the_cli_dev_stack_benches_and_console() -> None:
    shipped = set(_layer_makefile_list("RUNTIME_PACKAGES"))
    assert not shipped & {"cli", "dev", "bench", "console", "testing", "gateway"}
    modules = " ".join(_layer_makefile_list("RUNTIME_MODULES"))
    assert modules.startswith("$(filter-out stepline/__main__.py,")  # it starts the CLI


def _stepline_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "stepline":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("stepline."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("stepline."))
    return found


def test_what_the_layer_ships_imports_nothing_it_leaves_out() -> None:
    package = ROOT / "src" / "stepline"
    shipped = set(_layer_makefile_list("RUNTIME_PACKAGES"))
    modules = [f for f in package.glob("*.py") if f.name != "__main__.py"]
    names = shipped | {f.stem for f in modules}
    files = list(modules)
    files += [f for p in shipped for f in (package / p).rglob("*.py")]
    files += list((ROOT / "functions").glob("*/app.py"))
    missing = {
        f"{f.relative_to(ROOT)} imports stepline.{name}"
        for f in files
        for name in _stepline_imports(f)
        if name not in names
    }
    assert not missing
