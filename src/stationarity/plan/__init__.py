"""Planning a study before anything runs: runs, checkpoints, jobs, files and resources."""

from .paths import Paths, Run
from .resources import Resources
from .study import StudyPlan, UnknownTargetError
from .workflow_plan import WorkflowPlan

__all__ = ["Paths", "Resources", "Run", "StudyPlan", "UnknownTargetError", "WorkflowPlan"]
