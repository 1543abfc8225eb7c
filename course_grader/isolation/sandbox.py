"""A student's code inside bubblewrap: what a submission's process can see and use.

Without a sandbox a student's code runs with the grader's rights: it can read
`solutions/`, the reference cache, the gradebook and other students' folders, write to
them, and read the grader's environment. Inside a `Sandbox` it starts from nothing:

- an empty environment (a few variables the kernel needs), the Python installation and the
  course packages read-only, only the parts of `/etc` that Python and its libraries read,
  and a `/etc/passwd` of its own;
- a private copy of the submission folder (regular files only; links and special files are
  never followed) as its working folder, a private size-bounded `/tmp`, and a run folder
  for its sockets and home: nothing it writes reaches the instructor's folders, and all of
  it is deleted afterwards;
- no network, its own process tree, and - when the grader runs as root, as it does on the
  course's machines - an unprivileged user of its own (one per grading process) with no
  capabilities;
- limits the operating system enforces: per process (address space, CPU time, file size)
  with `prlimit`, and for the whole sandbox, whatever it forks (memory with its scratch
  space, number of processes, one CPU's share), with a control group (`cgroups.py`).

The kernel talks to the grader through Unix sockets in the run folder, since it has no
network to reach TCP ports on.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import zmq
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Float, Integer

from course_grader.isolation import cgroups

if TYPE_CHECKING:
    from course_grader.isolation.cgroups import Budget  # in Limits, `cgroups` is a field

# Read-only system folders a Python kernel needs (the interpreter, shared libraries).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
# Of /etc, only what Python, its libraries and Graphviz read: the dynamic linker's cache,
# the time zone, fonts, MIME types, Debian's Python settings. No keys, no configuration of
# the machine's services, no host or user names.
ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "fonts",
    "mime.types",
    "nsswitch.conf",
    f"python3.{sys.version_info.minor}",
    "matplotlibrc",
)
PACKAGES = ("course_lib", "course_grader")
UID_BASE = 100_000  # as root, a sandbox runs as UID_BASE + the grading process's pid: its own user
HOW_TO_INSTALL = (
    "install bubblewrap (Debian/Ubuntu: 'sudo apt-get install bubblewrap'; './course grade' does it when run "
    "as root), or grade without a sandbox with --unsafe, knowing that students' code can then read the "
    "solutions and the gradebook"
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot start a process on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one sandbox may use. ``memory_mb`` is each process's address space, so it counts
    what a process maps, not only what it touches: 2 GiB leaves room for matplotlib and a
    class's largest honest notebook, and turns a memory bomb into a MemoryError. The whole
    sandbox (all its processes, its /tmp) may hold ``memory_mb + scratch_mb`` in memory."""

    memory_mb: int = 2048
    cpu_seconds: int = 600
    scratch_mb: int = 256  # the private /tmp (in memory)
    file_mb: int = 64  # the largest file it may write
    processes: int = 64
    copy_mb: int = 256  # the largest submission folder it gets a copy of
    cgroups: bool = True  # False: per-process limits only (`./course grade --without-cgroups`)

    def budget(self) -> Budget:
        return cgroups.Budget(memory_mb=self.memory_mb + self.scratch_mb, processes=self.processes)


def _spellings(path: Path) -> list[Path]:
    """``path`` as this process names it (what a Python in the sandbox looks for: ``sys.prefix``,
    ``PYTHONPATH`` and an editable install keep a home reached through a link as they were
    given) and as it really is (what links inside an installation point to), each once."""
    named = Path(os.path.normpath(os.path.abspath(path)))
    return list(dict.fromkeys([named, named.resolve()]))


