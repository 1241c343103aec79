"""Turn spec text (YAML 1.2 or JSON) into plain data plus the line/column of every node."""

from __future__ import annotations

import datetime
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import MappingStartEvent, SequenceStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scanner import Scanner

from stepline import bounds
from stepline.yawl.problems import Problem, SpecError

PathKey = tuple[str | int, ...]
Position = tuple[int, int]

# Guards against alias bombs ("billion laughs"): the document expanded must stay this small.
MAX_NODES = 200_000
# Mappings and lists inside one another (stepline.bounds.MAX_DEPTH): enough for a dozen nested
# Parallel/Foreach/While scopes; checked while composing, before the parser recurses further.
MAX_DEPTH = bounds.MAX_DEPTH
DEPTH_MESSAGE = bounds.depth_message("mappings and lists")

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
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
    refused: set[PathKey] = field(default_factory=set)
    """Paths whose value a problem already reports; the data holds None there."""


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
    data = builder.build(node, ())
    return Document(data, builder.positions, builder.problems, builder.refused)


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
    """JSON without duplicate keys or NaN, within the bounds, parsed fast; None to fall back to
    the YAML path (which also reports a bound overstepped, with its path and position)."""
    try:
        data = bounds.loads(text, object_pairs_hook=_unique_keys)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _positions_of(text: str) -> Positions:
    try:
        node = _yaml().compose(text)
        builder = _Builder()
        builder.build(node, ())
    except (YAMLError, SpecError):
        return Positions()
    return builder.positions


class _BoundedComposer(Composer):
    """ruamel's composer, refusing a mapping or list nested deeper than MAX_DEPTH before it
    recurses into it (the composer is recursive: a deep document would exhaust the stack)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._path: list[str | int] = []
        self._open = 0

    @property
    def path(self) -> PathKey:
        """The path of the node being composed."""
        return tuple(self._path)

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node: `index` is the key node of a mapping value, the position of a list
        item, None for the document and for mapping keys."""
        part = _path_part(index)
        if part is not None:
            self._path.append(part)
        try:
            event = self.parser.peek_event()
            if not isinstance(event, MappingStartEvent | SequenceStartEvent):
                return super().compose_node(parent, index)
            if self._open >= MAX_DEPTH:
                mark = event.start_mark
                where = format_path(tuple(self._path))
                raise SpecError([Problem(where, DEPTH_MESSAGE, mark.line + 1, mark.column + 1)])
            self._open += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._open -= 1
        finally:
            if part is not None:
                self._path.pop()


class _BoundedScanner(Scanner):
    """ruamel's scanner, refusing flow collections (``[``, ``{``) nested deeper than MAX_DEPTH.

    In flow context the scanner looks up to 1024 characters ahead for a simple key, at a cost
    that grows with the nesting; stopping at the bound keeps a ``[[[[…`` document cheap.
    """

    def fetch_flow_collection_start(self, *args: Any, **kwargs: Any) -> None:
        """Scan a ``[`` or ``{``: refused once MAX_DEPTH flow collections are open."""
        if self.flow_level >= MAX_DEPTH:
            composer = getattr(self.loader, "_composer", None)
            where = format_path(composer.path if isinstance(composer, _BoundedComposer) else ())
            mark = self.reader.get_mark()
            raise SpecError([Problem(where, DEPTH_MESSAGE, mark.line + 1, mark.column + 1)])
        super().fetch_flow_collection_start(*args, **kwargs)


def _path_part(index: Any) -> str | int | None:
    if index is None or isinstance(index, int):
        return index
    return str(getattr(index, "value", "?"))


def _yaml() -> YAML:
    yaml: YAML | None = getattr(_local, "yaml", None)
    if yaml is None:
        # The pure-Python parser: the C one (ruamel.yaml.clib) composes without the depth check.
        yaml = YAML(typ="safe", pure=True)
        yaml.version = (1, 2)
        yaml.Composer = _BoundedComposer
        yaml.Scanner = _BoundedScanner
        _local.yaml = yaml
    return yaml


def _json_or_raise(text: str, exc: YAMLError) -> Document:
    beyond = ""
    try:
        data = bounds.loads(text)
    except bounds.BoundsError as error:
        beyond = f" (read as JSON, it is {error})"
    except ValueError:
        pass
    else:
        return Document(data, Positions(), [])
    mark = getattr(exc, "problem_mark", None) if isinstance(exc, MarkedYAMLError) else None
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    message = f"not valid YAML or JSON: {reason}{beyond}"
    if mark is None:
        raise SpecError([Problem("", message)]) from None
    raise SpecError([Problem("", message, mark.line + 1, mark.column + 1)]) from None


