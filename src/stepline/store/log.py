"""The execution log: append-only items ``H#<seq>`` under the execution's partition.

Each item packs the history entries that ended since the previous item, the entries still
open, and the machine as the runner stores it: in full (``machine``), or as what changed
since the full one at position ``base`` (``delta``), the log not knowing what either holds.
An item with a delta keeps only the open entries that changed since the item before it, and
the numbers of all that are open (``openIds``); the readers here fold them back, so every item
they return has its open entries whole.
Appends are conditional on the sort key being new, so two runners racing on one execution
race on the same ``seq`` and exactly one wins.

An item stays small whatever the steps carry (step data goes up to 2 MB, an item to 400 KB):
while its packed parts are over ``PARTS_INLINE`` together, the largest goes to the payload
bucket and the item keeps a pointer (``<part>Ref``). The object's key holds the write's
token, so a runner that loses the race for a position never overwrites the winner's parts.
"""

from __future__ import annotations

import json
import secrets
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from stepline.store import keys
from stepline.store.errors import ConditionFailed, StoreError
from stepline.store.payloads import Payloads
from stepline.store.table import Condition, Item, Page, Table

# Packed parts an item keeps inline together; past it the largest go to the payload bucket. A
# write unit (1 KB) costs a quarter of an S3 PUT, so a part of several KB is cheaper there, and
# a step's large output costs an object, not a write unit per KB (nor a read unit per 4 KB at
# every resume and GetHistory).
PARTS_INLINE = 4 * 1024


class LostRace(StoreError):
    """Another runner already wrote this log position."""


@dataclass(frozen=True)
class LogItem:
    """One log position."""

    seq: int
    by: int
    at: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    open: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, Any] | None = None
    """The machine in full (or, in an ended log, its outcome)."""
    delta: dict[str, Any] | None = None
    """What changed in the machine since the full one at ``base``."""
    base: int | None = None
    chain: int = 0
    """Bytes of the deltas since ``base``, this one's included."""
    full: int = 0
    """Bytes of the full machine at ``base`` (or in this item)."""
    wake: str | None = None
    calls: bool = False
    ended: bool = False
    expires_at: int | None = None
    """Epoch second after which DynamoDB deletes the item (``history_expiry`` of ``at``)."""
    open_ids: list[int] | None = None
    """As stored: the numbers of the open entries when ``open`` holds only the changed ones
    (None: ``open`` is whole). Readers return items with ``open`` whole and this None."""
    redrive: int = 0
    """The execution's redrive count when the item was written: an ended item with a count
    below the head's was ended before the last redrive (the runner reopens the log after it)."""
    before: tuple[LogItem, ...] = ()
    """From :meth:`ExecutionLog.last` of an item with a delta: the items from its ``base`` up to
    it (exclusive), the ones a reader of its machine folds."""


