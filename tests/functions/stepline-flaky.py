"""Fails the first ``failures`` calls for each ``key``, then answers."""

_calls: dict[str, int] = {}


def handler(event, context):
    key = str(event.get("key"))
    _calls[key] = _calls.get(key, 0) + 1
    if _calls[key] <= int(event.get("failures", 1)):
        raise RuntimeError(f"transient failure {_calls[key]} for {key}")
    return {"key": key, "calls": _calls[key]}
