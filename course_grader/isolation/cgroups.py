"""Limits the operating system enforces on everything one submission starts: a control
group per sandbox, with its memory (tmpfs scratch space included), its number of processes
and its share of the CPU.

Why: a process limit set with ``prlimit`` counts every process of the user (as root it
would stop every fork on the machine), an address-space limit is per process (four
children of 1 GiB each pass a 2 GiB limit), and nothing per process stops a submission
that forks busy workers from slowing a classmate's grading into a timeout. A control
group counts the whole sandbox, whatever it forks.

Both kinds of cgroup file system are supported: version 2 (one tree, current
distributions) and version 1 (one tree per controller: ``memory``, ``pids``, ``cpu``, as
the course's own machines and CI mount them). Creating groups needs write access to the
tree (root, or a delegated subtree); ``check()`` says clearly when there is none.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "micrograd-course-grading"  # every sandbox's group lives under this one
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")  # cpuacct: how much CPU a sandbox had


class CgroupUnavailable(RuntimeError):
    """No control group can be made here; the message says why and what to do."""


@dataclass(frozen=True)
class Budget:
    """What one sandbox, all its processes together, may use."""

    memory_mb: int = 2560  # the kernel's 2 GiB address space, its children and its /tmp
    processes: int = 64
    cpus: float = 1.0  # one core: a submission that forks busy workers slows only itself


def version(root: Path = ROOT) -> int | None:
    """2 for a unified tree, 1 for per-controller trees, None when neither is mounted."""
    if (root / "cgroup.controllers").exists():
        return 2
    if all((root / c).is_dir() for c in V1_CONTROLLERS):
        return 1
    return None


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _parents(root: Path, v: int) -> dict[str, Path]:
    """The course's parent group in each tree, by controller, made on first use (v2: one
    tree, with the controllers enabled for its children; v1: cpu and cpuacct are often one
    tree under two names)."""
    if v == 2:
        parent = root / PARENT
        if not parent.is_dir():
            parent.mkdir(exist_ok=True)
        wanted = {"memory", "pids", "cpu"}
        for level in (root, parent):
            enabled = set((level / "cgroup.subtree_control").read_text().split())
            missing = wanted - enabled
            if missing:
                _write(level / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(missing)))
        return dict.fromkeys(V1_CONTROLLERS, parent)
    parents = {c: (root / c).resolve() / PARENT for c in V1_CONTROLLERS}
    for parent in set(parents.values()):
        parent.mkdir(exist_ok=True)
    return parents


@dataclass(frozen=True)
class Sample:
    """A control group's clocks at one moment (``Cgroup.sample``)."""

    wall: float
    cpu: float | None
    delays: dict[int, float]


@dataclass(frozen=True)
class Interval:
    """What a sandbox did between two samples: wall seconds, CPU seconds it had, and seconds
    its threads waited to run. Whatever is neither is time it chose not to run (sleeping,
    waiting for input, a cell that was done)."""

    wall: float
    cpu: float
    waited: float  # by its most delayed thread

    @classmethod
    def between(cls, start: Sample, end: Sample) -> Interval | None:
        if start.cpu is None or end.cpu is None:
            return None
        # the longest wait of any one thread, not their sum: a sandbox that wakes many threads
        # at once makes them wait for each other, and summed they would look like a busy machine
        waited = max((d - start.delays.get(tid, 0.0) for tid, d in end.delays.items()), default=0.0)
        waited = max(waited, 0.0)
        return cls(end.wall - start.wall, max(end.cpu - start.cpu, 0.0), waited)

    @property
    def starved(self) -> bool:
        """The machine's fault rather than the sandbox's: of the time it was not running, it
        spent at least half waiting for a CPU. A sandbox that sleeps waits for nothing; one
        that forks busy threads to fake a wait uses CPU, and meets its CPU limit first."""
        return self.waited > 0 and self.waited >= 0.5 * max(self.wall - self.cpu, 0.0)

    def describe(self) -> str:
        return (
            f"{self.wall:.0f} s of wall-clock time, {self.cpu:.1f} s of CPU, "
            f"{self.waited:.0f} s waiting for a CPU that other work held"
        )


@dataclass(frozen=True)
class Overrun:
    """A notebook's budget used up: what ran out, in words, and what it spent meanwhile
    (None where no control group counts it)."""

    why: str
    spent: Interval | None
    cpu: bool  # its CPU time ran out: its own doing, however busy the machine

    @property
    def starved(self) -> bool | None:
        """The machine's fault (its wall-clock ceiling reached while it waited for a CPU),
        not its own; None where that cannot be told (no control group)."""
        if self.cpu:
            return False
        return None if self.spent is None else self.spent.starved


def overrun(limit: float, ceiling: float, began: float, first: Sample | None, now: Sample | None) -> Overrun | None:
    """Whether a notebook that began at ``began`` (``first``, its group's clocks then) has
    used up its ``limit`` of CPU time, or run past its ``ceiling`` of wall-clock time: the
    one rule of the grading kernel (``GradingExecute``) and the grader's run (``replay``)."""
    spent = Interval.between(first, now) if first is not None and now is not None else None
    if spent is not None and spent.cpu >= limit:
        return Overrun(f"the notebook used up its {limit:g} s of CPU time", spent, cpu=True)
    if time.monotonic() - began <= ceiling:
        return None
    return Overrun(f"the notebook ran past its {ceiling:g} s of wall-clock time", spent, cpu=False)


