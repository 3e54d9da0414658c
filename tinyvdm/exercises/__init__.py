"""Graded exercises: ``check`` and ``score`` for the notebooks, ``strip_solutions`` for blanks."""

from tinyvdm.exercises.registry import EXERCISES, Mismatch, check, get_exercise, grade, score
from tinyvdm.exercises.strip import strip_solutions

__all__ = ["EXERCISES", "Mismatch", "check", "get_exercise", "grade", "score", "strip_solutions"]
