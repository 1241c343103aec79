"""Benchmarks with a command line: ``python -m stepline.bench <subcommand>``.

``speed``: wall time start → FINISHED of the runner on moto next to moto's Step Functions
executor running the equivalent state machine.
"""
