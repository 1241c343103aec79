"""Fails quoting the event it got (as functions that log or echo their input do)."""

import json


def handler(event, context):
    raise ValueError(f"cannot use {json.dumps(event)}")
