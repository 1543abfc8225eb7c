"""The instructor's authoring side: from solution notebooks to what students get.

- ``release``        regenerates ``notebooks/``, the shipped code and the student bundle
  (``./course release``);
- ``engine_export``  assembles the shipped ``engine.py``/``nn.py`` from solution cells;
- ``exchange``       nbgrader's exchange releases only the released milestones;
- ``workspace``      ``./course open``'s copy of the released notebooks;
- ``readme_picture`` checks the README's picture against the notebook it comes from;
- ``bundle/``        the student bundle's template files.
"""