class _Builder:
    """Walks composed YAML nodes into plain values, recording positions and problems.

    The composer caps how deep nodes nest; aliases can still build deeper values (an alias of a
    deep anchor inside another one), so the height of every node is kept and each mapping and
    list is checked against MAX_DEPTH once its children are built.
    """

    def __init__(self) -> None:
        self.positions = Positions()
        self.problems: list[Problem] = []
        self.refused: set[PathKey] = set()
        self._seen: dict[int, Any] = {}
        self._sizes: dict[int, int] = {}
        self._heights: dict[int, int] = {}
        self._count = 0

    def _problem(self, path: PathKey, message: str, node: Node) -> None:
        mark = node.start_mark
        self.problems.append(Problem(format_path(path), message, mark.line + 1, mark.column + 1))

    def build(self, node: Node, path: PathKey, depth: int = 0) -> Any:
        """The plain value of `node`, found at `path` inside `depth` mappings and lists."""
        if id(node) in self._seen:  # an alias: share the value built the first time
            self._grow(self._sizes[id(node)])
            return self._seen[id(node)]
        if id(node) in self._heights:  # an alias of a node still being built: a cycle
            raise SpecError([_at(node, path, "an alias refers to the node that contains it")])
        self._heights[id(node)] = 0
        before = self._count
        self._grow(1)
        self.positions.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            value: Any = self._mapping(node, path, depth + 1)
        elif isinstance(node, SequenceNode):
            value = [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        elif isinstance(node, ScalarNode):
            value = self._scalar(node, path)
        else:
            raise SpecError([Problem(format_path(path), "unsupported YAML node")])
        self._check_height(node, path, depth)
        self._seen[id(node)] = value
        self._sizes[id(node)] = self._count - before
        return value

    def _check_height(self, node: Node, path: PathKey, depth: int) -> None:
        if isinstance(node, SequenceNode):
            below = [self._heights.get(id(item), 0) for item in node.value]
        elif isinstance(node, MappingNode):
            below = [self._heights.get(id(value), 0) for key, value in node.value]
            # A merged mapping's entries land in this one: one level less than the source.
            below += [self._heights.get(id(source), 1) - 1 for source in _merge_sources(node)]
        else:
            return
        height = 1 + max(below, default=0)
        self._heights[id(node)] = height
        if depth + height > MAX_DEPTH:
            raise SpecError([_at(node, path, DEPTH_MESSAGE)])

    def _grow(self, nodes: int) -> None:
        # Counted as if aliases were expanded, since validation walks the expanded tree.
        self._count += nodes
        if self._count > MAX_NODES:
            raise SpecError([Problem("", f"the document has more than {MAX_NODES} nodes")])

    def _mapping(self, node: MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
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
            out[key] = self.build(value_node, (*path, key), depth)
        for source in _merge_sources(node):
            self._merge(out, source, path, depth - 1)
        return out

    def _merge(self, out: dict[str, Any], source: Node, path: PathKey, depth: int) -> None:
        value = self.build(source, path, depth)
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
        if node.tag in _NUMBER_TAGS and len(node.value) > bounds.MAX_NUMBER_CHARS:
            return self._refuse(path, bounds.number_message(len(node.value)), node)
        try:
            value = _yaml().constructor.construct_object(node, deep=True)
        except (YAMLError, ArithmeticError, LookupError, TypeError, ValueError):
            # ruamel's constructors raise these for a scalar that does not fit its tag.
            return self._refuse(path, f"unsupported YAML value for tag {node.tag}", node)
        if isinstance(value, datetime.date | datetime.datetime):
            return str(node.value)
        if isinstance(value, float) and not math.isfinite(value):
            return self._refuse(path, f"{node.value!r} is not a finite number", node)
        if value is None or isinstance(value, bool | int | float | str):
            return value
        message = f"unsupported YAML value of type {type(value).__name__}"
        return self._refuse(path, message, node)

    def _refuse(self, path: PathKey, message: str, node: Node) -> None:
        """Report the value at `path` and stand None in for it."""
        self._problem(path, message, node)
        self.refused.add(path)


def _merge_sources(node: MappingNode) -> list[Node]:
    """The mappings a mapping merges in through `<<` keys, in order."""
    sources: list[Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            is_list = isinstance(value_node, SequenceNode)
            sources.extend(value_node.value if is_list else [value_node])
    return sources


def _at(node: Node, path: PathKey, message: str) -> Problem:
    mark = node.start_mark
    return Problem(format_path(path), message, mark.line + 1, mark.column + 1)
