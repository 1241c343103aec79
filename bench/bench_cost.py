"""Cost of a workflow in AWS requests and US dollars per million transitions, on moto.

Run: python bench/bench_cost.py WORKFLOW.yaml --input JSON [--executions N] [--json]
(the same as ``python -m stepline.bench cost``); bench/reference.yaml is the reference:
python bench/bench_cost.py bench/reference.yaml --input '{"baseUrl": "$BENCH_HTTP", "orderId": 42}'
"""

from __future__ import annotations

import sys

from stepline.bench.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["cost", *sys.argv[1:]]))