def _outermost(paths: list[Path]) -> list[Path]:
    """Every spelling of the existing paths, dropping each that lies inside another one of the
    list (bwrap binds each once). Never resolved away: a folder bound only where its links
    lead is missing where the sandbox's Python looks for it."""
    unique = sorted({s for p in paths if p.exists() for s in _spellings(p)}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


# Where each course package is imported from, as a JSON list of file names ('' for one not
# found): JSON, since a course may live in any folder (spaces, any letters, even a newline).
_FIND = (
    "import importlib.util as u, json, os\n"
    f"specs = [u.find_spec(n) for n in {PACKAGES!r}]\n"
    "print(json.dumps([os.path.abspath(s.origin) if s is not None and s.origin else '' for s in specs]))\n"
)


def _find_packages(*flags: str) -> list[str]:
    """Where a fresh Python (this one, given ``flags``) imports each course package from,
    started in an empty folder: the grader's own cwd may hold other copies (a course copy,
    say) that a kernel running in a submission folder would never see."""
    with tempfile.TemporaryDirectory() as empty:
        done = subprocess.run(
            [sys.executable, *flags, "-c", _FIND],
            cwd=empty,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            check=False,
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SandboxUnavailable(
            f"{sys.executable} could not look for the course packages (exit code {done.returncode}): "
            f"{done.stderr.strip()[-300:]}"
        )
    found: list[str] = json.loads(lines[-1])
    return found


@functools.cache
def _course_packages() -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """The course packages' folders (as `package_dirs`), and the folders a sandboxed Python
    must be told to search for them: those where this environment (its ``PYTHONPATH``), which
    a sandbox starts without, is what finds them. An installed or editable course needs none."""
    found = _find_packages()
    missing = [name for name, origin in zip(PACKAGES, found, strict=True) if not origin]
    if missing:
        raise SandboxUnavailable(f"the course packages are not installed in {sys.prefix}: {', '.join(missing)}")
    alone = _find_packages("-I")  # no PYTHON* variables, no user site: as in the sandbox
    dirs = tuple(Path(os.path.normpath(origin)).parent for origin in found)
    search = tuple(dict.fromkeys(str(d.parent) for d, o, a in zip(dirs, found, alone, strict=True) if o != a))
    for folder in search:
        if os.pathsep in folder:
            raise SandboxUnavailable(
                f"the course packages are in {folder}, whose name has a {os.pathsep!r}: Python cannot be told to "
                "import from there (PYTHONPATH separates folders with it); move the course to another folder"
            )
    return dirs, search


def package_dirs() -> tuple[Path, ...]:
    """Where a kernel started outside the course folder imports the course packages from,
    as it names them (a link in the path kept)."""
    return _course_packages()[0]


def import_path() -> tuple[str, ...]:
    """The folders a sandboxed Python searches first (its ``PYTHONPATH``) so that it imports
    the course packages from `package_dirs`: none for an installed course."""
    return _course_packages()[1]


def readable_roots() -> list[Path]:
    """Where this Python (its venv and the interpreter a venv links to), its packages and the
    course's library live: bound read-only. Never the grader package: its stand-in takes its
    place, and a real copy bound anywhere would be readable under that name."""
    grader = package_dirs()[PACKAGES.index("course_grader")]
    return _outermost(
        [
            Path(sys.base_prefix),
            Path(sys.prefix),
            Path(sys.executable).parent,
            Path(os.path.realpath(sys.executable)).parent,
            *(d for d in package_dirs() if d != grader),
        ]
    )


def sandbox_uid() -> int | None:
    """The user a sandbox runs as: as root, one of its own per grading process (so that a
    process-count limit per user is per sandbox, and no file on the machine is its); not
    as root, the caller (bubblewrap then maps it into a user namespace)."""
    return UID_BASE + os.getpid() if os.geteuid() == 0 else None


def bwrap_command(
    argv: list[str],
    *,
    workdir: Path,
    rundir: Path,
    limits: Limits,
    private: Path | None = None,
    uid: int | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """`argv` run inside the sandbox, in `workdir` (`private`, a copy, bound there when
    given), talking through `rundir` (made by `prepare_rundir`, whose stand-in for the grader
    package is bound in its place), as `uid` when the grader is root, with only `env` and
    the few variables a kernel needs."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bwrap was not found: {HOW_TO_INSTALL}")
    cmd = [bwrap, "--die-with-parent", "--clearenv"]
    if uid is None:  # not root: an unprivileged user namespace is the only way in
        cmd += ["--unshare-all", "--cap-drop", "ALL"]
    else:  # root: no user namespace, so that setpriv below can become `uid` for real
        cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    for d in SYSTEM_DIRS:
        if os.path.isdir(d):
            cmd += ["--ro-bind", d, d]
    cmd += ["--perms", "0755", "--dir", "/etc"]  # traversable by the sandbox's user, listing only what is bound
    for name in ETC:
        if os.path.exists(f"/etc/{name}"):
            cmd += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    cmd += ["--ro-bind", str(rundir / "passwd"), "/etc/passwd", "--ro-bind", str(rundir / "group"), "/etc/group"]
    # A private /tmp first: what is bound below may live under the grader's /tmp (a venv
    # or a course copy there), and a later mount would hide it.
    scratch = limits.scratch_mb * 1024 * 1024
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(scratch), "--tmpfs", "/tmp"]
    made: set[Path] = {Path("/tmp")}  # the private /tmp above: 1777, as it is
    bound: list[Path] = [Path(d) for d in SYSTEM_DIRS]  # their folders are the host's

    def reach(path: Path) -> list[str]:
        """Folders leading to ``path``, made traversable (bubblewrap would make them 0700,
        closed to the sandbox's own user): empty, on the sandbox's own root. Inside a folder
        bound already they exist as they are (and cannot be made: it is read-only)."""
        dirs = []
        for parent in reversed(path.parents):
            if parent != Path("/") and parent not in made and not any(parent.is_relative_to(d) for d in bound):
                made.add(parent)
                dirs += ["--perms", "0755", "--dir", str(parent)]
        return dirs

    for root in readable_roots():
        if not any(root.is_relative_to(d) for d in bound):
            cmd += [*reach(root), "--ro-bind", str(root), str(root)]
            bound.append(root)
    # The stand-in wherever the grader package could be looked for: as it is named, and where
    # its links lead (a folder bound above may hold it under that name).
    for grader in _spellings(package_dirs()[PACKAGES.index("course_grader")]):
        cmd += [*reach(grader), "--ro-bind", str(rundir / GRADER_STAND_IN), str(grader)]
    cmd += [*reach(rundir), "--bind", str(rundir), str(rundir)]
    cmd += [*reach(workdir), "--bind", str(private or workdir), str(workdir)]
    home = rundir / "home"
    variables = {
        "HOME": str(home),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "IPYTHONDIR": str(home / "ipython"),
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        # ipykernel watches the parent pid it is given; in its own pid namespace that pid
        # means nothing, and --die-with-parent already ends the kernel with the grader. 1
        # (init) tells ipykernel not to watch (nor to print its console banner).
        "JPY_PARENT_PID": "1",
        # Only when this environment's PYTHONPATH is what finds the course packages (a course
        # copy run with it, say): the sandbox starts without it, and would import from elsewhere.
        **({"PYTHONPATH": os.pathsep.join(import_path())} if import_path() else {}),
        **(env or {}),
    }
    for name, value in variables.items():
        cmd += ["--setenv", name, value]
    cmd += ["--chdir", str(workdir), "--"]
    if uid is not None:
        cmd += [
            shutil.which("setpriv") or "/usr/bin/setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]
    prlimit = shutil.which("prlimit") or "/usr/bin/prlimit"
    cmd += [
        prlimit,
        f"--as={limits.memory_mb * 2**20}",
        f"--cpu={limits.cpu_seconds}",
        "--core=0",
        f"--fsize={limits.file_mb * 2**20}",
    ]
    if uid is not None:  # counted per user: per sandbox, since each has a user of its own
        cmd += [f"--nproc={limits.processes}"]
    return [*cmd, "--", *argv]


def private_copy(source: Path, dest: Path, limit_bytes: int) -> list[str]:
    """Copy the regular files under ``source`` to ``dest`` (made), never following a link
    nor opening a special file, up to ``limit_bytes`` in all; return what was left out."""
    dest.mkdir(parents=True, exist_ok=True)
    left: list[str] = []
    total = 0
    if not source.is_dir():
        return left
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".ipynb_checkpoints")]
        for name in [*filenames, *(d for d in dirnames if (here / d).is_symlink())]:
            path = here / name
            st = path.lstat()
            rel = path.relative_to(source)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1 or total + st.st_size > limit_bytes:
                left.append(str(rel))
                continue
            total += st.st_size
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with path.open("rb") as src, target.open("wb") as out:  # a regular file, as lstat said
                shutil.copyfileobj(src, out)
    return left


class Sandbox:
    """One sandboxed process tree and what it needs: a run folder, a private copy of the
    submission folder, its own user (as root) and control group. Start its process with
    ``command(argv)``; ``close()`` kills whatever is left in it and deletes it all."""

    def __init__(self, workdir: Path, limits: Limits, env: Mapping[str, str] | None = None) -> None:
        self.workdir, self.limits, self.env = workdir, limits, dict(env or {})
        self.uid = sandbox_uid()
        self.rundir = Path(tempfile.mkdtemp(prefix="course-sandbox-"))
        self.cgroup: cgroups.Cgroup | None = None
        try:
            prepare_rundir(self.rundir, self.uid)
            self.private = self.rundir / "work"
            private_copy(workdir, self.private, limits.copy_mb * 2**20)
            self.give(self.private)
            if limits.cgroups:
                self.cgroup = cgroups.Cgroup(limits.budget())
        except BaseException:
            self.close()
            raise

    def give(self, path: Path) -> None:
        """Let the sandbox's user own ``path`` (and what is under it)."""
        if self.uid is None:
            return
        if not path.is_dir():
            os.chown(path, self.uid, self.uid, follow_symlinks=False)
            return
        for dirpath, _, filenames in os.walk(path):
            os.chown(dirpath, self.uid, self.uid, follow_symlinks=False)
            for name in filenames:
                os.chown(Path(dirpath, name), self.uid, self.uid, follow_symlinks=False)

    def command(self, argv: list[str]) -> list[str]:
        cmd = bwrap_command(
            argv,
            workdir=self.workdir,
            rundir=self.rundir,
            limits=self.limits,
            private=self.private,
            uid=self.uid,
            env=self.env,
        )
        return self.cgroup.enter(cmd) if self.cgroup else cmd

    def close(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        shutil.rmtree(self.rundir, ignore_errors=True)


# A message to a live kernel is queued at once, however busy the machine; a send waits only
# when no kernel is connected any more (one that wrote junk into its own sockets broke its
# link): without a bound the grader would wait for it for ever.
SEND_TIMEOUT_MS = 10_000


def bound_sends(socket: zmq.Socket | None) -> None:
    """A send on ``socket`` waits ``SEND_TIMEOUT_MS`` at most, then raises ``zmq.Again``."""
    assert socket is not None
    socket.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)


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


def prepare_rundir(rundir: Path, uid: int | None = None) -> None:
    """A home for the sandbox's user with matplotlib's font cache already in it (building
    it takes seconds, every kernel, otherwise), the stand-in for the grader package (the
    grader's, read-only), and the user's own /etc/passwd and /etc/group. As root, the run
    folder and the home become the sandbox user's: its sockets are made there."""
    for name, text in STAND_IN_FILES.items():
        path = rundir / GRADER_STAND_IN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    home = rundir / "home"
    mpl = home / "matplotlib"
    mpl.mkdir(parents=True)
    (home / "ipython").mkdir()
    for cache in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        shutil.copy(cache, mpl / cache.name)
    user = uid if uid is not None else os.getuid()
    (rundir / "passwd").write_text(
        f"root:x:0:0::/root:/usr/sbin/nologin\nstudent:x:{user}:{user}::{home}:/usr/sbin/nologin\n"
    )
    (rundir / "group").write_text(f"root:x:0:\nstudent:x:{user}:\n")
    if uid is not None:
        os.chown(rundir, uid, uid)
        for dirpath, _, filenames in os.walk(home):
            os.chown(dirpath, uid, uid)
            for name in filenames:
                os.chown(Path(dirpath, name), uid, uid)


_WORKS: set[Limits] = set()


def _bwrap_runs() -> None:
    """Raise SandboxUnavailable, with how to install bubblewrap, when it is missing or cannot
    run at all: the only failures that installing it mends."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bwrap was not found: {HOW_TO_INSTALL}")
    try:
        done = subprocess.run(
            [bwrap, "--version"], capture_output=True, encoding="utf-8", errors="replace", timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"{bwrap} cannot be run ({exc}): {HOW_TO_INSTALL}") from exc
    if done.returncode != 0:
        said = " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:]) or "nothing"
        raise SandboxUnavailable(f"{bwrap} --version failed (exit code {done.returncode}: {said}): {HOW_TO_INSTALL}")


# Who says what failed, by the name it prefixes its errors with, in the order they run.
_WHO_FAILED = {
    "sh": "the shell that puts the sandbox into its control group failed",
    "bwrap": "bwrap could not set up the sandbox",
    "setpriv": "setpriv could not become the sandbox's own user",
    "prlimit": "prlimit could not start Python in the sandbox",
}


def _what_ran() -> str:
    """The paths a sandbox check depends on, for its message: a failure is often theirs."""
    folders = ", ".join(str(d) for d in package_dirs())
    return f"Python {sys.executable}, the course packages in {folders}"


def _why_not(done: subprocess.CompletedProcess[str]) -> str:
    """What failed when bwrap runs but Python in it did not do its check: bwrap's own error (it
    could not set up the sandbox) or Python's, its last lines, the exit code, the paths. No
    advice to install bubblewrap: it is installed, and reinstalling it mends none of this."""
    lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
    said = " / ".join(lines[-3:]) or "no output"
    tools = [tool for tool in _WHO_FAILED if any(line.startswith(f"{tool}: ") for line in lines)]
    if done.returncode == 0:
        what = "Python in the sandbox exited without error but did not write its check file"
    elif tools:
        what = _WHO_FAILED[tools[0]]
    else:
        what = "Python in the sandbox failed its check"
    return f"{what} (exit code {done.returncode}: {said}); {_what_ran()}"


def check(limits: Limits | None = None) -> None:
    """Start Python in a sandbox once per process (and limits); raise SandboxUnavailable
    saying why it cannot. A success is remembered, a failure is tried again next time."""
    limits = limits or Limits()
    if limits in _WORKS:
        return
    if limits.cgroups:
        try:
            cgroups.check()
        except cgroups.CgroupUnavailable as exc:
            raise SandboxUnavailable(
                f"{exc}; or grade with --without-cgroups (limits per process only: a submission that forks "
                "busy processes can then slow its classmates' grading)"
            ) from exc
    _bwrap_runs()
    with tempfile.TemporaryDirectory(prefix="course-sandbox-check-") as tmp:
        workdir = Path(tmp, "work")
        workdir.mkdir()
        probe = (
            "import course_lib, ipykernel, course_grader, course_grader.probes as p; p.m1.probe_init(); "
            "assert not hasattr(course_grader, 'records'); open('ok', 'w').write('ok')"
        )
        box = Sandbox(workdir, limits)
        try:
            cmd = box.command([sys.executable, "-c", probe])
            try:
                done = subprocess.run(
                    cmd, capture_output=True, encoding="utf-8", errors="replace", timeout=60, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise SandboxUnavailable(f"Python in the sandbox did not finish in 60 s; {_what_ran()}") from exc
            except OSError as exc:  # bwrap itself ran above: what failed is what starts it (a shell)
                raise SandboxUnavailable(f"could not start {cmd[0]}: {exc}; {_what_ran()}") from exc
            if done.returncode != 0 or not (box.private / "ok").exists():
                raise SandboxUnavailable(_why_not(done))
        finally:
            box.close()
    _WORKS.add(limits)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in a `Sandbox`, on a private copy of the folder
    nbclient asks for: nothing the kernel writes reaches that folder."""

    memory_mb = Integer(Limits.memory_mb, help="Address-space limit of a grading kernel, in MiB.").tag(config=True)
    cpu_seconds = Integer(Limits.cpu_seconds, help="CPU-time limit of a grading kernel, in seconds.").tag(config=True)
    use_cgroups = Bool(
        Limits.cgroups, help="Bound each sandbox as a whole (memory, processes, CPU) with a control group."
    ).tag(config=True)
    start_timeout = Float(60.0).tag(config=True)

    @classmethod
    def limits_in(cls, config: Mapping[str, Any]) -> Limits:
        """The limits ``config`` gives grading kernels, read without making a kernel manager:
        the grader's replay runs the student's code under them too."""
        section = config[cls.__name__] if cls.__name__ in config else {}
        return Limits(
            memory_mb=section.get("memory_mb", cls.memory_mb.default_value),
            cpu_seconds=section.get("cpu_seconds", cls.cpu_seconds.default_value),
            cgroups=section.get("use_cgroups", cls.use_cgroups.default_value),
        )

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.sandbox: Sandbox | None = None
        self.transport = "ipc"  # no network in the sandbox: Unix sockets in the run folder

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict]:
        cwd = kw.get("cwd")
        workdir = Path(str(cwd)).resolve() if cwd else Path.cwd()
        if self.sandbox is None:
            limits = Limits(memory_mb=self.memory_mb, cpu_seconds=self.cpu_seconds, cgroups=self.use_cgroups)
            self.sandbox = Sandbox(workdir, limits)
            self.ip = str(self.sandbox.rundir / "kernel")
            self.connection_file = str(self.sandbox.rundir / "kernel.json")
        started = await super()._async_pre_start_kernel(**kw)
        # SIGINT to the kernel's process group would reach bwrap and end the whole sandbox:
        # interrupt through the control channel instead (ipykernel then signals itself).
        spec = self.kernel_spec
        assert spec is not None, "the kernel's provisioner was made from its spec"
        spec.interrupt_mode = "message"
        return started

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        argv = super().format_kernel_cmd(extra_arguments)
        assert self.sandbox is not None, "the kernel's sandbox is made before its command"
        self.sandbox.give(Path(self.connection_file))  # written by now; the kernel's user reads it
        return self.sandbox.command(argv)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self.sandbox is not None:
            self.sandbox.close()

    # jupyter_client binds the public name to the base method when its class is made: a
    # dead kernel's clean-up (nbclient calls this one) would skip the override.
    cleanup_resources = _async_cleanup_resources

    async def _async_interrupt_kernel(self) -> None:
        """An interrupt here is a message on the control socket. A kernel whose link to the
        grader broke (junk written into its own sockets) cannot take it, and the send would
        wait for ever: it waits ``SEND_TIMEOUT_MS`` at most, then the kernel is killed."""
        self._connect_control_socket()
        bound_sends(self._control_socket)
        try:
            await super()._async_interrupt_kernel()
        except zmq.Again:
            self.log.warning("the kernel no longer takes messages: killed instead of interrupted")
            await self._async_kill_kernel()

    interrupt_kernel = _async_interrupt_kernel
