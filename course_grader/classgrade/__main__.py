"""``python -m course_grader.classgrade``: what ``./course grade`` runs."""

import sys

from course_grader.classgrade.cli import main

if __name__ == "__main__":  # not when a worker process imports this module again
    sys.exit(main())