class Cgroup:
    """One sandbox's control group (in each tree, for version 1). Make it, start the
    sandbox through ``enter(argv)``, and ``remove()`` it afterwards: that kills whatever is
    still in it, so nothing a submission started outlives its grading."""

    def __init__(self, budget: Budget, root: Path = ROOT) -> None:
        v = version(root)
        if v is None:
            raise CgroupUnavailable(f"no cgroup file system is mounted at {root}")
        self.version, self.root = v, root
        name = f"sandbox-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.by_controller = {c: parent / name for c, parent in _parents(root, v).items()}
        self.paths = sorted(set(self.by_controller.values()))
        for path in self.paths:
            path.mkdir()
        try:
            self._limit(budget)
        except OSError:
            self.remove()
            raise

    def _limit(self, budget: Budget) -> None:
        memory = budget.memory_mb * 1024 * 1024
        period = 100_000
        quota = max(int(budget.cpus * period), 1000)
        if self.version == 2:
            group = self.by_controller["memory"]
            _write(group / "memory.max", str(memory))
            if (group / "memory.swap.max").exists():
                _write(group / "memory.swap.max", "0")
            _write(group / "pids.max", str(budget.processes))
            _write(group / "cpu.max", f"{quota} {period}")
            return
        memory_group, pids_group, cpu_group = (self.by_controller[c] for c in ("memory", "pids", "cpu"))
        _write(memory_group / "memory.limit_in_bytes", str(memory))
        swap = memory_group / "memory.memsw.limit_in_bytes"
        if swap.exists():  # only with swap accounting; memory + swap, so: no swap
            _write(swap, str(memory))
        _write(pids_group / "pids.max", str(budget.processes))
        _write(cpu_group / "cpu.cfs_period_us", str(period))
        _write(cpu_group / "cpu.cfs_quota_us", str(quota))

    def cpu_seconds(self) -> float | None:
        """CPU time the group's processes have used so far; None where the kernel does not say."""
        try:
            if self.version == 2:
                stat = dict(line.split() for line in (self.by_controller["cpu"] / "cpu.stat").read_text().splitlines())
                return int(stat["usage_usec"]) / 1e6
            return int((self.by_controller["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
        except (OSError, KeyError, ValueError):
            return None

    def run_delays(self) -> dict[int, float]:
        """Seconds each thread of the group has spent runnable but not running (waiting
        for a CPU that others held), by thread id, from ``/proc/<pid>/task/<tid>/schedstat``.
        This, not the wall clock, tells a machine too busy to run the sandbox from a
        sandbox that sleeps. Threads that ended are gone from it."""
        delays: dict[int, float] = {}
        for pid in self.pids():
            try:
                tasks = list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                continue
            for task in tasks:
                try:
                    delays[int(task.name)] = int((task / "schedstat").read_text().split()[1]) / 1e9
                except (OSError, ValueError, IndexError):
                    continue
        return delays

    def sample(self) -> Sample:
        """Where the group's clocks stand now: the wall clock, its CPU time, its threads' waits."""
        return Sample(time.monotonic(), self.cpu_seconds(), self.run_delays())

    def enter(self, argv: list[str]) -> list[str]:
        """``argv`` started inside this group: a shell puts itself in, then becomes argv."""
        procs = " ".join(f"'{p / 'cgroup.procs'}'" for p in self.paths)  # our own paths: no quoting games
        script = f'for f in {procs}; do echo $$ > "$f" || exit 125; done; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *argv]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.paths:
            try:
                found |= {int(p) for p in (path / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def memory_peak_mb(self) -> float | None:
        """The most memory the group used, for reports; None where the kernel does not say."""
        path = self.by_controller["memory"] / ("memory.peak" if self.version == 2 else "memory.max_usage_in_bytes")
        try:
            return int(path.read_text()) / 2**20
        except (OSError, ValueError):
            return None

    def remove(self, timeout: float = 60.0) -> None:
        """Kill everything left in the group, then delete it. On a loaded machine killed
        processes take their time to go, and one that forked meanwhile leaves a child: keep
        killing until none is left (a process limit bounds how many there can be)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        for path in self.paths:
            for _ in range(100):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # processes still exiting
                    time.sleep(0.02)


_CHECKED: set[Path] = set()


def check(root: Path = ROOT) -> None:
    """Make and remove one group (once per process): raise CgroupUnavailable saying why
    it cannot be done and what to do instead."""
    if root in _CHECKED:
        return
    try:
        Cgroup(Budget(memory_mb=64, processes=4), root).remove()
    except CgroupUnavailable:
        raise
    except OSError as exc:
        raise CgroupUnavailable(
            f"cannot make a control group under {root} ({exc.strerror}): grading needs write access to the "
            "cgroup file system to bound each submission's memory, processes and CPU (run the grading as root, "
            "or in a delegated cgroup subtree)"
        ) from exc
    _CHECKED.add(root)
