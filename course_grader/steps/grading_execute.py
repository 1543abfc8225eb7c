"""nbgrader's Execute step, made safe for a class: sandboxed, bounded, and crash-tolerant.

Stock nbgrader loses a whole submission when its kernel dies (a crash, a memory bomb that
kills the process) or hangs past an interrupt: nothing is saved, not even the cells that
ran fine before. Here the notebook stops at the cell where that happened; that cell and
every later code cell get an error output saying so, and grading goes on as usual, so
the cells judged before keep their points. A budget for the whole notebook bounds a
notebook whose every cell times out.

Limits are CPU time, not wall-clock time. A cell may use ``timeout`` seconds of the CPU
its sandbox actually received (its control group's accounting), a notebook
``notebook_timeout``: other work on the machine slows a submission down but never
changes its verdict. A wall-clock ceiling ``wall_factor`` times larger is the backstop
for code that does not compute (a sleep, a wait for input). Reaching it is the student's
doing when the sandbox spent that time idle, the machine's when it spent it waiting for
a CPU (``cgroups.Interval.starved``): only then is the error ``STARVED``, and the class
command grades the submission again, alone. Without a control group (``--without-cgroups``)
the limits are wall-clock time, as in stock nbgrader.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import TYPE_CHECKING

import zmq
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer

from course_grader.cells import error_output, grade_id, graded_tests, is_graded_test
from course_grader.isolation import live, sandbox
from course_grader.isolation.cgroups import Cgroup, Interval, Sample, overrun
from course_grader.isolation.replay import Outcome, blame_a_busy_machine, visible_part
from course_grader.judging.verdict import BUSY_NAME

PROBED = "course_probes"  # where PlanProbes leaves its live.Plan in nbgrader's resources

if TYPE_CHECKING:
    from jupyter_client import KernelClient, KernelManager

# Error names the class summary reads back from autograded notebooks.
TIMED_OUT = "GradingTimeout"  # the kernel did not stop when interrupted
INTERRUPTED = "CellTimeoutError"  # nbgrader's name for a cell interrupted at its timeout
KERNEL_DIED = "KernelDied"
KERNEL_BROKE = "KernelStoppedAnswering"  # its connection to the grader broke (junk written to its sockets)
NOT_RUN = "NotRun"
STARVED = BUSY_NAME  # a timeout while the sandbox waited for a CPU that other work held
STOPPED = (INTERRUPTED, TIMED_OUT, STARVED, KERNEL_DIED, KERNEL_BROKE, NOT_RUN)
TIMEOUTS = (INTERRUPTED, TIMED_OUT)
KILL_GRACE = 5.0  # CPU seconds past its limit, after the interrupt, before a cell's kernel is killed
WALL_GRACE = 15.0  # wall-clock seconds past a cell's ceiling (it was interrupted there) before its kernel is killed
POLL = 0.1  # seconds between two looks at a running cell's CPU time
HEARTBEAT_JOIN = 3.0  # seconds the heartbeat thread gets to stop (it wakes every second)


def _kill(cgroup: Cgroup) -> None:
    """Every process of a kernel's sandbox, killed."""
    for pid in cgroup.pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


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

    _cpu_out: float | None = None  # CPU seconds the running cell had when stopped at its limit
    _cpu_killed = False  # its kernel killed: it went on computing after the interrupt

    wall_factor = Float(
        3.0, help="The wall-clock ceiling of a cell or notebook, as a multiple of its CPU-time limit."
    ).tag(config=True)

    def _cgroup(self) -> Cgroup | None:
        """The kernel's sandbox's control group: where its CPU time is counted."""
        box = getattr(self.km, "sandbox", None)
        return getattr(box, "cgroup", None)

    def _sample(self) -> Sample | None:
        cgroup = self._cgroup()
        return cgroup.sample() if cgroup is not None else None

    def _cpu_accounted(self) -> bool:
        cgroup = self._cgroup()
        return cgroup is not None and cgroup.cpu_seconds() is not None

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        """nbclient's own timeout, in wall-clock seconds: the ceiling where CPU time is
        counted (the CPU limit is watched by ``_watch_cpu``), the limit itself elsewhere."""
        limit = super()._get_timeout(cell)
        if limit is None or not self._cpu_accounted():
            return limit
        return max(int(limit * self.wall_factor), limit)

    async def _watch_cpu(self, cgroup: Cgroup, limit: float) -> None:
        """Interrupt the cell once its sandbox has used ``limit`` CPU seconds; kill the
        kernel if it goes on computing ``KILL_GRACE`` seconds more (it caught the interrupt)."""
        start = cgroup.cpu_seconds()
        if start is None:
            return
        while (cpu := cgroup.cpu_seconds()) is None or cpu - start < limit:
            await asyncio.sleep(POLL)
        self._cpu_out = cpu - start
        assert self.km is not None
        await ensure_async(self.km.interrupt_kernel())
        while (cpu := cgroup.cpu_seconds()) is None or cpu - start < limit + KILL_GRACE:
            await asyncio.sleep(POLL)
        self._cpu_killed = True
        _kill(cgroup)  # the kernel dies; nbclient's liveness check ends the cell

    _wall_killed = False  # its kernel killed: still running past its wall-clock ceiling, interrupted

    async def _watch_wall(self, ceiling: float) -> None:
        """Kill the kernel of a cell still running ``WALL_GRACE`` seconds past its wall-clock
        ceiling: nbclient interrupted it there, and it caught the interrupt and went on waiting
        (nbclient would interrupt it again, for ever)."""
        await asyncio.sleep(ceiling + WALL_GRACE)
        self._wall_killed = True
        self._kill_sandbox()

    async def async_execute_cell(
        self,
        cell: NotebookNode,
        cell_index: int,
        execution_count: int | None = None,
        store_history: bool = True,
    ) -> NotebookNode:
        """nbclient's, with the cell's CPU time watched while it runs."""
        cgroup, limit, ceiling = self._cgroup(), self._get_cpu_limit(cell), self._get_timeout(cell)
        watches = [asyncio.ensure_future(self._watch_cpu(cgroup, limit))] if cgroup and limit else []
        if ceiling:
            watches.append(asyncio.ensure_future(self._watch_wall(float(ceiling))))
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            for watch in watches:
                watch.cancel()

    # nbclient binds the public name to the base coroutine when its class is made.
    execute_cell = run_sync(async_execute_cell)

    async def async_start_new_kernel_client(self) -> KernelClient:
        """nbclient's, with every request the grader sends to the kernel bounded in time
        (``sandbox.SEND_TIMEOUT_MS``): the client's requests, and the kernel manager's own (an
        interrupt at a timeout is a message on its control socket). A send to a kernel no
        longer connected raises ``zmq.Again``."""
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.control_channel, kc.stdin_channel):
            sandbox.bound_sends(channel.socket)
        assert self.km is not None
        self.km._connect_control_socket()
        sandbox.bound_sends(self.km._control_socket)
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    _broken = False  # the kernel's link to the grader broke: it can no longer be asked anything

    def _kill_sandbox(self) -> None:
        """Every process of the kernel's sandbox, killed: it cannot be asked to stop."""
        self._broken = True
        cgroup = self._cgroup()
        if cgroup is not None:
            _kill(cgroup)
        if self.km is not None and not self.sandbox:
            process = getattr(getattr(self.km, "provisioner", None), "process", None)
            if process is not None:
                process.kill()

    async def _async_cleanup_kernel(self) -> None:
        """nbclient's, for a kernel whose link broke too: it is killed, not asked to shut down
        (jupyter_client interrupts first, a message nobody would take)."""
        if self._broken:
            for _ in range(50):  # the kill lands; is_alive() then spares the shutdown request
                if self.km is None or not await ensure_async(self.km.is_alive()):
                    break
                await asyncio.sleep(POLL)
        self._stop_heartbeat()
        try:
            await super()._async_cleanup_kernel()
        except zmq.Again:
            pass  # its resources were cleaned up all the same (nbclient's finally)

    def _stop_heartbeat(self) -> None:
        """The heartbeat thread, stopped with a bound. It pings the kernel in a loop of its own;
        a kernel whose link broke leaves that ping waiting for ever, and jupyter_client's
        stop_channels would wait for the thread with it. A thread still stuck after the bound
        (a daemon) is left out of stop_channels; it ends with its process."""
        hb = getattr(self.kc, "_hb_channel", None)
        if hb is None or not hb.is_alive():
            return
        hb._running = False
        hb._exit.set()
        hb.join(timeout=HEARTBEAT_JOIN)
        if hb.is_alive():
            self.log.warning("the kernel's heartbeat thread did not stop: left behind")
            self.kc._hb_channel = None
        else:
            hb.close()

    _cleanup_kernel = run_sync(_async_cleanup_kernel)

    def _get_cpu_limit(self, cell: NotebookNode) -> float | None:
        return super()._get_timeout(cell)

    def _mark_cpu_limit(self, cell: NotebookNode) -> None:
        """A cell stopped at its CPU limit timed out by its own doing: its error says so in
        the words the class summary reads (a caught interrupt still gets the error)."""
        used = self._cpu_out
        if used is None:
            return
        words = f"This cell used its {self.timeout} s of CPU time ({used:.1f} s) and was interrupted."
        stopped = [o for o in cell.outputs if o.get("output_type") == "error" and o.get("ename") in TIMEOUTS]
        interrupted = [
            o for o in cell.outputs if o.get("output_type") == "error" and o.get("ename") == "KeyboardInterrupt"
        ]
        # nbclient's own wall-clock timeout may have fired at the same moment (a loaded
        # machine): its error is this limit's too
        for out in [*interrupted, *(o for o in stopped if o.get("ename") == INTERRUPTED)]:
            out.update(ename=INTERRUPTED, evalue=words, traceback=[f"{INTERRUPTED}: {words}"])
        if not stopped and not interrupted:
            cell.outputs.append(error_output(INTERRUPTED, words))

    def _mark_starved(self, cell: NotebookNode, start: Sample | None) -> None:
        """A cell that reached its wall-clock ceiling while its sandbox was mostly waiting
        for a CPU (``Interval.starved``) timed out because the machine was busy, not because
        of its code: its error says so (the class command grades such a submission again,
        alone). One that spent the time idle (a sleep) timed out by its own doing. Unknown
        (no control group): counted as busy, so that it is graded again rather than lose points."""
        timeouts = [o for o in cell.outputs if o.get("output_type") == "error" and o.get("ename") in TIMEOUTS]
        if not timeouts or self._cpu_out is not None:
            return
        end = self._sample()
        spent = Interval.between(start, end) if start is not None and end is not None else None
        if spent is not None and not spent.starved:
            words = (
                f"This cell reached its wall-clock ceiling ({spent.wall:.0f} s) using {spent.cpu:.1f} s of CPU: "
                "it was waiting or sleeping, not computing."
            )
            for out in timeouts:
                if out.get("ename") == INTERRUPTED:
                    out.update(evalue=words, traceback=[f"{INTERRUPTED}: {words}"])
            return
        had = "an unknown share of a CPU" if spent is None else spent.describe()
        for out in timeouts:
            out["ename"] = STARVED
            out["evalue"] = f"{out.get('evalue', '')} (the machine was busy: this submission had {had})".strip()
            out["traceback"] = [f"{STARVED}: {out['evalue']}"]

    def _notebook_budget(self, first: Sample | None, began: float, ceiling: float) -> tuple[str | None, str]:
        """Why the notebook's budget stops it before the next cell, and the error name to
        give the cells not run: its CPU time used up (its own doing), or its wall-clock
        ceiling reached (its own doing when it idled, the machine's when it waited for a CPU)."""
        out = overrun(self.notebook_timeout, ceiling, began, first, self._sample())
        if out is None:
            return None, NOT_RUN
        why = f"{out.why} before this cell"
        if out.starved is False:
            return why, NOT_RUN
        had = "an unknown share of a CPU" if out.spent is None else out.spent.describe()
        return f"{why} (the machine was busy: this submission had {had})", STARVED

    _link: live.KernelLink | None = None

    def _open_link(self) -> live.KernelLink:
        """The link the grader's probes question this kernel over, opened before any of
        the student's code runs (``isolation/live.py``)."""
        box = getattr(self.km, "sandbox", None)
        factor = self.wall_factor if self._cpu_accounted() else 1.0
        link = live.KernelLink(
            box.rundir if box is not None else None,
            cell_timeout=self._cell_limit(),
            factor=factor,
            uid=getattr(box, "uid", None),
        )
        try:
            reply = self.wait_for_reply(self.kc.execute(live.connect_code(link.path), silent=True, store_history=False))
            content = (reply or {}).get("content", {})
            if content.get("status") != "ok":
                raise RuntimeError(
                    "the grading kernel could not open its link to the grader: "
                    f"{content.get('ename', 'no reply')}: {content.get('evalue', '')}"
                )
            link.accept()
        except BaseException:
            link.close()
            raise
        return link

    def _run_graded_test(self, cell: NotebookNode, resources: dict, index: int) -> None:
        """A graded test cell, run once: its visible part as the student sees it, then a
        request of the grader's own in which the kernel serves the grader's probes (its
        outputs are dropped: what the student's code prints while it answers a probe never
        reaches feedback). A visible check that fails leaves the hidden tests unrun."""
        assert self._link is not None
        name = grade_id(cell)
        assert name is not None, "nbgrader refuses a grade cell without an id before Execute"
        visible = visible_part(cell.source)
        if visible.strip():
            source = cell.source
            cell.source = visible
            try:
                self.preprocess_cell(cell, resources, index)
            finally:
                cell.source = source
            if any(o.get("output_type") == "error" for o in cell.outputs):
                self._outcomes[name] = Outcome(None, "its hidden tests did not run: a visible check failed first")
                return
        serve = new_code_cell(live.SERVE)
        self._link.begin(name, cell.source)
        try:
            self.execute_cell(serve, index, store_history=False)
        finally:
            self.nb.cells[index] = cell  # nbclient puts the cell it ran in the notebook
            self._outcomes[name] = self._link.end()
        for out in serve.outputs:  # the request's own error, in the grader's words only
            if out.get("output_type") == "error":
                if out.get("ename") in (*TIMEOUTS, "KeyboardInterrupt"):
                    cell.outputs.append(error_output(str(out["ename"]), "The hidden tests were stopped."))
                else:
                    cell.outputs.append(
                        error_output("GradingError", "The kernel stopped serving the hidden tests with an error.")
                    )
                break

    def _cell_limit(self) -> float:
        """A cell's time limit in seconds (the notebook's when cells have none), for the
        questions the grader's probes ask (``live.KernelLink``)."""
        return float(self.timeout or self.notebook_timeout)

    def _blame_a_busy_machine(self, cell: NotebookNode, start: Sample | None) -> None:
        """A graded cell's probes that failed past their time on a busy machine failed
        because of the machine (``replay.blame_a_busy_machine``)."""
        name = grade_id(cell)
        end = self._sample()
        if name is not None and start is not None and end is not None:
            blame_a_busy_machine(self._outcomes, name, start, end, self._cell_limit())

    def handle_comm_msg(self, outs: list, msg: dict, cell_index: int) -> None:
        """Widgets are not graded: their messages are not kept (they could be endless)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if self.sandbox:
            self.kernel_manager_class = sandbox.SandboxedKernelManager

    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km: KernelManager | None = None) -> tuple:
        """With a ``live.Plan`` in ``resources`` (left by ``PlanProbes``), the grader's probes
        question this kernel at each graded test cell, and the plan gets every cell's outcome."""
        plan = (resources or {}).get(PROBED)
        if not isinstance(plan, live.Plan):
            return self._preprocess(nb, resources, km, probed=False)
        self._outcomes: dict[str, Outcome] = {}
        try:
            self._preprocess(nb, resources, km, probed=True)
        except BaseException as err:
            plan.future.set_exception(err)
            raise
        finally:
            if self._link is not None:
                self._link.close()
                self._link = None
        for cell in graded_tests(self.nb):  # never reached: the notebook stopped before them
            name = grade_id(cell)
            if name is not None and name not in self._outcomes:
                errors = [o for o in cell.outputs if o.get("output_type") == "error"]
                why = errors[0].get("evalue", "") if errors else "the notebook stopped before this cell"
                busy = bool(errors) and errors[0].get("ename") == STARVED
                self._outcomes[name] = Outcome(None, f"not run: {why}", stopped=True, busy=busy)
        plan.future.set_result(self._outcomes)
        return self.nb, self.resources

    def _preprocess(self, nb: NotebookNode, resources: dict | None, km: KernelManager | None, probed: bool) -> tuple:
        if self.sandbox:
            # refuse clearly rather than run a student's code unconfined
            sandbox.check(sandbox.SandboxedKernelManager.limits_in(self.config))
        # nbconvert's ExecutePreprocessor.preprocess, with a stop instead of a lost submission.
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._broken = False
        self._output_bytes: dict[int, int] = {}
        self._output_total = 0
        self._truncated: set[int] = set()
        self._check_assign_resources(resources)
        stopped: str | None = None
        stopped_as = NOT_RUN
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            self._link = self._open_link() if probed else None
            first = self._sample()
            counted = first is not None and first.cpu is not None
            ceiling = self.notebook_timeout * (self.wall_factor if counted else 1.0)
            began = time.monotonic()
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                if stopped is None:
                    stopped, stopped_as = self._notebook_budget(first, began, ceiling)
                if stopped is not None:
                    cell.outputs = [error_output(stopped_as, f"Not run: {stopped}.")]
                    continue
                start = self._sample()
                self._cpu_out = None
                self._cpu_killed = self._wall_killed = False
                test = probed and is_graded_test(cell)
                try:
                    if test:
                        self._run_graded_test(cell, resources or {}, index)
                    else:
                        self.preprocess_cell(cell, resources, index)
                except (CellTimeoutError, DeadKernelError) as stop:
                    if self._cpu_killed:  # killed at its CPU limit: whichever way nbclient noticed
                        words = f"This cell used its {self.timeout} s of CPU time and did not stop when interrupted."
                        cell.outputs.append(error_output(TIMED_OUT, words))
                        stopped = "an earlier cell ran too long and had to be stopped"
                    elif self._wall_killed:
                        words = f"This cell ran past {self._get_timeout(cell)} s and did not stop when interrupted."
                        cell.outputs.append(error_output(TIMED_OUT, words))
                        stopped = "an earlier cell ran too long and had to be stopped"
                    elif isinstance(stop, CellTimeoutError):
                        words = f"This cell ran past {self._get_timeout(cell)} s and did not stop."
                        cell.outputs.append(error_output(TIMED_OUT, words))
                        stopped = "an earlier cell ran too long and had to be stopped"
                    else:
                        cell.outputs.append(
                            error_output(
                                KERNEL_DIED, "The kernel died while running this cell (a crash, or out of memory)."
                            )
                        )
                        stopped = "the kernel died in an earlier cell"
                except zmq.Again:
                    self._kill_sandbox()
                    cell.outputs.append(
                        error_output(
                            KERNEL_BROKE,
                            "The kernel stopped taking the grader's requests at this cell (its connection to the "
                            "grader broke: did a cell write into files it did not open?).",
                        )
                    )
                    stopped = "the kernel stopped answering in an earlier cell"
                if not self._cpu_killed:
                    self._mark_cpu_limit(cell)
                self._mark_starved(cell, start)
                if test:
                    self._blame_a_busy_machine(cell, start)
        self.set_widgets_metadata()
        return self.nb, self.resources
