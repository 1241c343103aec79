"""Finds an order for the console tests; the first call of each ``requestId`` fails once."""

from typing import Any

ORDERS = {7: {"id": 7, "total": 42.5, "items": ["book", "pen"]}}
_calls: dict[str, int] = {}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``{"orderId": 7, "requestId": "r1"}`` → ``{"order": {...}}`` (after one failure for r1)."""
    if event.get("orderId") is None:
        raise ValueError("orderId is required")
    key = str(event.get("requestId") or "")
    _calls[key] = _calls.get(key, 0) + 1
    if key and _calls[key] == 1:
        raise ConnectionError(f"order store not ready for {key}")
    return {"order": ORDERS.get(int(event["orderId"]))}
