"""The course's layout: its milestones in order, what each ships, which are released, and
where every file lives. One object, ``Course``, answers all of it; nothing else in the
grader builds a path by hand.

Folders are nbgrader's: ``Course`` wraps nbgrader's own ``CourseDirectory`` configured from
the course's ``nbgrader_config.py`` (``source_directory = "solutions"``,
``release_directory = "notebooks"``, nbgrader's ``submitted``/``autograded``/``feedback``),
so renaming a folder there renames it for the release step, the judge and class grading.

A milestone's answers reach students only with a later milestone's release:
``m2_backward`` ships milestone 1's solution as ``engine.py``, ``m3_mlp`` milestones 1-2,
and so on. So the instructor releases milestones one at a time, in course order, and the
list of what is released lives in the repository (``solutions/released.txt``, committed
like everything else the instructor decides). The student bundle, the workspace that
``./course open`` fills and nbgrader's ``release_assignment`` carry exactly the milestones
on that list.

Adding a milestone: its name in ``MILESTONES`` (and in ``SHIPPED`` if later milestones
import its code), then its notebook, probes and variants (ARCHITECTURE.md).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent  # this repository
MILESTONES = ("m1_value", "m2_backward", "m3_mlp", "m4_training", "m5_tensors", "m6_attention", "m7_discrete")
# A shipped module -> the milestones whose exported solution cells make it, and so the
# first milestone that ships it is the one after the last of them (engine.py: m3_mlp).
SHIPPED = {"engine.py": ("m1_value", "m2_backward"), "nn.py": ("m3_mlp",), "tensor.py": ("m5_tensors",)}
RELEASED_NAME = "released.txt"
HEADER = """\
# The milestones students have, in course order: one per line.
# `./course release <milestone>` adds the next one. The student bundle (dist/student),
# `./course open`'s workspace and `nbgrader release_assignment` carry exactly these: a
# milestone's answers reach students only when the next milestone is released, since it
# ships them (m2_backward's engine.py is milestone 1's solution).
"""


class ReleaseOrderError(ValueError):
    """The released list cannot be read or changed as asked; the message says why."""


def course_config(root: Path, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """The nbgrader configuration of the course at ``root``: its nbgrader_config.py (nbgrader's
    defaults with this course's two renamed folders where there is none), rooted at ``root``,
    with ``overrides`` (section -> trait -> value: a run's options) on top."""
    config = Config()
    config.CourseDirectory.source_directory = "solutions"
    config.CourseDirectory.release_directory = "notebooks"
    if (root / "nbgrader_config.py").is_file():
        from traitlets.config.loader import PyFileConfigLoader

        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    config.merge(Config({section: dict(traits) for section, traits in (overrides or {}).items()}))
    return config


@dataclass(frozen=True)
class Course:
    """The course at ``root``: every path, and the milestones' order and release state."""

    root: Path
    directory: CourseDirectory

    @classmethod
    def at(cls, root: Path | str = ROOT) -> Course:
        return _course(Path(root).resolve())

    @classmethod
    def from_config(cls, config: Config) -> Course:
        """The course as a running nbgrader app sees it (its config, command-line options included)."""
        directory = CourseDirectory(config=config)
        return cls(Path(directory.root).resolve(), directory)

    # ----------------------------------------------------------------- nbgrader's folders
    def _path(self, step: str, milestone: str, student: str = ".") -> Path:
        return Path(os.path.normpath(self.directory.format_path(step, student, milestone)))

    @property
    def source_dir(self) -> Path:
        """The instructor notebooks' folder (nbgrader's source directory)."""
        return self.root / self.directory.source_directory

    def source(self, milestone: str) -> Path:
        """A milestone's instructor folder: its notebook and the files written by hand next to it."""
        return self._path(self.directory.source_directory, milestone)

    def source_notebook(self, milestone: str) -> Path:
        return self.source(milestone) / f"{milestone}.ipynb"

    @property
    def release_dir(self) -> Path:
        """The generated student notebooks' folder (nbgrader's release directory)."""
        return self.root / self.directory.release_directory

    def release(self, milestone: str) -> Path:
        """A milestone's generated student folder (nbgrader's release directory)."""
        return self._path(self.directory.release_directory, milestone)

    def release_notebook(self, milestone: str) -> Path:
        return self.release(milestone) / f"{milestone}.ipynb"

    @property
    def submitted_dir(self) -> Path:
        return self.root / self.directory.submitted_directory

    def submitted(self, student: str, milestone: str) -> Path:
        return self._path(self.directory.submitted_directory, milestone, student)

    def autograded(self, student: str, milestone: str) -> Path:
        return self._path(self.directory.autograded_directory, milestone, student)

    def feedback(self, student: str, milestone: str) -> Path:
        return self._path(self.directory.feedback_directory, milestone, student)

    # ----------------------------------------------------------------- the course's own files
    @property
    def reference_cache(self) -> Path:
        """Where the instructor solutions' records are cached (judging/reference.py): the
        course's ``.reference/``, or the folder ``COURSE_REFERENCE_CACHE`` names, which many
        copies of the course can share (the test suite's do): a record's file name holds the
        hash of everything it depends on, so a copy never reads another content's records."""
        shared = os.environ.get("COURSE_REFERENCE_CACHE")
        return Path(shared) if shared else self.root / ".reference"

    @property
    def grading_state(self) -> Path:
        """What class grading remembers per student (classgrade/state.py)."""
        return self.root / ".grading"

    @property
    def bundle(self) -> Path:
        """The student bundle the release step builds."""
        return self.root / "dist" / "student"

    @property
    def released_file(self) -> Path:
        return self.source_dir / RELEASED_NAME

    # ----------------------------------------------------------------- milestones, in order
    def present(self) -> list[str]:
        """The milestones whose instructor notebook exists, in course order."""
        return [m for m in MILESTONES if self.source_notebook(m).exists()]

    def released(self) -> list[str]:
        """The released milestones, checked: known names, each once, in course order with
        none skipped. A missing file means nothing is released yet."""
        path = self.released_file
        if not path.exists():
            return []
        names = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
        names = [n for n in names if n]
        known = self.present()
        shown = path.relative_to(self.root)
        for name in names:
            if name not in known:
                raise ReleaseOrderError(
                    f"{shown} lists {name!r}, which is not a milestone of this course "
                    f"(the milestones: {', '.join(known)})"
                )
        if names != known[: len(names)]:
            raise ReleaseOrderError(
                f"{shown} must list milestones in course order with none skipped: it has "
                f"{', '.join(names)}; expected the first {len(names)} of {', '.join(known)}"
            )
        return names

    def write_released(self, names: list[str]) -> None:
        self.released_file.write_text(HEADER + "".join(f"{n}\n" for n in names))

    def with_next(self, milestone: str) -> list[str]:
        """The released list with ``milestone`` added (unchanged if it is there already); only
        the next milestone in course order may be added. Nothing is written: the release step
        writes the list once the release has been made."""
        known = self.present()
        if milestone not in known:
            raise ReleaseOrderError(f"no milestone {milestone!r}: the milestones are {', '.join(known)}")
        names = self.released()
        if milestone in names:
            return names
        expected = known[len(names)]
        if milestone != expected:
            raise ReleaseOrderError(
                f"milestones are released in order: {expected} is next, not {milestone} "
                f"(released so far: {', '.join(names) or 'none'}). Releasing {milestone} now "
                f"would hand students the answers of {', '.join(known[len(names) : known.index(milestone)])} "
                "in the code it ships."
            )
        return [*names, milestone]


@functools.cache
def _course(root: Path) -> Course:
    return Course(root, CourseDirectory(config=course_config(root)))