class ExecutionLog:
    """Reads and appends log items; large snapshots go to the payload bucket."""

    def __init__(self, table: Table, payloads: Payloads) -> None:
        self.table = table
        self.payloads = payloads

    def last(self, execution_id: str) -> LogItem | None:
        """The newest log item, read consistently, its open entries whole; one with a delta
        comes with the items since its ``base`` (``before``), read in a second Query."""
        page = self._page(execution_id, limit=1, forward=False)
        if not page.items:
            return None
        newest = self._decode(execution_id, page.items[0])
        if newest.open_ids is None or newest.base is None:
            return newest
        before = self.span(execution_id, newest.base, newest.seq - 1)
        *_, folded = fold_open([*before, newest])
        return replace(folded, before=tuple(before))

    def closing(self, execution_id: str) -> bool:
        """Whether the newest item is neither ended nor quiet: calls under way, or entries
        open (one Query, no payload read: a part in the bucket counts as open)."""
        page = self._page(execution_id, limit=1, forward=False)
        if not page.items:
            return False
        item = page.items[0]
        if item.get("ended"):
            return False
        if item.get("calls") or item.get("openRef") or item.get("openIds") not in (None, "[]"):
            return True
        return bool(unpacked(item, "open", []))

    def begun(self, execution_id: str) -> bool:
        """Whether the runner has written anything for the execution yet."""
        return bool(self._page(execution_id, limit=1).items)

    def span(self, execution_id: str, first: int, last: int) -> list[LogItem]:
        """The items from position ``first`` to ``last``, machines loaded, oldest first."""
        low, high = keys.history_item(execution_id, first), keys.history_item(execution_id, last)
        start: dict[str, Any] | None = None
        out: list[LogItem] = []
        while True:
            page = self.table.query(
                key_condition="PK = :pk AND SK BETWEEN :low AND :high",
                values={":pk": low[keys.PK], ":low": low[keys.SK], ":high": high[keys.SK]},
                start_key=start,
                consistent=True,
            )
            out.extend(self._decode(execution_id, item) for item in page.items)
            if page.last_key is None:
                return fold_open(out)
            start = page.last_key

    def items(self, execution_id: str) -> Iterator[LogItem]:
        """Every log item, oldest first (snapshots not loaded)."""
        start: dict[str, Any] | None = None
        still_open: dict[int, dict[str, Any]] = {}
        while True:
            page = self._page(execution_id, start=start)
            for item in page.items:
                yield _folded(self._decode(execution_id, item, with_machine=False), still_open)
            if page.last_key is None:
                return
            start = page.last_key

    def _page(
        self,
        execution_id: str,
        *,
        limit: int | None = None,
        forward: bool = True,
        start: dict[str, Any] | None = None,
    ) -> Page:
        """One consistent Query over the execution's log items."""
        first = keys.history_item(execution_id, 0)
        return self.table.query(
            key_condition="PK = :pk AND begins_with(SK, :h)",
            values={":pk": first[keys.PK], ":h": keys.HISTORY_PREFIX},
            limit=limit,
            forward=forward,
            start_key=start,
            consistent=True,
        )

    def append(self, execution_id: str, item: LogItem) -> None:
        """Write a new log position; raises LostRace when it is taken."""
        # The token recognises our own write when a retry fails its condition.
        token = secrets.token_urlsafe(9)
        record: Item = {
            **keys.history_item(execution_id, item.seq),
            "wtok": token,
            "by": item.by,
            "at": item.at,
            "wake": item.wake,
            "calls": item.calls or None,
            "ended": item.ended or None,
            "base": item.base,
            "chain": item.chain or None,
            "full": item.full or None,
            "openIds": None if item.open_ids is None else json.dumps(item.open_ids),
            "redrive": item.redrive or None,
            keys.TTL_ATTRIBUTE: item.expires_at,
        }
        parts: dict[str, Any] = {"entries": item.entries, "open": item.open}
        if item.machine is not None:
            parts["machine"] = item.machine
        if item.delta is not None:
            parts["delta"] = item.delta
        packed = {name: _packed(name, value) for name, value in parts.items()}
        while sum(_size(p) for p in packed.values()) > PARTS_INLINE:
            name = max(packed, key=lambda n: _size(packed[n]))
            key = keys.payload_log_part(execution_id, item.seq, token, name)
            text = json.dumps(parts[name], ensure_ascii=False, separators=(",", ":"))
            packed[name] = {f"{name}Ref": self.payloads.put(key, text)}
        for attributes in packed.values():
            record.update(attributes)
        try:
            self.table.put(record, Condition("attribute_not_exists(SK)"))
        except ConditionFailed as exc:
            written = self.table.get(keys.history_item(execution_id, item.seq))
            if written is not None and written.get("wtok") == token:
                return  # the first attempt landed; its response was lost and retried
            raise LostRace(f"{execution_id} position {item.seq}") from exc

    def _part(self, item: Item, name: str, default: Any) -> Any:
        """One packed part of a log item, from the item or the payload bucket."""
        pointer = item.get(f"{name}Ref")
        if pointer:
            return json.loads(self.payloads.get(str(pointer)))
        return unpacked(item, name, default)

    def _decode(self, execution_id: str, item: Item, *, with_machine: bool = True) -> LogItem:
        machine = delta = None
        if with_machine:
            machine = self._part(item, "machine", None)
            delta = self._part(item, "delta", None)
        return LogItem(
            seq=int(str(item[keys.SK]).removeprefix(keys.HISTORY_PREFIX)),
            by=int(item.get("by", 0)),
            at=str(item.get("at", "")),
            entries=self._part(item, "entries", []),
            open=self._part(item, "open", []),
            machine=machine,
            delta=delta,
            base=int(item["base"]) if item.get("base") is not None else None,
            chain=int(item.get("chain") or 0),
            full=int(item.get("full") or 0),
            open_ids=json.loads(item["openIds"]) if item.get("openIds") else None,
            redrive=int(item.get("redrive") or 0),
            wake=item.get("wake"),
            calls=bool(item.get("calls")),
            ended=bool(item.get("ended")),
            expires_at=int(item[keys.TTL_ATTRIBUTE]) if keys.TTL_ATTRIBUTE in item else None,
        )


