"""nbgrader's Execute step, made safe for a class: sandboxed, bounded, and crash-tolerant.

Stock nbgrader loses a whole submission when its kernel dies (a crash, a memory bomb that
kills the process) or hangs past an interrupt: nothing is saved, not even the cells that
ran fine before. Here the notebook stops at the cell where that happened; that cell and
every later code cell get an error output saying so, and grading goes on as usual, so
the cells judged before keep their points. A wall-clock budget for the whole notebook
bounds a notebook whose every cell times out.
"""

from __future__ import annotations

import time

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from course_grader import sandbox

# Error names the class summary reads back from autograded notebooks.
TIMED_OUT = "GradingTimeout"  # the kernel did not stop when interrupted
INTERRUPTED = "CellTimeoutError"  # nbgrader's name for a cell interrupted at its timeout
KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
STOPPED = (INTERRUPTED, TIMED_OUT, KERNEL_DIED, NOT_RUN)


def _error(ename: str, message: str) -> NotebookNode:
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


class GradingExecute(Execute):
    """Execute, in the sandbox unless `sandbox` is False (the grading command's --unsafe)."""

    sandbox = Bool(True, help="Run grading kernels inside bubblewrap (sandbox.py).").tag(config=True)
    notebook_timeout = Integer(
        600, help="Wall-clock seconds for a whole notebook; cells after that are not run."
    ).tag(config=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if self.sandbox:
            self.kernel_manager_class = sandbox.SandboxedKernelManager

    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km: object = None) -> tuple:
        if self.sandbox:
            sandbox.check()  # refuse clearly rather than run a student's code unconfined
        # nbconvert's ExecutePreprocessor.preprocess, with a stop instead of a lost submission.
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        deadline = time.monotonic() + self.notebook_timeout
        stopped: str | None = None
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                if stopped is None and time.monotonic() > deadline:
                    stopped = f"the notebook used up its {self.notebook_timeout} s grading budget before this cell"
                if stopped is not None:
                    cell.outputs = [_error(NOT_RUN, f"Not run: {stopped}.")]
                    continue
                try:
                    self.preprocess_cell(cell, resources, index)
                except CellTimeoutError:
                    cell.outputs.append(_error(TIMED_OUT, f"This cell ran past {self.timeout} s and did not stop."))
                    stopped = "an earlier cell ran too long and had to be stopped"
                except DeadKernelError:
                    cell.outputs.append(
                        _error(KERNEL_DIED, "The kernel died while running this cell (a crash, or out of memory).")
                    )
                    stopped = "the kernel died in an earlier cell"
        self.set_widgets_metadata()
        return self.nb, self.resources
