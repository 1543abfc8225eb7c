"""Deciding a graded cell's points, as pure functions of plain data.

- ``reference`` the instructor solution's records (computed once per change, cached);
- ``compare``   the first difference between a reference record and a submitted one;
- ``verdict``   why a cell earns nothing, and the error output that makes nbgrader agree.
"""