def fold_open(items: list[LogItem]) -> list[LogItem]:
    """Consecutive items (the first with its open entries whole) with every item's open
    entries whole."""
    still_open: dict[int, dict[str, Any]] = {}
    return [_folded(item, still_open) for item in items]


def _folded(item: LogItem, still_open: dict[int, dict[str, Any]]) -> LogItem:
    """``item`` with its open entries whole, ``still_open`` (those of the item before) updated."""
    if item.open_ids is None:
        still_open.clear()
    still_open.update((int(e["n"]), e) for e in item.open)
    if item.open_ids is None:
        return item
    for n in set(still_open) - set(item.open_ids):
        del still_open[n]
    whole = sorted(still_open.values(), key=lambda e: int(e["n"]))
    return replace(item, open=whole, open_ids=None)


def _size(attributes: dict[str, Any]) -> int:
    return sum(len(v.encode()) if isinstance(v, str) else len(v) for v in attributes.values())


# Compression of states and entries. Log items repeat the same field names, statuses and step
# types; a preset dictionary of them makes short texts compress too (a third smaller on the
# cost reference). Streams name their dictionary (zlib's DICTID), so one written with a later
# dictionary can never be read with this one by mistake; streams without one still read.
_DICTIONARY = b"".join(
    (
        b'"global":null,"task":null,"done":true},"children":{},"outcome":null,"steps":',
        b'"lastError":{"message":"","errorCode":"STEP_TIMEOUT"},"error":{"message":"",',
        b'"errorCode":"',
        b'"wake":"20","requested":false},"done":false},"kind":"call","kind":"wait",',
        b'"kind":"new","attempt":1,',
        b'{"id":"","root":{"path":"","scope":[],"step":"","state":{"input":{},',
        b'"global":null,"task":{"n":1,',
        b'"type":"Wait","type":"Fail","type":"While","type":"YDBDocument",',
        b'"type":"ObjectStorage","type":"YMQ","type":"YDS","type":"Postbox",',
        b'"type":"ContainerCall","type":"GRPCCall","type":"WorkflowCall",',
        b'"type":"Foreach","status":"COMPLETED","type":"Parallel","status":"COMPLETED",',
        b'"type":"Switch","status":"COMPLETED","type":"Success","status":"COMPLETED",',
        b'"type":"HTTPCall","status":"STARTED","type":"FunctionCall","status":"FAILED",',
        b'"status":"CANCELLED",',
        b'"attempts":1,"title":"","description":"","input":{"inputJson":"{\\"input\\": {\\"',
        b'"}},{"n":1,"id":"","type":"FunctionCall","status":"COMPLETED","startedAt":"2026-',
        b'T00:00:00.000000Z","attempts":1,"input":{"inputJson":"{\\"',
        b'"duration":"0.000000s","output":{"outputJson":"{\\"',
        b'"}},{"n":1,"id":"","type":"NoOp","status":"COMPLETED","startedAt":"2026-',
        b'T00:00:00.000000Z","attempts":1,"duration":"0s","output":{"outputJson":"{\\"',
    )
)
# Texts shorter than this are stored as they are (a stream has 6 bytes of framing).
COMPRESS_FROM = 24


def _packed(name: str, value: Any) -> dict[str, Any]:
    """The attribute holding ``value``: JSON text, or compressed JSON (``<name>Z``) when that is
    smaller."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text) < COMPRESS_FROM:
        return {name: text}
    packer = zlib.compressobj(9, zdict=_DICTIONARY)
    packed = packer.compress(text.encode()) + packer.flush()
    if len(packed) >= len(text.encode()):
        return {name: text}
    return {f"{name}Z": packed}


def unpacked(item: Item, name: str, default: Any) -> Any:
    """The value :func:`_packed` stored, or ``default``."""
    if f"{name}Z" in item:
        raw = item[f"{name}Z"]
        data = raw.value if hasattr(raw, "value") else raw
        unpacker = zlib.decompressobj(zdict=_DICTIONARY)
        return json.loads(unpacker.decompress(bytes(data)) + unpacker.flush())
    text = item.get(name)
    return json.loads(text) if text else default
