"""Returns its event with a marker."""


def handler(event, context):
    return {"echo": event, "by": context.function_name}
