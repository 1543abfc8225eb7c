"""The instructor's side of the course: hidden-test probes, the judge, the release step.

None of this goes to students (the release step's bundle test proves it). Modules:

- ``records``  - the plain-data records hidden tests emit, and how to read them back;
- ``probes``   - what hidden-test cells call inside the grading kernel;
- ``judge``    - compares a submission's records with the instructor solution's, outside
  the student's kernel, and an nbgrader preprocessor that turns a wrong record into 0;
- ``reference``- the instructor solution's records, computed in their own kernel;
- ``release``  - regenerates ``notebooks/``, the shipped engine files and the bundle;
- ``mutation`` - measures how strong the hidden tests are by mutating the solutions.
"""
