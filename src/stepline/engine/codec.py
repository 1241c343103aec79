"""The one codec of the execution state: a machine as records, in full or as what changed.

A machine is stored as a flat mapping of records (JSON objects):

- ``"machine"``: its own counters, the child executions it waits for, its outcome;
- ``"t:<path>"``: a thread's bookkeeping (step, task kind and counters, done) — small;
- ``"d:<path>"``: a thread's data (state, last output, result, the task's input, items or
  loop state) — as large as the workflow makes it.

:func:`snapshot` gives every record; :func:`changes` only those that changed since the last
snapshot or changes (None for a record that went), so a checkpoint costs what the advance did,
not what the machine holds: the bookkeeping of the threads that ran, and the data that changed.
Data records are compared by identity, which works because the engine never changes a value in
place (:mod:`stepline.engine.model`). :func:`apply` folds changes onto records, :func:`load`
makes the machine again. The open entries are not records: the log keeps them with each item
(GetHistory shows them), and :func:`load` takes them back.

Snapshots of the older, nested form (``root`` with its threads inside their tasks, every
nested thread with its own copy of the top-level state, ended children kept whole) load too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stepline.engine.model import (
    CallTask,
    Entry,
    FanOutTask,
    Machine,
    NewTask,
    Outcome,
    Task,
    Thread,
    WaitTask,
    WhileTask,
)

Records = dict[str, Any]

MACHINE = "machine"
META = "t:"
DATA = "d:"
# The task fields that are workflow data (stored with the thread's data, not its bookkeeping).
_TASK_DATA: dict[str, tuple[str, ...]] = {
    "call": ("input",),
    "parallel": ("items",),
    "foreach": ("items",),
    "while": ("loop", "last"),
}


# --- entries and outcomes ------------------------------------------------------------------


def entry_json(entry: Entry) -> dict[str, Any]:
    """An entry in its stored form (what the log keeps and the API renders)."""
    return entry.model_dump(by_alias=True, exclude_none=True)


def entry_of(data: Mapping[str, Any]) -> Entry:
    """An entry from its stored form."""
    return Entry.model_validate(data)


def outcome_json(outcome: Outcome | None) -> dict[str, Any] | None:
    """An outcome in its stored form: status and result, or status and error."""
    if outcome is None:
        return None
    if outcome.status == "FINISHED":
        return {"status": "FINISHED", "result": outcome.result}
    assert outcome.error is not None
    return {"status": "FAILED", "error": outcome.error.model_dump(by_alias=True)}


# --- records -------------------------------------------------------------------------------


def snapshot(machine: Machine) -> Records:
    """Every record of the machine; what changes after this is counted from here."""
    records: Records = {MACHINE: _machine_record(machine)}
    written = machine._written
    written.clear()
    for path, thread in machine.threads.items():
        records[META + path] = _meta(thread)
        records[DATA + path] = _data(thread)
        written[path] = _identity(thread)
    machine._touched.clear()
    return records


def changes(machine: Machine) -> Records:
    """The records that changed since the last :func:`snapshot` or :func:`changes` (None for
    a record that went)."""
    records: Records = {MACHINE: _machine_record(machine)}
    written = machine._written
    for path in sorted(machine._touched):
        thread = machine.threads.get(path)
        if thread is None:
            records[META + path] = records[DATA + path] = None
            written.pop(path, None)
            continue
        records[META + path] = _meta(thread)
        identity = _identity(thread)
        previous = written.get(path)
        if previous is None or any(a is not b for a, b in zip(identity, previous, strict=True)):
            records[DATA + path] = _data(thread)
            written[path] = identity
    machine._touched.clear()
    return records


def apply(records: Records, delta: Mapping[str, Any]) -> Records:
    """``records`` with ``delta`` folded in (in place; returned)."""
    for key, value in delta.items():
        if value is None:
            records.pop(key, None)
        else:
            records[key] = value
    return records


def load(records: Mapping[str, Any], still_open: Iterable[Mapping[str, Any]] = ()) -> Machine:
    """The machine the records describe, with its open entries (stored form)."""
    if "root" in records:
        machine = _legacy(records)
    else:
        own = records[MACHINE]
        threads: dict[str, Thread] = {}
        for key, meta in records.items():
            if key.startswith(META):
                path = key[len(META) :]
                threads[path] = _thread(path, meta, records.get(DATA + path) or {})
        machine = Machine(
            id=own.get("id", ""),
            n=own.get("n", 0),
            steps=own.get("steps", 0),
            outcome=Outcome.model_validate(own["outcome"]) if own.get("outcome") else None,
            children={int(k): v for k, v in own.get("children", {}).items()},
            threads=threads,
        )
    if "root" in records and isinstance(records.get("entries"), dict):
        still_open = records["entries"].values()  # the nested form may keep its own
    machine.entries = {int(e["n"]): entry_of(e) for e in still_open}
    machine._written = {path: _identity(t) for path, t in machine.threads.items()}
    return machine


def child_executions(records: Mapping[str, Any] | None) -> list[str]:
    """The child executions a stored machine waits for (its Workflow steps' children)."""
    if not records:
        return []
    own = records if "root" in records else records.get(MACHINE) or {}
    return list((own.get("children") or {}).values())


def _machine_record(machine: Machine) -> dict[str, Any]:
    record: dict[str, Any] = {"id": machine.id, "n": machine.n, "steps": machine.steps}
    if machine.children:
        record["children"] = {str(k): v for k, v in machine.children.items()}
    if machine.outcome is not None:
        record["outcome"] = outcome_json(machine.outcome)
    return record


def _meta(thread: Thread) -> dict[str, Any]:
    meta: dict[str, Any] = {"done": thread.done}
    if thread.scope:
        meta["scope"] = [list(s) for s in thread.scope]
    if thread.step is not None:
        meta["step"] = thread.step
    if thread.name is not None:
        meta["name"] = thread.name
    if thread.has_last:
        meta["hasLast"] = True
    if thread.task is not None:
        fields = _TASK_DATA.get(thread.task.kind, ())
        meta["task"] = thread.task.model_dump(exclude=set(fields) | {"has_last"})
        if isinstance(thread.task, WhileTask) and thread.task.has_last:
            meta["task"]["hasLast"] = True
    return meta


def _data(thread: Thread) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if thread.done and thread.task is None and thread.state is None:
        data["result"] = thread.result
    else:
        data["state"] = thread.state
        if thread.has_last:
            data["last"] = thread.last
    task = thread.task
    if task is not None and task.kind in _TASK_DATA:
        data["task"] = {name: getattr(task, name) for name in _TASK_DATA[task.kind]}
    return data


def _identity(thread: Thread) -> tuple[Any, ...]:
    task = thread.task
    values = () if task is None else tuple(getattr(task, n) for n in _TASK_DATA.get(task.kind, ()))
    return (thread.state, thread.last, thread.result, task, *values)


def _thread(path: str, meta: Mapping[str, Any], data: Mapping[str, Any]) -> Thread:
    task: Task | None = None
    if meta.get("task") is not None:
        fields = dict(meta["task"])
        fields.update(data.get("task") or {})
        if fields.pop("hasLast", False):
            fields["has_last"] = True
        task = _task(fields)
    return Thread(
        path=path,
        scope=[(s[0], s[1]) for s in meta.get("scope", [])],
        step=meta.get("step"),
        state=data.get("state"),
        last=data.get("last"),
        has_last=bool(meta.get("hasLast")),
        task=task,
        done=bool(meta.get("done")),
        name=meta.get("name"),
        result=data.get("result"),
    )


def _task(fields: Mapping[str, Any]) -> Task:
    kinds: dict[str, type[Task]] = {
        "new": NewTask,
        "call": CallTask,
        "wait": WaitTask,
        "parallel": FanOutTask,
        "foreach": FanOutTask,
        "while": WhileTask,
    }
    return kinds[fields["kind"]].model_validate(fields)


# --- the older, nested form ----------------------------------------------------------------


def _legacy(tree: Mapping[str, Any]) -> Machine:
    """A machine from a snapshot of the nested form."""
    threads: dict[str, Thread] = {}
    _legacy_thread(tree["root"], threads)
    return Machine(
        id=tree.get("id", ""),
        n=tree.get("n", 0),
        steps=tree.get("steps", 0),
        outcome=Outcome.model_validate(tree["outcome"]) if tree.get("outcome") else None,
        children={int(k): v for k, v in (tree.get("children") or {}).items()},
        threads=threads,
    )


def _legacy_thread(old: Mapping[str, Any], threads: dict[str, Thread]) -> str:
    """Put the nested thread ``old`` (and the threads inside its task) into ``threads``."""
    path = old["path"]
    task = old.get("task")
    threads[path] = Thread(
        path=path,
        scope=[(s[0], s[1]) for s in old.get("scope", [])],
        step=old.get("step"),
        state=old.get("state"),
        last=old.get("last"),
        has_last="last" in old,
        task=None if task is None else _legacy_task(task, f"{path}{old.get('step')}", threads),
        done=bool(old.get("done")),
        name=old.get("name"),
    )
    return str(path)


def _legacy_task(task: Mapping[str, Any], prefix: str, threads: dict[str, Thread]) -> Task:
    """The task of a nested thread; ``prefix`` is its thread's path and step (that of the
    paths of its children)."""
    kind = task["kind"]
    if kind in ("parallel", "foreach"):
        children = task["children"]
        started = task.get("next")
        if started is None:  # the oldest form marks started children
            marks = [i for i, c in enumerate(children) if c.get("started") or c["done"]]
            started = max(marks, default=-1) + 1
        items: list[Any] = []
        running: list[int] = []
        for i, child in enumerate(children):
            ended = bool(child.get("done"))
            items.append(child.get("state") if i >= started else None)
            if i >= started:
                continue
            if ended:
                child_path = (
                    f"{prefix}/{child['name']}/" if kind == "parallel" else f"{prefix}[{i}]/"
                )
                threads[child_path] = Thread(
                    path=child_path,
                    done=True,
                    name=child.get("name"),
                    result=_legacy_result(child),
                )
            else:
                _legacy_thread(child, threads)
                running.append(i)
        return FanOutTask(
            kind=kind, n=task["n"], size=len(children), items=items, next=started, running=running
        )
    if kind == "while":
        child = task.get("child")
        return WhileTask(
            n=task["n"],
            counter=task.get("counter", 0),
            loop=task.get("loop"),
            last=task.get("last"),
            has_last="last" in task,
            child=None if child is None else _legacy_thread(child, threads),
        )
    if kind == "call":
        return CallTask(
            n=task["n"],
            input=task.get("input"),
            attempt=task.get("attempt", 1),
            wake=task.get("wake"),
            requested=bool(task.get("requested")),
        )
    if kind == "wait":
        return WaitTask(n=task["n"], wake=task["wake"])
    return NewTask(n=task["n"])


def _legacy_result(child: Mapping[str, Any]) -> Any:
    if "result" in child:
        return child["result"]
    return child.get("last", child.get("state"))
