"""Run the jupytext chapters and exercises under nbval, straight from their ``.py`` sources.

``pytest --nbval-lax notebooks exercises`` collects every ``NN_topic.py`` there. Each one is
converted to a notebook in ``build/nbval/`` (git-ignored; the ``.py`` stays the only source) and
handed to nbval. An exercise notebook runs twice: as written (every check must pass) and as the
blank copy a learner gets (every check must fail, and the notebook must still run to the end);
``TINYVDM_EXERCISE_EXPECT`` tells ``check`` which verdict to enforce. At the end a table shows
how long each notebook took.
"""

from __future__ import annotations

import os
import re

from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
BUILD = ROOT / "build" / "nbval"
NOTEBOOK_DIRS = {"notebooks", "exercises"}
_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.py$")


def pytest_collect_file(file_path: Path, parent):
    opt = parent.config.option
    if not (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)):
        return None
    if file_path.parent.name in NOTEBOOK_DIRS and _NAME.match(file_path.name):
        return JupytextSource.from_parent(parent, path=file_path)
    return None


class JupytextSource(pytest.File):
    """A jupytext percent-format notebook: yields one nbval run per variant."""

    def collect(self):
        import jupytext
        import nbformat
        from nbval.plugin import IPyNbFile

        from tinyvdm.exercises.strip import count_solutions, strip_solutions

        text = self.path.read_text(encoding="utf-8")
        variants = [("run", text, "pass")]
        if self.path.parent.name == "exercises":
            if count_solutions(text) == 0:
                raise ValueError(f"{self.path}: an exercise notebook needs # BEGIN SOLUTION blocks")
            variants = [("solution", text, "pass"), ("blank", strip_solutions(text, str(self.path)), "fail")]

        class NotebookRun(IPyNbFile):
            expect = "pass"

            def setup(self):
                # The kernel inherits os.environ when it starts: set the verdict to enforce.
                old = os.environ.get("TINYVDM_EXERCISE_EXPECT")
                os.environ["TINYVDM_EXERCISE_EXPECT"] = self.expect
                try:
                    super().setup()
                finally:
                    if old is None:
                        os.environ.pop("TINYVDM_EXERCISE_EXPECT", None)
                    else:
                        os.environ["TINYVDM_EXERCISE_EXPECT"] = old

        for variant, source, expect in variants:
            target = BUILD / self.path.parent.name / f"{self.path.stem}.{variant}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nb = jupytext.reads(source, fmt="py:percent")
            nbformat.write(nb, str(target))
            node = NotebookRun.from_parent(self, path=target, name=variant, nodeid=f"{self.nodeid}::{variant}")
            node.expect = expect
            yield node


def _notebook_of(nodeid: str) -> str | None:
    parts = nodeid.split("::")
    if len(parts) >= 3 and Path(parts[0]).parent.name in NOTEBOOK_DIRS:
        return f"{parts[0]} [{parts[1]}]"
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # Sum every phase (kernel start-up is in the first cell's setup) from the reporter's own
    # record: per-item hooks would miss these nodes, whose files live under build/.
    durations: dict[str, float] = defaultdict(float)
    for reports in terminalreporter.stats.values():
        for report in reports:
            key = _notebook_of(getattr(report, "nodeid", "") or "")
            if key is not None and hasattr(report, "duration"):
                durations[key] += report.duration
    if not durations:
        return
    terminalreporter.section("time per notebook (kernel start and every cell)")
    for key, seconds in sorted(durations.items()):
        terminalreporter.write_line(f"{seconds:8.1f} s  {key}")
    terminalreporter.write_line(f"{sum(durations.values()):8.1f} s  all notebooks")
