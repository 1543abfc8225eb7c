"""``./course grade``: grading a whole class with nbgrader.

- ``cli``       the command and its options, the order of the run;
- ``intake``    submitted files read as hostile data (an LMS export, the exchange);
- ``workers``   the pool that runs nbgrader's autograde, one submission per worker;
- ``state``     what was graded, so a re-run grades only what changed;
- ``gradebook`` the shared gradebook, its lock, the per-cell summary and CSV export;
- ``report``    progress and the summary an instructor reads.
"""
