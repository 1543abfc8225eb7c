"""The grading sandbox on its own: what a process inside sees, may write and may use."""

import subprocess
import sys
from pathlib import Path

import pytest

from course_grader import sandbox

LIMITS = sandbox.Limits(memory_mb=1024, cpu_seconds=30)


def run_inside(tmp_path: Path, code: str, limits: sandbox.Limits = LIMITS) -> subprocess.CompletedProcess:
    rundir, workdir = tmp_path / "run", tmp_path / "work"
    rundir.mkdir(exist_ok=True)
    workdir.mkdir(exist_ok=True)
    if not (rundir / "home").exists():
        sandbox.prepare_rundir(rundir)
    cmd = sandbox.bwrap_command([sys.executable, "-c", code], workdir=workdir, rundir=rundir, limits=limits)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_the_sandbox_starts_python_with_the_course_packages():
    sandbox.check(LIMITS)


def test_it_sees_its_own_folder_and_the_python_installation_only(tmp_path):
    secret = tmp_path / "solutions" / "answer.txt"
    secret.parent.mkdir()
    secret.write_text("42")
    repo = Path(sandbox.package_dirs()[0]).parent
    code = (
        "import os, pathlib, course_lib\n"
        f"print(os.getcwd() == {str(tmp_path / 'work')!r})\n"
        f"print(pathlib.Path({str(secret)!r}).exists(), pathlib.Path({str(repo / 'solutions')!r}).exists())\n"
        f"print(pathlib.Path({str(repo / 'gradebook.db')!r}).exists())\n"
        "open('mine.txt', 'w').write('ok')\n"
    )
    done = run_inside(tmp_path, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False", "False"]
    assert (tmp_path / "work" / "mine.txt").read_text() == "ok"


def test_the_python_installation_and_course_packages_are_read_only(tmp_path):
    target = Path(sandbox.package_dirs()[0]) / "planted.py"
    done = run_inside(tmp_path, f"open({str(target)!r}, 'w').write('x = 1')")
    assert done.returncode != 0 and "Read-only file system" in done.stderr
    assert not target.exists()


def test_a_readable_root_under_tmp_is_not_hidden_by_the_private_tmp(tmp_path, monkeypatch):
    lib = tmp_path / "venv-under-tmp"
    lib.mkdir()
    (lib / "planted_module.py").write_text("VALUE = 7\n")
    roots = sandbox.readable_roots()
    monkeypatch.setattr(sandbox, "readable_roots", lambda: [*roots, lib])
    code = f"import sys; sys.path.insert(0, {str(lib)!r}); import planted_module as m; print(m.VALUE)"
    done = run_inside(tmp_path, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7"


def test_no_network_and_bounded_memory(tmp_path):
    net = run_inside(tmp_path, "import socket; socket.create_connection(('127.0.0.1', 22), timeout=2)")
    assert net.returncode != 0 and ("Network is unreachable" in net.stderr or "refused" in net.stderr)
    bomb = run_inside(tmp_path, "x = bytearray(4 * 1024**3)")
    assert bomb.returncode != 0 and "MemoryError" in bomb.stderr


def test_a_missing_bwrap_is_explained(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.bwrap_command(["true"], workdir=Path("/tmp"), rundir=Path("/tmp"), limits=LIMITS)


def test_a_kernel_that_crashes_leaves_no_run_folder_behind(tmp_path):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; os._exit(3)")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    managers = []

    class Recording(sandbox.SandboxedKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            managers.append(self)

    client = NotebookClient(nb, timeout=60, kernel_manager_class=Recording,
                            resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(DeadKernelError):
        client.execute()
    assert managers and not managers[0]._rundir.exists()
