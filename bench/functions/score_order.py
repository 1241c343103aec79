"""Reference workflow: a fraud score for an order total."""

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``{"total": 123.5}`` → ``{"score": 0..99}``."""
    total = float(event.get("total", 0))
    return {"score": int(total * 7) % 100}
