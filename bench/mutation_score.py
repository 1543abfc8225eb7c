"""Mutation score of every milestone's hidden tests, as one table.

    python bench/mutation_score.py [MILESTONE ...] [--jobs N] [--root PATH]

A thin loop over ``course_grader.measuring.mutation.run``; run ``python -m course_grader.measuring.mutation
<milestone>`` for the surviving mutants themselves.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_grader.layout import ROOT, Course
from course_grader.measuring.mutation import MutationError, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("milestones", nargs="*", help="default: every milestone that exists")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    names = args.milestones or Course.at(args.root).present()
    row = "{:<14} {:>8} {:>7} {:>9} {:>8} {:>8}"
    print(row.format("milestone", "mutants", "killed", "survived", "score %", "seconds"))
    failed = False
    for name in names:
        try:
            report = run(name, args.root, jobs=args.jobs)
        except MutationError as err:
            print(f"{name:<14} error: {err}")
            failed = True
            continue
        survived = report.total - report.killed
        print(
            row.format(name, report.total, report.killed, survived, f"{report.percent:.1f}", f"{report.seconds:.0f}"),
            flush=True,
        )
        for result in report.survivors():  # each one a test to add, or an equivalent change to explain
            print(f"    survived: {result.mutant.describe()}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
