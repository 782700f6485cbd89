"""The plan as the workflow uses it: a target that names nothing planned ends Snakemake with the
message alone (what exists), not an input-function traceback."""

import sys

from .study import StudyPlan, UnknownTargetError


def exits_on_unknown(method):
    """``method`` of a plan, exiting with the message of its UnknownTargetError."""

    def wrapped(*args):
        try:
            return method(*args)
        except UnknownTargetError as error:
            sys.exit(str(error))

    return wrapped


class WorkflowPlan(StudyPlan):
    """The study's plan, whose target checks end the process with their message."""

    run = exits_on_unknown(StudyPlan.run)
    checkpoint_step = exits_on_unknown(StudyPlan.checkpoint_step)
    named_target = exits_on_unknown(StudyPlan.named_target)
