"""Running a whole notebook top to bottom in a fresh kernel, sandboxed or not.

The release step runs instructor notebooks this way (unsandboxed: the instructor's own
code), and the tests and the mutation tool run students' notebooks (sandboxed, as class
grading does).
"""

from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from course_grader.isolation import sandbox


def execute(notebook: Path, cwd: Path, timeout: float = 600.0, sandboxed: bool = False) -> nbformat.NotebookNode:
    """Run ``notebook`` top to bottom in a fresh kernel with ``cwd`` as working folder;
    ``sandboxed``: in the grading sandbox (course_grader/isolation/sandbox.py), as students' code is."""
    nb = nbformat.read(notebook, as_version=4)
    if sandboxed:
        sandbox.check()
    client = NotebookClient(
        nb,
        kernel_manager_class=sandbox.SandboxedKernelManager if sandboxed else AsyncKernelManager,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,  # no timestamps: a re-run leaves the file as it was
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # not its warnings about TCP on loopback
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    except Exception as err:  # noqa: BLE001 - a dead kernel or a timeout: what ran keeps its outputs
        nb.metadata["execution_error"] = f"{type(err).__name__}: {err}"
    return nb
