"""The course's milestones in order, and which of them students have been given.

A milestone's answers reach students only with a later milestone's release:
``m2_backward`` ships milestone 1's solution as ``engine.py``, ``m3_mlp`` milestones 1-2,
and so on. So the instructor releases milestones one at a time, in course order, and the
list of what is released lives in the repository (``solutions/released.txt``, committed
like everything else the instructor decides). The student bundle, the workspace that
``./course open`` fills and nbgrader's ``release_assignment`` carry exactly the milestones
on that list.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MILESTONES = ("m1_value", "m2_backward", "m3_mlp", "m4_training")
RELEASED_FILE = Path("solutions") / "released.txt"
HEADER = """\
# The milestones students have, in course order: one per line.
# `./course release <milestone>` adds the next one. The student bundle (dist/student),
# `./course open`'s workspace and `nbgrader release_assignment` carry exactly these: a
# milestone's answers reach students only when the next milestone is released, since it
# ships them (m2_backward's engine.py is milestone 1's solution).
"""


class ReleaseOrderError(ValueError):
    """The released list cannot be read or changed as asked; the message says why."""


def present(root: Path = ROOT) -> list[str]:
    """The milestones whose instructor notebook exists, in course order."""
    return [m for m in MILESTONES if (root / "solutions" / m / f"{m}.ipynb").exists()]


def released(root: Path = ROOT) -> list[str]:
    """The released milestones, checked: known names, each once, in course order with
    none skipped. A missing file means nothing is released yet."""
    path = root / RELEASED_FILE
    if not path.exists():
        return []
    names = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    names = [n for n in names if n]
    known = present(root)
    for name in names:
        if name not in known:
            raise ReleaseOrderError(
                f"{RELEASED_FILE} lists {name!r}, which is not a milestone of this course "
                f"(the milestones: {', '.join(known)})"
            )
    if names != known[: len(names)]:
        raise ReleaseOrderError(
            f"{RELEASED_FILE} must list milestones in course order with none skipped: it has "
            f"{', '.join(names)}; expected the first {len(names)} of {', '.join(known)}"
        )
    return names


def write_released(root: Path, names: list[str]) -> None:
    (root / RELEASED_FILE).write_text(HEADER + "".join(f"{n}\n" for n in names))


def with_next(root: Path, milestone: str) -> list[str]:
    """The released list with ``milestone`` added (unchanged if it is there already); only
    the next milestone in course order may be added. Nothing is written: the release step
    writes the list once the release has been made."""
    known = present(root)
    if milestone not in known:
        raise ReleaseOrderError(f"no milestone {milestone!r}: the milestones are {', '.join(known)}")
    names = released(root)
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
