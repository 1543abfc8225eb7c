"""The grading sandbox on its own: what a process inside sees, may write and may use."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_grader.isolation import sandbox

pytestmark = pytest.mark.unit

LIMITS = sandbox.Limits(memory_mb=1024, cpu_seconds=30)


def run_inside(tmp_path: Path, code: str, limits: sandbox.Limits = LIMITS) -> subprocess.CompletedProcess:
    """Run ``code`` in a sandbox on ``tmp_path/work``; its private copy stays readable as
    ``run_inside.private`` until the next call."""
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    box = sandbox.Sandbox(workdir, limits)
    try:
        done = subprocess.run(
            box.command([sys.executable, "-c", code]), capture_output=True, text=True, timeout=120, check=False
        )
        run_inside.private = {p.name: p.read_bytes() for p in box.private.iterdir() if p.is_file()}
    finally:
        box.close()
    return done


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
    assert run_inside.private["mine.txt"] == b"ok", "it works in its folder ..."
    assert not (tmp_path / "work" / "mine.txt").exists(), "... a private copy: the real folder is untouched"


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

    client = NotebookClient(
        nb, timeout=60, kernel_manager_class=Recording, resources={"metadata": {"path": str(tmp_path)}}
    )
    with pytest.raises(DeadKernelError):
        client.execute()
    assert managers and not managers[0].sandbox.rundir.exists()
    assert managers[0].sandbox.cgroup is None, "its control group is gone too"


def test_it_starts_from_nothing_as_a_user_of_its_own(tmp_path, monkeypatch):
    """An empty environment, only the parts of /etc Python needs, no capability, and (the
    grader being root) an unprivileged user that owns nothing on the machine."""
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2")
    code = (
        "import os, json\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "print(json.dumps({'env': sorted(os.environ), 'etc': sorted(os.listdir('/etc')), 'uid': os.getuid(),\n"
        "                  'caps': [status[k].strip() for k in ('CapEff', 'CapPrm', 'CapBnd')],\n"
        "                  'root': sorted(os.listdir('/'))}))\n"
    )
    done = run_inside(tmp_path, code)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert "GRADER_SECRET_TOKEN" not in seen["env"] and "hunter2" not in done.stdout
    assert set(seen["env"]) <= {
        "HOME",
        "MPLCONFIGDIR",
        "IPYTHONDIR",
        "TMPDIR",
        "LANG",
        "PATH",
        "JPY_PARENT_PID",
        "PWD",
        "LC_CTYPE",
    }
    assert set(seen["etc"]) <= {*sandbox.ETC, "passwd", "group"} and "shadow" not in seen["etc"]
    assert "hostname" not in seen["etc"] and "ssh" not in seen["etc"]
    if os.geteuid() == 0:
        assert seen["uid"] >= sandbox.UID_BASE
        assert seen["caps"] == ["0000000000000000"] * 3


def test_links_in_its_folder_are_not_followed_into_its_copy(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the gradebook")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").symlink_to(secret)
    done = run_inside(tmp_path, "import os; print(sorted(os.listdir('.')))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]" and "notes.txt" not in run_inside.private


SMALL = sandbox.Limits(memory_mb=512, cpu_seconds=30, scratch_mb=32, file_mb=8, processes=16)


def test_the_whole_sandbox_is_bounded_whatever_it_forks(tmp_path):
    """Memory counted over all its processes (four children of 200 MiB pass a 512 MiB
    per-process limit, not the sandbox's), processes, scratch space and file size."""
    children = run_inside(
        tmp_path,
        (
            "import os, time\n"
            "for _ in range(4):\n"
            "    if os.fork() == 0:\n"
            "        x = bytearray(200 * 2**20); time.sleep(3); os._exit(0)\n"
            "statuses = [os.wait()[1] for _ in range(4)]\n"
            "print(sum(1 for s in statuses if os.WIFSIGNALED(s)))\n"
        ),
        SMALL,
    )
    assert children.returncode != 0 or int(children.stdout.strip() or 0) > 0, "some child must have been stopped"
    forks = run_inside(
        tmp_path,
        (
            "import os, time\n"
            "made = 0\n"
            "try:\n"
            "    for _ in range(100):\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(5); os._exit(0)\n"
            "        made += 1\n"
            "except OSError as err:\n"
            "    print('stopped', made, err.errno)\n"
        ),
        SMALL,
    )
    assert "stopped" in forks.stdout and int(forks.stdout.split()[1]) < SMALL.processes, forks.stdout + forks.stderr
    scratch = run_inside(tmp_path, "for i in range(8):\n    open(f'/tmp/part{i}', 'wb').write(b'0' * 6 * 2**20)", SMALL)
    assert scratch.returncode != 0 and "No space left" in scratch.stderr
    big = run_inside(tmp_path, "open('big', 'wb').write(b'0' * 16 * 2**20)", SMALL)
    assert big.returncode != 0, "a file past the size limit stops its writer"
    assert "big" not in run_inside.private or len(run_inside.private["big"]) <= SMALL.file_mb * 2**20


def test_what_a_kernel_prints_or_displays_is_bounded(tmp_path):
    """Past a cell's or the notebook's output budget the grader keeps nothing more (one
    line says so): a kernel that prints without end costs no memory nor a huge notebook."""
    import nbformat

    from course_grader.steps.grading_execute import GradingExecute

    show = "from IPython.display import display\nshow = lambda n, c: display({'text/plain': c * n}, raw=True)\n"
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(show + "show(3_000_000, 'x')\nshow(3_000_000, 'y')"),
            nbformat.v4.new_code_cell("for _ in range(4):\n    show(3_000_000, 'z')"),
            nbformat.v4.new_code_cell("show(1, 'still here')\nshow(2_000_000, 'w')"),
        ]
    )
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    run = GradingExecute(sandbox=False, max_cell_output_bytes=4 * 2**20, max_output_bytes=7 * 2**20, timeout=60)
    ran, _ = run.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    sizes = [len(nbformat.writes(nbformat.v4.new_notebook(cells=[c]))) for c in ran.cells]
    kept = [[o.data["text/plain"][:10] for o in c.outputs if o.output_type == "display_data"] for c in ran.cells]
    assert kept == [["x" * 10], ["z" * 10], ["still here"]], kept
    assert sizes[0] < 4.5 * 2**20 and "not kept" in ran.cells[0].outputs[-1].text
    assert sizes[1] < 4.5 * 2**20 and "not kept" in ran.cells[1].outputs[-1].text
    assert "not kept" in ran.cells[2].outputs[-1].text, "the notebook's budget is spent: nothing more is kept"


