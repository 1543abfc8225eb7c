"""After autograding and after feedback: a student's own files do not stay where they are served.

nbgrader copies every file of a submission that is not a notebook into autograded/ (the
formgrader serves that folder at /formgrader/submissions/<id>/<path>, in the instructor's
session) and from there next to the feedback: a student's page.html would run there. After
grading, only what nbgrader and the instructor put there stays. nbgrader passes these hooks
the converted notebooks (<course>/<folder>/<student>/<assignment>/<name>.ipynb) and its
id patterns (unused). Folder names as in nbgrader_config.py.
"""

from collections.abc import Callable
from pathlib import Path

from course_grader.layout import Course

KEPT_FILES = ("timestamp.txt", "submission_secret.txt")  # the exchange's: release_feedback reads them


def _keep_only(folder: Path, keep: Callable[[Path], bool]) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):  # files before the folders holding them
        if path.is_symlink() or path.is_file():
            if not keep(path.relative_to(folder)):
                path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def graded_files_only(assignment: str, student: str, notebooks: list[str]) -> None:
    """``Autograde.post_convert_hook``: the autograded folder keeps its notebooks, the
    instructor's files and the exchange's, nothing else of the student's."""
    for notebook in {Path(n).resolve() for n in notebooks}:
        course, student_id, assignment_id = (
            Course.at(notebook.parents[3]),
            notebook.parents[1].name,
            notebook.parent.name,
        )
        instructor = course.source(assignment_id)
        _keep_only(
            course.autograded(student_id, assignment_id),
            lambda rel: rel.suffix == ".ipynb" or str(rel) in KEPT_FILES or (instructor / rel).is_file(),
        )


def feedback_pages_only(assignment: str, student: str, notebooks: list[str]) -> None:
    """``GenerateFeedback.post_convert_hook``: the feedback folder keeps its pages (and the
    exchange's files), nothing else of the student's."""
    pages = {f"{Path(n).stem}.html" for n in notebooks}
    for notebook in {Path(n).resolve() for n in notebooks}:
        course, student_id, assignment_id = (
            Course.at(notebook.parents[3]),
            notebook.parents[1].name,
            notebook.parent.name,
        )
        _keep_only(course.feedback(student_id, assignment_id), lambda rel: str(rel) in pages or str(rel) in KEPT_FILES)
