"""Generating the Python of ``extensions.proto`` (``make protos``): protoc from grpcio-tools,
with the ``google/api`` protos of googleapis-common-protos on its include path.

The generated modules are committed (``extensions_pb2``, its ``.pyi``, ``extensions_pb2_grpc``),
so neither the package nor its users need grpcio-tools; a test compares the committed
descriptor with what protoc makes of the ``.proto`` now.
"""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("extensions.proto")
ROOT = SOURCE.parents[2]
"""The import root: the ``.proto`` is ``stepline/gateway/extensions.proto`` under it, so the
generated modules import each other as ``stepline.gateway``."""


def _includes() -> list[str]:
    import google.api.annotations_pb2 as annotations  # type: ignore[import-untyped]
    import grpc_tools  # type: ignore[import-untyped]

    well_known = Path(grpc_tools.__file__).with_name("_proto")  # google/protobuf/*.proto
    google_api = Path(annotations.__file__).parents[2]
    return [f"-I{ROOT}", f"-I{google_api}", f"-I{well_known}"]


def _protoc(*arguments: str) -> None:
    from grpc_tools import protoc

    if protoc.main(["protoc", *_includes(), *arguments, str(SOURCE)]) != 0:
        raise RuntimeError(f"protoc failed on {SOURCE}")


def generate(out: Path = ROOT) -> None:
    """Write ``extensions_pb2.py``, ``.pyi`` and ``extensions_pb2_grpc.py`` under ``out``."""
    _protoc(f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}")


def descriptor_set(out: Path) -> bytes:
    """The ``FileDescriptorSet`` protoc makes of the ``.proto`` now (without its imports)."""
    _protoc(f"--descriptor_set_out={out}")
    return out.read_bytes()


if __name__ == "__main__":
    generate()
    print(f"generated from {SOURCE}", file=sys.stderr)
