"""Standalone jq evaluation worker: length-prefixed JSON requests in, replies out.

Runs as a child process so that a template that never ends, or eats memory, can be killed
without harming its caller. It imports nothing from stepline (fast start) and caps its own
address space; a jq allocation failure aborts only this process.
"""

from __future__ import annotations

import json
import resource
import struct
import sys
from typing import Any

_HEADER = struct.Struct(">I")
_CACHE_SIZE = 512


def _send(stream: Any, reply: dict[str, Any]) -> None:
    data = json.dumps(reply).encode()
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _evaluate(jq: Any, cache: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    program = cache.get(request["p"])
    try:
        if program is None:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            program = cache[request["p"]] = jq.compile(request["p"])
        value = program.input_text(request["i"]).first()
        text = json.dumps(value)
    except StopIteration:
        return {"n": 1}
    except RecursionError:  # nested too deep for json.dumps: the caller says so by its bound
        return {"d": 1}
    except MemoryError:
        return {"e": "template evaluation ran out of memory"}
    except Exception as exc:  # any jq failure is reported back as text
        return {"e": str(exc) or type(exc).__name__}
    if len(text) > request["m"]:
        return {"e": f"template output is larger than {request['m']} bytes"}
    return {"r": text}


def main() -> None:
    """Serve requests from stdin until it closes."""
    memory = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a jq abort must not dump core
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    import jq

    cache: dict[str, Any] = {}
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _send(stdout, {"ready": 1})
    while True:
        header = stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        (size,) = _HEADER.unpack(header)
        _send(stdout, _evaluate(jq, cache, json.loads(stdin.read(size))))


if __name__ == "__main__":
    main()
