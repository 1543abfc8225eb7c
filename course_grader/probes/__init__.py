"""What hidden-test cells call inside the grading kernel.

A hidden cell is one line, e.g. ``m1.probe_add(Value)``: the probe builds seeded random
cases through the public interface only, asserts what it can check against finite
differences and properties (so a wrong answer fails in the kernel with a teaching
message, as stock nbgrader expects), and emits a record of what the student's code
produced. The judge then checks that record outside the kernel against the instructor
solution's record, with tolerances too tight for finite-difference values to pass.

The kernel never holds an exact expected gradient: a student who rewrites the hidden
cell, or reads this module at grading time, finds nothing to copy.
"""
