"""A local function for the examples: prices one basket line."""

from typing import Any

PRICES = {"book": 12.5, "pen": 1.5, "mug": 8.0, "lamp": 24.0}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``{"sku": "book", "qty": 2}`` → the line with its unit price and amount."""
    sku = event.get("sku")
    if sku not in PRICES:
        raise KeyError(f"unknown sku {sku!r}")
    qty = int(event.get("qty", 1))
    return {"sku": sku, "qty": qty, "unitPrice": PRICES[sku], "amount": PRICES[sku] * qty}
