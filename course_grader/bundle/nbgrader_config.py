"""nbgrader's settings on the student's side (JupyterLab's Validate button and
`nbgrader validate` read this file from the folder they start in).

Validate reports every cell that fails, not only graded ones: a student's notebook keeps
its hidden tests only as a comment, so without this a blank notebook would "pass"."""

c = get_config()  # noqa: F821 - provided by nbgrader's config loader
c.Validator.validate_all = True
