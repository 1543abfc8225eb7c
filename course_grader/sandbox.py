"""A grading kernel inside bubblewrap: what a submission's code can see and use.

A student's code runs in the grading kernel with the grader's rights. Without a sandbox it
can read `solutions/`, the reference cache, the gradebook and other students' folders,
or write to them. Inside `bwrap` the kernel sees only the Python installation (read-only),
the course packages it imports (read-only), its own submission folder (read-write) and a
private /tmp; it has no network, its own process tree, and bounded memory and CPU time
(`prlimit`, inherited by everything it starts). The kernel talks to the grader through
Unix sockets in a private run folder, since it has no network to reach TCP ports on.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from jupyter_client.manager import AsyncKernelManager
from traitlets import Float, Integer

# Read-only system folders a Python kernel needs (shared libraries, fonts, certificates).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
PACKAGES = ("course_lib", "course_grader")
HOW_TO_INSTALL = (
    "install bubblewrap (Debian/Ubuntu: 'sudo apt-get install bubblewrap'; './course grade' does it when run "
    "as root), or grade without a sandbox with --unsafe, knowing that students' code can then read the "
    "solutions and the gradebook"
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot start a process on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one grading kernel may use. Memory is address space, so it counts what the
    kernel maps, not only what it touches: 2 GiB leaves room for matplotlib and a class's
    largest honest notebook, and turns a memory bomb into a MemoryError."""

    memory_mb: int = 2048
    cpu_seconds: int = 600


