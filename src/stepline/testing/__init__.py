"""Drivers shared by the tests, the benchmarks and the dev stack: run executions to their end
in this process (``drive``) and hand handlers a Lambda context (``context``).

Not part of the Lambda layer: nothing deployed imports it.
"""

from stepline.testing.context import LambdaContext

__all__ = ["LambdaContext"]
