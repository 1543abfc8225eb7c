"""nbgrader's exchange, kept to the released list.

``nbgrader release_assignment`` (and the formgrader's *Release* button) copies
``notebooks/<milestone>/`` to the students' exchange. That folder carries the code of the
milestones before it, answers included (``m3_mlp/engine.py`` is milestones 1-2), so
releasing a milestone out of order would hand students an answer they are still working
on. This plug-in refuses any milestone that ``./course release`` has not released.
"""

from pathlib import Path

from nbgrader.exchange.default import ExchangeReleaseAssignment

from course_grader.layout import Course, ReleaseOrderError


class ReleaseReleasedOnly(ExchangeReleaseAssignment):
    """nbgrader's own release to the exchange, for released milestones only."""

    def init_src(self) -> None:
        course = Course.at(Path(self.coursedir.root))
        wanted = self.coursedir.assignment_id
        try:
            released = course.released()
        except ReleaseOrderError as err:
            self.fail(str(err))
        if wanted in course.present() and wanted not in released:
            self.fail(
                f"{wanted} is not released to students yet (released: {', '.join(released) or 'none'}). "
                f"Run `./course release {wanted}` first: milestones are released in course order, "
                "since each one ships the answers of those before it."
            )
        super().init_src()
