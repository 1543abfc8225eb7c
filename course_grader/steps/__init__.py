"""nbgrader preprocessors of the course, one per file, in the order ``nbgrader_config.py``
lists them (nbgrader's own steps run between them):

- sanitizing: ``restore_grade_cells``;
- autograding: ``load_reference``, ``replay_probes``, ``grading_execute``,
  ``judge_records``, ``sanitize_for_views``;
- after autograding and feedback: ``post_convert`` (the hooks that remove a student's own
  files from where they would be served).
"""
