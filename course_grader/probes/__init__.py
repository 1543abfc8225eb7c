"""The hidden tests.

A hidden cell is one line, e.g. ``m1.probe_add(Value)``: the probe builds seeded random
cases through the public interface only, asserts what it can check against finite
differences and properties (a wrong answer fails with a teaching message), and emits a
record of what the student's code produced. The judge checks that record against the
instructor solution's, with tolerances too tight for finite-difference values to pass.

Run in a kernel (nbval, an instructor's own run) a probe works on the notebook's objects.
When grading, the grader runs the probe in its own process against proxies of the
student's objects (``course_grader.isolation.replay``), and the grading kernel only finds a stand-in
that does nothing (``sandbox.GRADER_STAND_IN``): a student's code can neither read this
package nor change what it records. So a probe must reach the student's objects only
through its arguments, and the student's interpreter only through
``common.student_module`` (``random``'s seed, the recursion limit).
"""
