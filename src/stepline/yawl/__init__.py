"""YaWL, the workflow language: spec models, loading and validation, templating, state."""

from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.loader import load
from stepline.yawl.policies import CatchRule, RetryPolicy
from stepline.yawl.problems import Problem, SpecError
from stepline.yawl.spec import Block, Step, StepBody, Workflow
from stepline.yawl.templating import Limits, TemplateError, evaluate, evaluate_condition, render

__all__ = [
    "Block",
    "CatchRule",
    "Limits",
    "Problem",
    "RetryPolicy",
    "SpecError",
    "Step",
    "StepBody",
    "StepFailure",
    "TemplateError",
    "Workflow",
    "WorkflowErrorCode",
    "evaluate",
    "evaluate_condition",
    "load",
    "render",
]
