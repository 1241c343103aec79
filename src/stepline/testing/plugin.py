"""The pytest plugin of the test kit (registered as ``stepline``): the ``workflow_test``
fixture makes a :class:`~stepline.testing.WorkflowTest` of a file next to the test module.

```python
def test_a_flaky_lookup_is_retried(workflow_test):
    run = workflow_test("order.yaml", mocks={"lookup": [Fail("STEP_TIMEOUT"), {"total": 1}]})
    assert run.run({"orderId": 1}).status == "FINISHED"
```
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported by the fixture: every pytest run loads this plugin
    from stepline.testing.workflow import WorkflowTest


@pytest.fixture
def workflow_test(request: pytest.FixtureRequest) -> Callable[..., WorkflowTest]:
    """Make a WorkflowTest of a workflow file (a path relative to the test module, or
    absolute) with the options WorkflowTest takes (``mocks``, ``unmocked``, …)."""
    from stepline.testing.workflow import WorkflowTest

    here = Path(request.path).parent

    def make(path: str | Path, **options: Any) -> WorkflowTest:
        return WorkflowTest.from_file(here / path, **options)

    return make
