"""The web console's built static files (sources in web/), and how to serve one of them."""

from __future__ import annotations

import mimetypes
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}


def static_file(path: str) -> tuple[bytes, str] | None:
    """The bytes and content type of the console file at URL ``path``, or None if none is there."""
    relative = path.split("?", 1)[0].lstrip("/") or "index.html"
    target = (ROOT / relative).resolve()
    if not target.is_relative_to(ROOT) or not target.is_file() or target.suffix == ".py":
        return None
    kind = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    return target.read_bytes(), kind or "application/octet-stream"
