"""The instructor's side of the course: hidden-test probes, the judge, the release step.

None of this goes to students (the release step's bundle test proves it). Modules:

- ``records``  - the plain-data records hidden tests emit, and how to read them back;
- ``probes``   - the hidden tests: what hidden-test cells call (in nbval and instructors'
  kernels), and what the grader runs itself when grading;
- ``rpc``      - how the grader's probes use a student's objects in another process;
- ``replay``   - the grader's own run of the hidden tests against a submission (sandboxed);
- ``sandbox``  - bubblewrap around every process that runs a student's code;
- ``judge``    - compares those records with the instructor solution's, and the nbgrader
  preprocessors that turn a wrong record into 0;
- ``reference``- the instructor solution's records, from the same replay;
- ``release``  - regenerates ``notebooks/``, the shipped engine files and the bundle;
- ``mutation`` - measures how strong the hidden tests are by mutating the solutions.
"""
