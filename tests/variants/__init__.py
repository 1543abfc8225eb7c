"""Submissions for the round-trip tests: how students get things right and wrong.

Each variant edits the instructor's answers (solution cells, keyed by grade_id) the way
a student's notebook would differ. ``loses`` names the graded cells that must score 0.
"""
