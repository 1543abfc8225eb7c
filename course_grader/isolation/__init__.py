"""Running a student's code away from the grader.

- ``sandbox``      bubblewrap around every process that runs a student's code (what it
  sees, its limits) and the kernel manager that starts kernels in it;
- ``cgroups``      memory and CPU bounds for a sandbox and everything it starts;
- ``rpc``          the link between the grader's probes and the student's objects;
- ``replay``       the grader's own run of every hidden test against a submission;
- ``run_notebook`` running a whole notebook top to bottom in a fresh kernel.
"""
