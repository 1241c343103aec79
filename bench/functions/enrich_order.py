"""Reference workflow: adds the customer's tier and ten order lines to an order."""

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``{"orderId": 42, "customer": "c-7"}`` → the order with its tier and lines."""
    order_id = int(event["orderId"])
    lines = [
        {"sku": f"sku-{order_id}-{i}", "qty": 1 + i % 3, "price": 2.5 * (i + 1)} for i in range(10)
    ]
    return {"orderId": order_id, "tier": "gold" if order_id % 2 == 0 else "silver", "lines": lines}
