"""Measuring the hidden tests rather than grading a class.

- ``submissions`` builds submissions from a released notebook and grades them through
  the configured nbgrader pipeline (round trip, cheat corpus, mutation);
- ``mutation``    the mutation score: how many one-point changes to a solution lose points.
"""
