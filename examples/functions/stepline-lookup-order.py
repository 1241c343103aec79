"""A local function for the examples: looks up an order by id.

The first lookup of each request fails, the way a call to a database that is still waking up
might; the retry policy of ``examples/order_review.yaml`` absorbs it. Requests are told apart
by ``requestId`` when the caller sends one, else by ``orderId``. The count lives in this
module, so it starts again when ``stepline dev`` restarts or this file changes.
"""

from typing import Any

ORDERS: dict[int, dict[str, Any]] = {
    42: {"id": 42, "total": 42.5, "items": ["book", "pen"]},
    7: {"id": 7, "total": 1299.0, "items": ["laptop"]},
}

_lookups: dict[str, int] = {}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``{"orderId": 42}`` → ``{"order": {...}}``, or ``{"order": null}`` for unknown ids."""
    order_id = event.get("orderId")
    if order_id is None:
        raise ValueError("orderId is required")
    key = str(event.get("requestId") or order_id)
    _lookups[key] = _lookups.get(key, 0) + 1
    if _lookups[key] == 1:
        raise ConnectionError(f"order database not ready (lookup {key})")
    return {"order": ORDERS.get(int(order_id))}