def _outermost(paths: list[Path]) -> list[Path]:
    """Drop every path that lies inside another one of the list (bwrap binds each once)."""
    unique = sorted({p.resolve() for p in paths if p.exists()}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


@functools.cache
def package_dirs() -> tuple[Path, ...]:
    """Where a kernel started outside the course folder imports the course packages from.

    Asked of a fresh Python in an empty folder: the grader's own cwd may hold other copies
    (a course copy, say) that a kernel running in a submission folder would never see."""
    code = "import importlib.util as u;" + "".join(f"print(u.find_spec({n!r}).origin);" for n in PACKAGES)
    with tempfile.TemporaryDirectory() as empty:
        done = subprocess.run([sys.executable, "-c", code], cwd=empty, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SandboxUnavailable(f"the course packages are not installed in {sys.prefix}: {done.stderr.strip()[-300:]}")
    return tuple(Path(line).parent for line in done.stdout.split())


def readable_roots() -> list[Path]:
    """Where this Python, its packages and the course packages live: bound read-only."""
    return _outermost([Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).parent, *package_dirs()])


def bwrap_command(argv: list[str], *, workdir: Path, rundir: Path, limits: Limits) -> list[str]:
    """`argv` run inside the sandbox, in `workdir`, talking through `rundir` (made by
    `prepare_rundir`, whose stand-in for the grader package is bound in its place)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bwrap was not found: {HOW_TO_INSTALL}")
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
    for d in SYSTEM_DIRS:
        if os.path.isdir(d):
            cmd += ["--ro-bind", d, d]
    # A private /tmp first: what is bound below may live under the grader's /tmp (a venv
    # or a course copy there), and a later mount would hide it.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for root in readable_roots():
        if not any(root.is_relative_to(d) for d in SYSTEM_DIRS):
            cmd += ["--ro-bind", str(root), str(root)]
    cmd += ["--ro-bind", str(rundir / GRADER_STAND_IN), str(package_dirs()[PACKAGES.index("course_grader")])]
    cmd += ["--bind", str(rundir), str(rundir), "--bind", str(workdir), str(workdir)]
    home = rundir / "home"
    cmd += ["--setenv", "HOME", str(home), "--setenv", "MPLCONFIGDIR", str(home / "matplotlib")]
    cmd += ["--setenv", "IPYTHONDIR", str(home / "ipython"), "--setenv", "TMPDIR", "/tmp"]
    # ipykernel watches the parent pid it is given; in its own pid namespace that pid means
    # nothing, and --die-with-parent already ends the kernel with the grader. 1 (init) is
    # the value that tells ipykernel not to watch (nor to print its console banner).
    cmd += ["--setenv", "JPY_PARENT_PID", "1", "--chdir", str(workdir)]
    prlimit = shutil.which("prlimit") or "/usr/bin/prlimit"
    memory = limits.memory_mb * 1024 * 1024
    cmd += ["--", prlimit, f"--as={memory}", f"--cpu={limits.cpu_seconds}", "--core=0", "--", *argv]
    return cmd


# What a sandboxed process finds where the grader package is. The grader runs every hidden
# test itself (replay.py), outside; the hidden-test cells that a grading kernel runs only
# need to import and call their probe without an error. So the student's code can neither
# read the probes (their seeded inputs, to print into feedback) nor borrow the grader's
# helpers (a correct reverse pass, say) as its own.
GRADER_STAND_IN = "grader-stand-in"
STAND_IN_FILES = {
    "__init__.py": '"""Not the grader: it runs hidden tests itself, outside this sandbox."""\n',
    "probes/__init__.py": '''"""Hidden-test cells call course_grader.probes.<milestone>.probe_<cell>(...);
here that does nothing. The grader runs the real probe in its own process, against this notebook's code."""

import types


def _nothing(*args, **kwargs):
    return None


class _Milestone(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("probe_"):
            return _nothing
        raise AttributeError(name)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Milestone(f"{__name__}.{name}")
''',
}


def prepare_rundir(rundir: Path) -> None:
    """A home for the kernel with matplotlib's font cache already in it (building it takes
    seconds, every kernel, otherwise), and the stand-in for the grader package."""
    for name, text in STAND_IN_FILES.items():
        path = rundir / GRADER_STAND_IN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    mpl = rundir / "home" / "matplotlib"
    mpl.mkdir(parents=True)
    (rundir / "home" / "ipython").mkdir()
    for cache in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        shutil.copy(cache, mpl / cache.name)


_WORKS: set[Limits] = set()


def check(limits: Limits | None = None) -> None:
    """Start Python in the sandbox once per process (and limits); raise SandboxUnavailable
    saying why it cannot. A success is remembered, a failure is tried again next time."""
    limits = limits or Limits()
    if limits in _WORKS:
        return
    with tempfile.TemporaryDirectory(prefix="course-sandbox-check-") as tmp:
        rundir, workdir = Path(tmp, "run"), Path(tmp, "work")
        rundir.mkdir()
        workdir.mkdir()
        prepare_rundir(rundir)
        probe = (
            "import course_lib, ipykernel, course_grader, course_grader.probes as p; p.m1.probe_init(); "
            "assert not hasattr(course_grader, 'records'); open('ok', 'w').write('ok')"
        )
        cmd = bwrap_command([sys.executable, "-c", probe], workdir=workdir, rundir=rundir, limits=limits)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"bwrap could not start Python: {exc}; {HOW_TO_INSTALL}") from exc
        if done.returncode != 0 or not (workdir / "ok").exists():
            why = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise SandboxUnavailable(f"bwrap could not start Python here ({' / '.join(why)}); {HOW_TO_INSTALL}")
    _WORKS.add(limits)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the sandbox, in the folder nbclient asks for."""

    memory_mb = Integer(Limits.memory_mb, help="Address-space limit of a grading kernel, in MiB.").tag(config=True)
    cpu_seconds = Integer(Limits.cpu_seconds, help="CPU-time limit of a grading kernel, in seconds.").tag(config=True)
    start_timeout = Float(60.0).tag(config=True)

    @classmethod
    def limits_in(cls, config: Mapping[str, Any]) -> Limits:
        """The limits ``config`` gives grading kernels, read without making a kernel manager
        (which makes a run folder): the grader's replay runs the student's code under them too."""
        section = config[cls.__name__] if cls.__name__ in config else {}
        return Limits(
            memory_mb=section.get("memory_mb", cls.memory_mb.default_value),
            cpu_seconds=section.get("cpu_seconds", cls.cpu_seconds.default_value),
        )

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._rundir = Path(tempfile.mkdtemp(prefix="course-kernel-"))
        prepare_rundir(self._rundir)
        self._workdir = Path.cwd()
        self.transport = "ipc"  # no network in the sandbox: Unix sockets in the run folder
        self.ip = str(self._rundir / "kernel")
        self.connection_file = str(self._rundir / "kernel.json")

    async def _async_pre_start_kernel(self, **kw: object) -> tuple[list[str], dict]:
        cwd = kw.get("cwd")
        self._workdir = Path(str(cwd)).resolve() if cwd else Path.cwd()
        started = await super()._async_pre_start_kernel(**kw)
        # SIGINT to the kernel's process group would reach bwrap and end the whole sandbox:
        # interrupt through the control channel instead (ipykernel then signals itself).
        self.kernel_spec.interrupt_mode = "message"
        return started

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        argv = super().format_kernel_cmd(extra_arguments)
        limits = Limits(memory_mb=self.memory_mb, cpu_seconds=self.cpu_seconds)
        return bwrap_command(argv, workdir=self._workdir, rundir=self._rundir, limits=limits)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._rundir, ignore_errors=True)

    # jupyter_client binds the public name to the base method when its class is made: a
    # dead kernel's clean-up (nbclient calls this one) would skip the override.
    cleanup_resources = _async_cleanup_resources
