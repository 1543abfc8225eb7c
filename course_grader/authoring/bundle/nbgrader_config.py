"""nbgrader's settings on the student's side. The course package installs this file into
the environment's Jupyter configuration (``etc/jupyter``), so JupyterLab's Validate button
and ``nbgrader validate`` read it wherever they start: from this folder, from inside a
milestone folder, or from the folder ``nbgrader fetch_assignment`` makes. A copy sits at
the bundle's root as well, for an environment set up some other way.

Validate reports every cell that fails, not only graded ones: a student's notebook keeps
its hidden tests only as a comment, so without this a blank notebook would "pass"."""

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - provided by nbgrader's config loader
c.Validator.validate_all = True
