"""Graded exercises: the registry, ``check`` and ``score``.

Every chapter's exercise notebook (``exercises/NN_topic.py``) asks the learner to write a few
functions; ``check("00.bounce_step")`` then runs that exercise's tests on random inputs against
the library's own implementation and prints what was expected and what came back.

``check`` never raises for a learner: a mistake, an exception or a blank exercise is a printed
FAIL, so the notebook still runs to the end. CI turns the verdicts into errors with the
``TINYVDM_EXERCISE_EXPECT`` environment variable: ``pass`` (the solution notebooks must pass
every check) or ``fail`` (the generated blank notebooks must fail every check).
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

EXPECT_ENV = "TINYVDM_EXERCISE_EXPECT"


class Mismatch(Exception):
    """Raised by a check when the learner's answer differs from the reference."""


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: the function the learner writes and the check that grades it."""

    id: str  # "<chapter>.<name>", e.g. "00.bounce_step"
    function: str  # the name the learner's function has in the notebook
    title: str
    run: Callable[[Callable], str]  # raises Mismatch (or anything) on failure, returns a summary

    @property
    def chapter(self) -> str:
        return self.id.split(".", 1)[0]


EXERCISES: dict[str, Exercise] = {}


@dataclass
class _Results:
    """Verdicts of this Python session, for ``score``."""

    passed: dict[str, bool] = field(default_factory=dict)


_RESULTS = _Results()


def exercise(id: str, function: str, title: str):
    """Decorator registering a check function ``run(learner_fn) -> summary`` under ``id``."""

    def register(run: Callable[[Callable], str]) -> Callable[[Callable], str]:
        if id in EXERCISES:
            raise ValueError(f"exercise id {id!r} is registered twice")
        EXERCISES[id] = Exercise(id=id, function=function, title=title, run=run)
        return run

    return register


@functools.cache  # every check() asks; list the package folder once per process
def _load_all() -> None:
    # The checks of every chapter live in ``chNN.py`` beside this file and register themselves
    # on import; discovering them keeps adding a chapter to adding one file.
    import importlib
    import pkgutil

    import tinyvdm.exercises as package

    for module in pkgutil.iter_modules(package.__path__):
        if re.fullmatch(r"ch\d\d", module.name):
            importlib.import_module(f"tinyvdm.exercises.{module.name}")


def get_exercise(id: str) -> Exercise:
    _load_all()
    if id not in EXERCISES:
        known = ", ".join(sorted(EXERCISES))
        raise KeyError(f"no exercise {id!r}; known exercises: {known}")
    return EXERCISES[id]


def grade(id: str, fn: Callable | None) -> tuple[bool, str]:
    """Run exercise ``id`` on ``fn``: (passed, message). Never raises for the learner's mistakes."""
    ex = get_exercise(id)
    if fn is None:
        return False, f"no function named `{ex.function}` was found: define it in the cell above"
    if not callable(fn):
        return False, f"`{ex.function}` should be a function, got {type(fn).__name__}"
    try:
        summary = ex.run(fn)
    except NotImplementedError:
        return False, "not written yet: replace the `raise NotImplementedError` line with your code"
    except Mismatch as err:
        return False, str(err)
    except Exception as err:  # the learner's code raised: show where, not a full traceback
        tb = traceback.extract_tb(err.__traceback__)
        where = f" (line {tb[-1].lineno}: `{tb[-1].line}`)" if tb and tb[-1].line else ""
        return False, f"your function raised {type(err).__name__}: {err}{where}"
    return True, summary


def check(id: str, fn: Callable | None = None) -> bool:
    """Grade exercise ``id`` and print the verdict. Returns True when it passed.

    ``fn`` defaults to the function named in the exercise, looked up in the caller's
    namespace (the notebook), so a learner just writes ``check("00.bounce_step")``.
    """
    ex = get_exercise(id)
    if fn is None:
        caller = inspect.currentframe().f_back
        fn = caller.f_globals.get(ex.function) if caller is not None else None
    passed, message = grade(id, fn)
    _RESULTS.passed[id] = passed
    mark = "PASS" if passed else "FAIL"
    print(f"[{mark}] {id} {ex.title}: {message}")
    expect = os.environ.get(EXPECT_ENV, "").strip().lower()
    if expect == "pass" and not passed:
        raise AssertionError(f"{EXPECT_ENV}=pass but exercise {id} failed: {message}")
    if expect == "fail" and passed:
        raise AssertionError(f"{EXPECT_ENV}=fail but exercise {id} passed: a blank exercise must not pass")
    return passed


def score(chapter: str | None = None) -> tuple[int, int]:
    """Print and return (passed, total) for a chapter's exercises (all chapters when None)."""
    _load_all()
    ids = sorted(i for i, ex in EXERCISES.items() if chapter is None or ex.chapter == chapter)
    if not ids:
        raise ValueError(f"no exercises for chapter {chapter!r}")
    passed = sum(_RESULTS.passed.get(i, False) for i in ids)
    print(f"Score: {passed}/{len(ids)}")
    for i in ids:
        status = {True: "passed", False: "failed"}.get(_RESULTS.passed.get(i), "not checked yet")
        print(f"  {i:<28} {status}")
    return passed, len(ids)
