"""Runner speed: a 100-step NoOp chain and a 100-item Foreach, start → FINISHED on moto, next
to moto's Step Functions executor running the same work as ASL (Pass chain, inline Map).

Run: python bench/bench_speed.py [--json] [--repeats N] [--size N]
(the same as ``python -m stepline.bench speed``).
"""

from __future__ import annotations

import sys

from stepline.bench.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["speed", *sys.argv[1:]]))
