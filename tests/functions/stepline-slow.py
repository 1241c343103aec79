"""Takes ``seconds`` to answer."""

import time


def handler(event, context):
    time.sleep(float(event.get("seconds", 1)))
    return {"slept": event.get("seconds", 1)}
