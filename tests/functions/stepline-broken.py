"""Always fails."""


def handler(event, context):
    raise ValueError("this function is broken")
