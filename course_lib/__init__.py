"""Scaffolding for the micrograd course: never an answer to a graded cell.

One module per job:

- ``attach``  - the decorator that adds a method to a class from its own notebook cell;
- ``checks``  - visible checks whose failures name the concept, the input, expected vs
  got and the likely mistake;
- ``graph``   - a picture of a computation graph (graphviz), one box per Value.

Nothing here computes a derivative, sorts a graph or estimates a gradient: those are
the exercises.
"""
