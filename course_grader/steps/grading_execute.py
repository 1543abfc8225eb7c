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
from typing import TYPE_CHECKING

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from course_grader.cells import error_output
from course_grader.isolation import sandbox

if TYPE_CHECKING:
    from jupyter_client import KernelManager

# Error names the class summary reads back from autograded notebooks.
TIMED_OUT = "GradingTimeout"  # the kernel did not stop when interrupted
INTERRUPTED = "CellTimeoutError"  # nbgrader's name for a cell interrupted at its timeout
KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
STARVED = "GradingTimeoutWhileBusy"  # a timeout while the sandbox got too little CPU to finish
STOPPED = (INTERRUPTED, TIMED_OUT, STARVED, KERNEL_DIED, NOT_RUN)
TIMEOUTS = (INTERRUPTED, TIMED_OUT)
STARVED_SHARE = 0.2  # below this share of a CPU during a timed-out cell, the machine was to blame


def _size(content: object) -> int:
    """Roughly how many bytes an output message's content holds (its strings)."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, dict):
        return sum(_size(v) for v in content.values())
    if isinstance(content, list):
        return sum(_size(v) for v in content)
    return 8


class GradingExecute(Execute):
    """Execute, in the sandbox unless `sandbox` is False (the grading command's --unsafe).

    What comes back from the kernel is bounded: outputs past a cell's or the notebook's
    budget are dropped (one line says so), and widget messages are ignored, so a kernel
    that prints or displays without end costs the grader neither memory nor a huge
    autograded notebook and feedback page."""

    sandbox = Bool(True, help="Run grading kernels inside bubblewrap (sandbox.py).").tag(config=True)
    notebook_timeout = Integer(600, help="Wall-clock seconds for a whole notebook; cells after that are not run.").tag(
        config=True
    )
    max_cell_output_bytes = Integer(8 * 2**20, help="Outputs kept per cell, in bytes.").tag(config=True)
    max_output_bytes = Integer(32 * 2**20, help="Outputs kept per notebook, in bytes.").tag(config=True)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        size = _size(msg.get("content", {}))
        cell = self._output_bytes.get(cell_index, 0) + size
        if cell > self.max_cell_output_bytes or self._output_total + size > self.max_output_bytes:
            if cell_index not in self._truncated:
                self._truncated.add(cell_index)
                outs.append(
                    new_output(
                        "stream",
                        name="stderr",
                        text=(
                            "[the rest of this cell's output was not kept: it went past the grader's limit of "
                            f"{self.max_cell_output_bytes >> 20} MiB a cell, "
                            f"{self.max_output_bytes >> 20} MiB a notebook]\n"
                        ),
                    )
                )
            return None
        self._output_bytes[cell_index] = cell
        self._output_total += size
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id: str, msg: dict) -> None:
        """A display updated in place is bounded like a new output (it replaces one)."""
        if _size(msg.get("content", {})) <= self.max_cell_output_bytes:
            super()._update_display_id(display_id, msg)

    def _cpu_seconds(self) -> float | None:
        """CPU time the kernel's sandbox has had (its control group), or None."""
        box = getattr(self.km, "sandbox", None)
        cgroup = getattr(box, "cgroup", None)
        return cgroup.cpu_seconds() if cgroup is not None else None

    def _mark_starved(self, cell: NotebookNode, started: tuple[float, float | None]) -> None:
        """A cell that timed out while its sandbox got less than STARVED_SHARE of a CPU timed
        out because the machine was busy, not because of its code: its error says so (the
        class command grades such a submission again, alone). Unknown (no control group):
        counted as busy, so that it is graded again rather than lose points."""
        timeouts = [o for o in cell.outputs if o.get("output_type") == "error" and o.get("ename") in TIMEOUTS]
        if not timeouts:
            return
        wall, cpu = time.monotonic() - started[0], self._cpu_seconds()
        share = None if cpu is None or started[1] is None or wall <= 0 else (cpu - started[1]) / wall
        if share is None or share < STARVED_SHARE:
            had = "an unknown share" if share is None else f"{100 * share:.0f} % of a CPU"
            for out in timeouts:
                out["ename"] = STARVED
                out["evalue"] = f"{out.get('evalue', '')} (the machine was busy: this submission had {had})"
                out["traceback"] = [f"{STARVED}: {out['evalue']}"]

    def handle_comm_msg(self, outs: list, msg: dict, cell_index: int) -> None:
        """Widgets are not graded: their messages are not kept (they could be endless)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if self.sandbox:
            self.kernel_manager_class = sandbox.SandboxedKernelManager

    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km: KernelManager | None = None) -> tuple:
        if self.sandbox:
            # refuse clearly rather than run a student's code unconfined
            sandbox.check(sandbox.SandboxedKernelManager.limits_in(self.config))
        # nbconvert's ExecutePreprocessor.preprocess, with a stop instead of a lost submission.
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._output_bytes: dict[int, int] = {}
        self._output_total = 0
        self._truncated: set[int] = set()
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
                    cell.outputs = [error_output(NOT_RUN, f"Not run: {stopped}.")]
                    continue
                started = (time.monotonic(), self._cpu_seconds())
                try:
                    self.preprocess_cell(cell, resources, index)
                except CellTimeoutError:
                    cell.outputs.append(
                        error_output(TIMED_OUT, f"This cell ran past {self.timeout} s and did not stop.")
                    )
                    stopped = "an earlier cell ran too long and had to be stopped"
                except DeadKernelError:
                    cell.outputs.append(
                        error_output(
                            KERNEL_DIED, "The kernel died while running this cell (a crash, or out of memory)."
                        )
                    )
                    stopped = "the kernel died in an earlier cell"
                self._mark_starved(cell, started)
        self.set_widgets_metadata()
        return self.nb, self.resources