def _cpu_hogs(count: int) -> list[subprocess.Popen]:
    """Busy processes outside the grader: a machine loaded by other work."""
    spin = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"
    # each in a session of its own: the scheduler then weighs each like the sandbox (autogroups)
    return [subprocess.Popen([sys.executable, "-c", spin], start_new_session=True) for _ in range(count)]


def _grade_cells(tmp_path, sources: list[str], **options) -> list:
    import nbformat

    from course_grader.steps.grading_execute import GradingExecute

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in sources])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    ran, _ = GradingExecute(sandbox=True, **options).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return [[o for o in c.outputs if o.output_type == "error"] for c in ran.cells]


# a cell that needs 1.5 s of CPU, whatever the wall clock says
COMPUTES = "import time\nwhile time.process_time() < 1.5:\n    pass\nprint('done')"


@pytest.mark.slow
def test_a_cell_s_limit_is_cpu_time_and_a_timeout_says_whose_it_was(tmp_path):
    """A cell that spins uses up its CPU time: its own timeout. A cell that sleeps reaches
    the wall-clock ceiling without computing: its own too, and never blamed on the machine.
    A cell that computes within its CPU limit finishes, however busy the machine; one that
    the machine keeps waiting for a CPU past the ceiling is marked as timed out while the
    machine was busy (the class command grades it again alone)."""
    from course_grader.steps import grading_execute as execute

    caught = "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass"
    # the spinning cells with a ceiling that leaves their CPU limit (and the kill, 2 + 5 s of CPU)
    # room to come first, whatever else the machine runs; the sleeping one with a short ceiling
    spun = _grade_cells(tmp_path, ["while True:\n    pass", caught], timeout=2, wall_factor=10)
    errors = [spun[0], *_grade_cells(tmp_path, ["import time\ntime.sleep(60)", COMPUTES], timeout=2, wall_factor=3)]
    errors.append(spun[1])
    assert [e[-1].ename for e in errors[:2]] == [execute.INTERRUPTED, execute.INTERRUPTED], errors
    assert "used its 2 s of CPU time" in errors[0][-1].evalue
    assert "waiting or sleeping, not computing" in errors[1][-1].evalue
    assert errors[2] == [], "1.5 s of CPU is within the 2 s limit"
    assert errors[3][-1].ename == execute.TIMED_OUT and "did not stop when interrupted" in errors[3][-1].evalue
    hogs = _cpu_hogs(6 * (os.cpu_count() or 1))
    try:
        # within its CPU limit, but the wall ceiling (2 s x 1.5) comes first on a machine this busy
        busy = _grade_cells(tmp_path, ["import time\ntime.sleep(0.5)", COMPUTES], timeout=2, wall_factor=1.5)
        # the same cell, with a ceiling the busy machine leaves room for: it finishes, no error
        roomy = _grade_cells(tmp_path, [COMPUTES], timeout=2, wall_factor=30)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert busy[0] == [] and [e.ename for e in busy[1]][-1] == execute.STARVED, busy
    assert "the machine was busy" in busy[1][-1].evalue and "waiting for a CPU" in busy[1][-1].evalue
    assert roomy == [[]], roomy


@pytest.mark.slow
def test_a_kernel_that_breaks_its_link_to_the_grader_costs_only_its_own_cells(tmp_path, monkeypatch):
    """Junk written into every file the kernel holds (its sockets to the grader among them)
    breaks its link: the grader's requests then have no one to go to. Each waits a bounded
    time (``sandbox.SEND_TIMEOUT_MS``), then the kernel is killed and the rest is not run -- a
    class's grading worker is never held for ever (it was, found by the cheat corpus's
    ``forged_protocol_answers`` on an unlucky run)."""
    from course_grader.steps import grading_execute as execute

    monkeypatch.setattr(sandbox, "SEND_TIMEOUT_MS", 2000)
    junk = (
        "import os\nfor fd in range(3, 256):\n    try:\n        os.write(fd, b'{\"ok\": 0.0}\\n' * 4)\n"
        "    except OSError:\n        pass\n"
    )
    errors = _grade_cells(tmp_path, ["1 + 1", junk, "print('after')"], timeout=3, wall_factor=2)
    assert errors[0] == []
    names = [[e.ename for e in cell] for cell in errors[1:]]
    assert names[1] == [execute.NOT_RUN], errors
    # however nbclient notices (a request that cannot be sent, the interrupt at the ceiling
    # replaced by a kill): the cell is stopped with a reason, and nothing after it runs
    assert names[0] in ([execute.KERNEL_BROKE], [execute.KERNEL_DIED], [execute.TIMED_OUT]), errors
