"""Autograde step 2, before the kernel runs: the grader runs every hidden test's probe.

The probes run in the grader's process against the student's code in a sandboxed process
of its own (``isolation/replay.py``), while the notebook's kernel runs alongside; the
outcomes wait in nbgrader's resources for ``JudgeRecords``.
"""

from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from course_grader.isolation import replay
from course_grader.isolation.sandbox import SandboxedKernelManager
from course_grader.steps.grading_execute import GradingExecute

REPLAYED = "course_replay"  # where ReplayProbes leaves its outcomes in nbgrader's resources


class ReplayProbes(NbGraderPreprocessor):
    """nbgrader autograde preprocessor, before ``Execute``: the grader runs every hidden
    test's probe itself, against the student's code in a sandboxed process of its own
    (``isolation/replay.py``), while the submission's folder is still as handed in.

    That process runs under the grading kernel's own settings (``GradingExecute``'s
    sandbox, timeout and notebook_timeout, ``SandboxedKernelManager``'s limits), so one
    setting - in nbgrader_config.py, or ``--Execute.timeout`` on the command line - governs
    both places a student's code runs."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        kernel = GradingExecute(config=self.config)  # its settings only: no kernel starts
        folder = Path(resources.get("metadata", {}).get("path") or ".").resolve()
        resources[REPLAYED] = replay.start(  # runs while the kernel does; JudgeRecords waits
            nb,
            folder,
            sandboxed=kernel.sandbox,
            cell_timeout=float(kernel.timeout or kernel.notebook_timeout),  # None: no per-cell limit
            notebook_timeout=float(kernel.notebook_timeout),
            limits=SandboxedKernelManager.limits_in(self.config),
            wall_factor=kernel.wall_factor,
        )
        return nb, resources
