"""Turn spec text (YAML 1.2 or JSON) into plain data plus the line/column of every node."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stepline.yawl.problems import Problem, SpecError

PathKey = tuple[str | int, ...]
Position = tuple[int, int]

# Guards against alias bombs ("billion laughs"): the document expanded must stay this small.
MAX_NODES = 200_000

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_local = threading.local()


def format_path(path: PathKey) -> str:
    """Render a path as `steps.fetch.httpCall.catch[0].next`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass
class Positions:
    """Where each value (and each mapping key) starts, 1-based, by path."""

    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)
    # Computes the positions on first use (JSON input is parsed without them, for speed).
    loader: Callable[[], Positions] | None = None

    def locate(self, path: PathKey, *, key: bool = False) -> Position | None:
        """Return the position of `path` (its key if asked), else of its nearest ancestor."""
        if self.loader is not None:
            loaded, self.loader = self.loader(), None
            self.values, self.keys = loaded.values, loaded.keys
        if key and path in self.keys:
            return self.keys[path]
        while True:
            if path in self.values:
                return self.values[path]
            if not path:
                return None
            path = path[:-1]
            if path in self.keys:
                return self.keys[path]


@dataclass
class Document:
    """Parsed spec: plain JSON-like data, positions (YAML only) and structural problems."""

    data: Any
    positions: Positions
    problems: list[Problem]


def parse_document(text: str) -> Document:
    """Parse YAML 1.2 (JSON is a subset) safely; raise SpecError when it cannot be parsed."""
    if text.lstrip().startswith("{"):
        data = _strict_json(text)
        if data is not None:
            return Document(data, Positions(loader=lambda: _positions_of(text)), [])
    try:
        node = _yaml().compose(text)
    except YAMLError as exc:
        return _json_or_raise(text, exc)
    if node is None:
        raise SpecError([Problem("", "the document is empty", 1, 1)])
    builder = _Builder()
    try:
        data = builder.build(node, ())
    except RecursionError:
        raise SpecError([Problem("", "the document is nested too deeply")]) from None
    return Document(data, builder.positions, builder.problems)


class _NotStrictJson(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _NotStrictJson("duplicate key")
    return out


def _reject_constant(name: str) -> Any:
    raise _NotStrictJson(name)


def _strict_json(text: str) -> dict[str, Any] | None:
    """JSON without duplicate keys or NaN, parsed fast; None to fall back to the YAML path."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _positions_of(text: str) -> Positions:
    try:
        node = _yaml().compose(text)
        builder = _Builder()
        builder.build(node, ())
    except (YAMLError, SpecError, RecursionError):
        return Positions()
    return builder.positions


def _yaml() -> YAML:
    yaml: YAML | None = getattr(_local, "yaml", None)
    if yaml is None:
        yaml = YAML(typ="safe")
        yaml.version = (1, 2)
        _local.yaml = yaml
    return yaml


def _json_or_raise(text: str, exc: YAMLError) -> Document:
    try:
        data = json.loads(text)
    except ValueError:
        pass
    else:
        return Document(data, Positions(), [])
    mark = getattr(exc, "problem_mark", None) if isinstance(exc, MarkedYAMLError) else None
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        raise SpecError([Problem("", f"not valid YAML or JSON: {reason}")]) from None
    problem = Problem("", f"not valid YAML or JSON: {reason}", mark.line + 1, mark.column + 1)
    raise SpecError([problem]) from None


class _Builder:
    """Walks composed YAML nodes into plain values, recording positions and problems."""

    def __init__(self) -> None:
        self.positions = Positions()
        self.problems: list[Problem] = []
        self._seen: dict[int, Any] = {}
        self._sizes: dict[int, int] = {}
        self._count = 0

    def _problem(self, path: PathKey, message: str, node: Node) -> None:
        mark = node.start_mark
        self.problems.append(Problem(format_path(path), message, mark.line + 1, mark.column + 1))

    def build(self, node: Node, path: PathKey) -> Any:
        if id(node) in self._seen:  # an alias: share the value built the first time
            self._grow(self._sizes[id(node)])
            return self._seen[id(node)]
        before = self._count
        self._grow(1)
        self.positions.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            value: Any = self._mapping(node, path)
        elif isinstance(node, SequenceNode):
            value = [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        elif isinstance(node, ScalarNode):
            value = self._scalar(node, path)
        else:
            raise SpecError([Problem(format_path(path), "unsupported YAML node")])
        self._seen[id(node)] = value
        self._sizes[id(node)] = self._count - before
        return value

    def _grow(self, nodes: int) -> None:
        # Counted as if aliases were expanded, since validation walks the expanded tree.
        self._count += nodes
        if self._count > MAX_NODES:
            raise SpecError([Problem("", f"the document has more than {MAX_NODES} nodes")])

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(
                    value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                )
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in out:
                self._problem((*path, key), f"duplicate key {key!r}", key_node)
                continue
            self.positions.keys[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = self.build(value_node, (*path, key))
        for source in merged:
            self._merge(out, source, path)
        return out

    def _merge(self, out: dict[str, Any], source: Node, path: PathKey) -> None:
        value = self.build(source, path)
        if not isinstance(value, dict):
            self._problem(path, "a merge key (<<) must name a mapping", source)
            return
        for key, item in value.items():
            out.setdefault(key, item)

    def _key(self, node: Node, path: PathKey) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _STR_TAG:
            return str(node.value)
        self._problem(path, "mapping keys must be strings", node)
        return None

    def _scalar(self, node: ScalarNode, path: PathKey) -> Any:
        if node.tag == _STR_TAG:
            return str(node.value)
        try:
            value = _yaml().constructor.construct_object(node, deep=True)
        except YAMLError:
            self._problem(path, f"unsupported YAML tag {node.tag}", node)
            return None
        if isinstance(value, datetime.date | datetime.datetime):
            return str(node.value)
        if value is None or isinstance(value, bool | int | float | str):
            return value
        self._problem(path, f"unsupported YAML value of type {type(value).__name__}", node)
        return None
