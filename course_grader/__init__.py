"""The instructor's side of the course. None of it reaches students (the release tests prove
it). One folder per concern; ARCHITECTURE.md draws the two routes through them.

- ``layout.py``    the course: its milestones in order, what each ships, which are
  released, and every path (on nbgrader's ``CourseDirectory``);
- ``cells.py``     which notebook cells are graded tests and answers (nbgrader's own tests);
- ``authoring/``   from solution notebooks to what students get (``./course release``,
  ``./course open``, nbgrader's exchange);
- ``probes/``      the hidden tests, the records they emit and the plain-float models they
  and the judge recompute with (hidden cells import ``course_grader.probes``);
- ``isolation/``   running a student's code away from the grader: sandbox, control groups,
  the link to the student's objects, the grader's own run of the probes;
- ``steps/``       the course's nbgrader preprocessors, one per file, in the order
  ``nbgrader_config.py`` lists them;
- ``judging/``     deciding a cell's points: reference records, comparison, verdict;
- ``classgrade/``  ``./course grade``: a whole class through nbgrader's autograde;
- ``measuring/``   the configured pipeline on one notebook, and the mutation score.

A record's route from a probe to a grade: ``probes/<m>.py`` emits it (``probes/records.py``)
while ``isolation/replay.py`` runs the probe against the student's code
(``steps/replay_probes.py``); ``judging/verdict.py`` compares it with the instructor
solution's (``judging/reference.py``, loaded by ``steps/load_reference.py``) and
``steps/judge_records.py`` turns a wrong one into an error output, which nbgrader's own
``SaveAutoGrades`` scores 0.
"""
