"""Fill ``workspace/`` with the released notebooks, never overwriting a file there.

``./course open`` works on ``workspace/`` (git-ignored) as a student works on the bundle:
it holds exactly the released milestones (``course_grader.layout``), so trying the
course never dirties ``notebooks/`` and never shows a milestone students do not have yet.
Running it again after a release adds the new milestone and keeps every notebook already
started.

    python -m course_grader.authoring.workspace <course root> <workspace>
"""

import shutil
import sys
from pathlib import Path

from course_grader.layout import Course, ReleaseOrderError

STUDENT_CONFIG = Path(__file__).resolve().parent / "bundle" / "nbgrader_config.py"


def populate(release: Path, workspace: Path, released: list[str]) -> tuple[list[Path], list[Path]]:
    """Copy every file of the ``released`` milestones' folders under ``release`` that is
    missing from ``workspace``; return (added, kept)."""
    added, kept = [], []
    for m in released:
        folder = release / m
        if not folder.is_dir():
            raise FileNotFoundError(f"no released notebooks in {folder}: run ./course release first")
        for src in sorted(folder.rglob("*")):
            if not src.is_file() or "__pycache__" in src.parts or ".ipynb_checkpoints" in src.parts:
                continue
            dest = workspace / src.relative_to(release)
            if dest.exists():
                kept.append(dest)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
            added.append(dest)
    config = workspace / STUDENT_CONFIG.name  # Validate as students have it (bundle/nbgrader_config.py)
    if not config.exists():
        workspace.mkdir(parents=True, exist_ok=True)
        shutil.copy2(STUDENT_CONFIG, config)
        added.append(config)
    return added, kept


def main(argv: list[str]) -> int:
    root, workspace = Path(argv[0]), Path(argv[1])
    try:
        course = Course.at(root)
        released = course.released()
        added, kept = populate(course.release_dir, workspace, released)
    except (ReleaseOrderError, FileNotFoundError) as err:
        print(f"cannot fill {workspace}: {err}", file=sys.stderr)
        return 1
    print(f"workspace {workspace}: {len(added)} new file(s) copied, {len(kept)} of yours kept as they are")
    later = course.present()[len(released) :]
    print(
        f"released milestones: {', '.join(released) or 'none'}"
        + (f"; {', '.join(later)} arrive with `./course release <milestone>`" if later else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
