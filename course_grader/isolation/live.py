"""One run per submission: the grader's probes question the grading kernel itself.

The student's code runs once, in the sandboxed grading kernel (``GradingExecute``). Before
any of its cells, the grader has the kernel open a link to it (``rpc.Link`` over a Unix
socket in the sandbox's run folder, accepted once and then closed to newcomers) and take
the interpreter's own functions as they are then. At each graded test cell the kernel runs
the cell's visible part as the student sees it, then, in a request of the grader's own
whose outputs are never kept, serves the link while the grader runs the probes the hidden
tests call (``replay.probe_calls``), in the grader's process, on the kernel's live objects.
So the outputs shown and the objects the probes question come from the same run.

What the replay process guaranteed holds here too: the probes and their records are the
grader's (the kernel runs no hidden-test code; the student's end answers questions whose
inputs it does not choose), nothing a probe lends survives its call (``Link.revoke``), a
probe reaches the interpreter's functions as they were before any student code, what the
kernel hands over is bounded per cell and per notebook, and a kernel that dies, hangs or
garbles the link costs only its own cells from there on: the link is then broken for good.
What the student's code prints while it answers a probe is dropped with that request's
outputs, so it never reaches feedback.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from course_grader.isolation import rpc
from course_grader.isolation.replay import GRACE, Outcome, probe_cell

SOCKET_NAME = "course-link"  # in the sandbox's run folder, bound at the same path inside it
ACCEPT_TIMEOUT = 30.0  # seconds the kernel gets to connect once asked (its start is over by then)
JOIN_GRACE = 5.0  # seconds a probe's thread gets to finish after the kernel's request ended
MODULE = "_course_link"  # where the kernel keeps its end of the link (sys.modules)
# The grader's own request at a graded test cell: the kernel serves the link until told to stop.
SERVE = f"__import__('sys').modules[{MODULE!r}].serve()"


def connect_code(path: Path) -> str:
    """What the kernel runs, silently and before any student code, to open its end of the
    link: the protocol's own source (the sandbox has no grader package), a connection to
    ``path``, the notebook's namespace to look names up in, and the interpreter's functions
    as they are now."""
    source = Path(rpc.__file__).read_text()
    return (
        "def _course_link(path, source):\n"
        "    import socket, sys, types\n"
        f"    module = types.ModuleType({MODULE!r})\n"
        "    exec(compile(source, '<course link>', 'exec'), module.__dict__)\n"
        "    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "    sock.connect(path)\n"
        "    module.link = module.Link(sock.fileno(), sock.fileno(), trusting=True, namespace=get_ipython().user_ns)\n"
        "    module.link.interpreter = module.interpreter_functions()\n"
        "    module.link.listening = False\n"
        "    module.sock = sock\n"
        "    module.serve = lambda: module.serve_once(module.link)\n"
        f"    sys.modules[{MODULE!r}] = module\n"
        f"_course_link({str(path)!r}, {source!r})\n"
        "del _course_link\n"
    )


class Plan:
    """What ``PlanProbes`` leaves for ``GradingExecute`` and ``JudgeRecords``: the outcome of
    every graded test cell, filled in by the kernel's run (``result`` waits for it)."""

    def __init__(self) -> None:
        self.future: Future[dict[str, Outcome]] = Future()

    def result(self) -> dict[str, Outcome]:
        return self.future.result()


class KernelLink:
    """The grader's end of the link to one grading kernel, for one submission."""

    def __init__(self, rundir: Path | None, *, cell_timeout: float, factor: float, uid: int | None) -> None:
        # without a sandbox (--unsafe), a folder of its own, removed when the link closes
        folder = rundir or Path(tempfile.mkdtemp(prefix="course-link-"))
        self.own = None if rundir else folder
        self.path = folder / SOCKET_NAME
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(1)
        if uid is not None:  # the sandbox's user connects (the grader is root)
            os.chown(self.path, uid, uid)
        self.cell_timeout, self.factor = cell_timeout, factor
        self.conn: socket.socket | None = None
        self.link: rpc.Link | None = None
        self.stopped: str | None = None  # why the link is broken for good
        self._thread: threading.Thread | None = None
        self._outcome: Outcome | None = None

    def accept(self) -> None:
        """The kernel's connection, asked for by ``connect_code``; then no one else's."""
        self.listener.settimeout(ACCEPT_TIMEOUT)
        try:
            self.conn, _ = self.listener.accept()
        finally:
            self.listener.close()
        self.conn.setblocking(True)
        link = rpc.Link(self.conn.fileno(), self.conn.fileno(), trusting=False)
        link.budget = self.cell_timeout
        link.ceiling = self.cell_timeout * self.factor
        link.bounded = True
        self.link = link

    def begin(self, grade_id: str, source: str) -> None:
        """Run the probes of graded cell ``grade_id`` on a thread, while the kernel serves."""
        self._outcome = None
        if self.stopped is not None or self.link is None:
            self._outcome = Outcome(None, f"not run: {self.stopped or 'the kernel never opened its link'}", True)
            return
        link = self.link
        link.start_cell()
        link.deadline = time.monotonic() + 3 * self.cell_timeout * self.factor + GRACE

        def run() -> None:
            try:
                ready = link._receive()
                if ready != {"ready": True}:
                    link._break("it did not start serving the hidden tests")
                outcome = probe_cell(link, grade_id, source)
                link._send({"done": True})
            except BaseException as err:  # noqa: BLE001 - a broken link (or anything else) ends it for good
                why = str(err) if isinstance(err, rpc.LinkBroken) else f"{type(err).__name__}: {err}"
                self.stopped = f"the student's code stopped answering the grader at cell {grade_id} ({why})"
                outcome = Outcome(None, self.stopped, stopped=True)
                self._shutdown()  # the kernel's end stops waiting for the grader's next question
            self._outcome = outcome

        self._thread = threading.Thread(target=run, name="course-probes", daemon=True)
        self._thread.start()

    def end(self) -> Outcome:
        """The outcome of the cell ``begin`` started, once the kernel's request has ended. A
        probe still waiting then never gets its answers: the link is broken for good."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(JOIN_GRACE)
            if thread.is_alive():
                self._shutdown()  # its wait ends: the other end is gone
                thread.join()
        assert self._outcome is not None
        return self._outcome

    def _shutdown(self) -> None:
        if self.conn is not None:
            try:
                self.conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """The link, closed for good (the kernel is done, or gone)."""
        self.stopped = self.stopped or "the kernel's link to the grader was closed"
        self._shutdown()
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.listener.close()
        if self.own is not None:
            shutil.rmtree(self.own, ignore_errors=True)
