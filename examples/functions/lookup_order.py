"""A local function for the examples: looks up an order by id."""


def handler(event, context):
    order_id = event.get("orderId")
    if order_id is None:
        raise ValueError("orderId is required")
    return {"order": {"id": order_id, "total": 42.5, "items": ["book", "pen"]}}
