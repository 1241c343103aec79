"""Free TCP ports for servers a test or a benchmark starts."""

from __future__ import annotations

import random
import socket


def free_port() -> int:
    """A TCP port nobody listens on right now, below the ephemeral range (32768 and up on
    Linux) that the system hands out to outgoing connections: a port picked there could be
    taken by one before the server binds it."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
