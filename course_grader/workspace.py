"""Copy the released notebooks into a work folder without ever overwriting a file there.

``./course open`` works on ``workspace/`` (git-ignored), so trying the course never
dirties ``notebooks/``, and running it again after a new release adds the new files but
keeps every notebook a student has already started.
"""

import shutil
import sys
from pathlib import Path


def populate(release: Path, workspace: Path) -> tuple[list[Path], list[Path]]:
    """Copy every file of ``release`` missing from ``workspace``; return (added, kept)."""
    if not release.is_dir():
        raise FileNotFoundError(f"no released notebooks in {release}: run ./course release first")
    added, kept = [], []
    for src in sorted(release.rglob("*")):
        if not src.is_file() or "__pycache__" in src.parts or ".ipynb_checkpoints" in src.parts:
            continue
        dest = workspace / src.relative_to(release)
        if dest.exists():
            kept.append(dest)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        added.append(dest)
    return added, kept


STUDENT_CONFIG = Path(__file__).resolve().parent / "bundle" / "nbgrader_config.py"


def main(argv: list[str]) -> int:
    release, workspace = Path(argv[0]), Path(argv[1])
    added, kept = populate(release, workspace)
    config = workspace / STUDENT_CONFIG.name  # Validate as students have it (bundle/nbgrader_config.py)
    if not config.exists():
        shutil.copy2(STUDENT_CONFIG, config)
        added.append(config)
    print(f"workspace {workspace}: {len(added)} new file(s) copied, {len(kept)} of yours kept as they are")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
