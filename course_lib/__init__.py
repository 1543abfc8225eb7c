"""Scaffolding for the micrograd course: never an answer to a graded cell.

One module per job:

- ``attach``  - the decorator that adds a method to a class from its own notebook cell;
- ``checks``  - visible checks whose failures name the concept, the input, expected vs
  got and the likely mistake;
- ``graph``   - a picture of a computation graph (graphviz), one box per Value;
- ``explain`` - an error the student's code raises inside a check, said in course words;
- ``tables``  - the printed table of a gradient check;
- ``datasets``- small seeded datasets (two moons) to train on;
- ``digit_tasks`` - milestone 6's task (``Max ( 5 3 9 )`` -> ``9``): vocabulary, examples,
  padded batches, per-operation accuracy;
- ``plots``   - data, loss curves, decision boundaries, optimizers compared, attention
  heatmaps (matplotlib);
- ``memory``  - fast training with flat memory: a paused collector and freed graphs;
- ``progress``- a live loss print for training loops.

Nothing here computes a derivative, sorts a graph or estimates a gradient: those are
the exercises.
"""
