"""The exercise mechanism, and every check shown to reject plausible wrong answers."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tinyvdm.exercises import EXERCISES, check, grade, score, strip_solutions
from tinyvdm.exercises.registry import EXPECT_ENV, _load_all
from tinyvdm.exercises.strip import count_solutions, write_blanks

ROOT = Path(__file__).resolve().parents[1]


def _load_cases():
    # One module of right and wrong answers per chapter, in tests/exercise_cases/chNN.py.
    right, wrong = {}, {}
    for path in sorted((ROOT / "tests" / "exercise_cases").glob("ch[0-9][0-9].py")):
        spec = importlib.util.spec_from_file_location(f"exercise_cases_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, table, into in (("RIGHT", module.RIGHT, right), ("WRONG", module.WRONG, wrong)):
            clash = set(table) & set(into)
            assert not clash, f"{path.name}: {name} repeats {sorted(clash)}"
            into.update(table)
    return right, wrong


RIGHT, WRONG = _load_cases()


def test_every_exercise_has_right_and_wrong_versions_here():
    _load_all()
    assert set(EXERCISES) == set(RIGHT) == set(WRONG)
    assert all(len(WRONG[i]) >= 3 for i in WRONG)


@pytest.mark.parametrize("exercise_id", sorted(RIGHT))
def test_right_version_passes(exercise_id):
    passed, message = grade(exercise_id, RIGHT[exercise_id])
    assert passed, message


@pytest.mark.parametrize(
    "exercise_id,index", [(i, k) for i in sorted(WRONG) for k in range(len(WRONG[i]))]
)
def test_wrong_version_is_rejected(exercise_id, index):
    passed, message = grade(exercise_id, WRONG[exercise_id][index])
    assert not passed, f"wrong version {index} of {exercise_id} passed"
    assert message  # says what went wrong


def test_check_never_raises_for_a_learner(capsys, monkeypatch):
    monkeypatch.delenv(EXPECT_ENV, raising=False)

    def boom(*args):
        raise ZeroDivisionError("oops")

    def blank(*args):
        raise NotImplementedError

    assert check("00.bounce_step", boom) is False
    assert check("00.frames_to_grid", blank) is False
    assert check("00.to_unit_range", "not a function") is False
    out = capsys.readouterr().out
    assert "[FAIL] 00.bounce_step" in out and "ZeroDivisionError" in out
    assert "not written yet" in out
    assert "should be a function" in out


def test_check_finds_the_function_in_the_callers_namespace(capsys, monkeypatch):
    monkeypatch.delenv(EXPECT_ENV, raising=False)
    namespace = {"check": check, "frames_to_grid": RIGHT["00.frames_to_grid"]}
    exec("result = check('00.frames_to_grid')", namespace)
    assert namespace["result"] is True
    namespace = {"check": check}
    exec("result = check('00.frames_to_grid')", namespace)
    assert namespace["result"] is False
    assert "no function named `frames_to_grid`" in capsys.readouterr().out


def test_expect_env_turns_verdicts_into_errors(monkeypatch):
    monkeypatch.setenv(EXPECT_ENV, "pass")
    assert check("00.frames_to_grid", RIGHT["00.frames_to_grid"])
    with pytest.raises(AssertionError, match="failed"):
        check("00.frames_to_grid", WRONG["00.frames_to_grid"][0])
    monkeypatch.setenv(EXPECT_ENV, "fail")
    assert not check("00.frames_to_grid", WRONG["00.frames_to_grid"][0])
    with pytest.raises(AssertionError, match="must not pass"):
        check("00.frames_to_grid", RIGHT["00.frames_to_grid"])


def test_score_counts_this_sessions_verdicts(capsys, monkeypatch):
    monkeypatch.delenv(EXPECT_ENV, raising=False)
    check("00.to_unit_range", RIGHT["00.to_unit_range"])
    check("00.frames_to_grid", WRONG["00.frames_to_grid"][1])
    passed, total = score("00")
    assert total == 3 and passed >= 1
    assert "Score:" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no exercises"):
        score("99")


def test_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="00.bounce_step"):
        grade("00.nope", RIGHT["00.frames_to_grid"])


# ---- stripping -------------------------------------------------------------------------------

SOURCE = '''\
def f(x):
    """Doc."""
    # BEGIN SOLUTION
    y = x + 1
    return y
    # END SOLUTION

# BEGIN SOLUTION replace: answer = None
answer = 42
# END SOLUTION
print("end")
'''


def test_strip_replaces_each_block_with_its_placeholder():
    blank = strip_solutions(SOURCE)
    assert "x + 1" not in blank and "42" not in blank
    assert '    raise NotImplementedError("exercise: write your code here")  # YOUR CODE HERE' in blank
    assert "answer = None  # YOUR CODE HERE" in blank
    assert blank.endswith('print("end")\n')
    assert count_solutions(SOURCE) == 2
    namespace = {}
    exec(blank, namespace)  # the blank still runs
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


@pytest.mark.parametrize(
    "bad,match",
    [("# END SOLUTION\n", "without a BEGIN"), ("# BEGIN SOLUTION\nx\n", "never closed"),
     ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n", "inside the block")],
)
def test_strip_rejects_broken_markers(bad, match):
    with pytest.raises(ValueError, match=match):
        strip_solutions(bad, "nb.py")


def test_every_exercise_notebook_checks_every_exercise_of_its_chapter():
    _load_all()
    notebooks = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.py"))
    assert notebooks, "no exercise notebooks"
    for nb in notebooks:
        text = nb.read_text()
        chapter = nb.name[:2]
        assert (ROOT / "notebooks" / nb.name).exists(), f"{nb.name} has no chapter of the same name"
        ids = [i for i, ex in EXERCISES.items() if ex.chapter == chapter]
        assert len(ids) >= 2, f"chapter {chapter} needs at least two graded exercises"
        for exercise_id in ids:
            assert f'check("{exercise_id}")' in text, f"{nb.name} never checks {exercise_id}"
        assert count_solutions(text) >= len(ids)


def test_blank_copies_via_the_command_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tinyvdm.exercises", "blank", "--out", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )
    written = sorted(tmp_path.glob("*.py"))
    assert written and "wrote" in result.stdout
    assert "BEGIN SOLUTION" not in written[0].read_text()
    # a second run keeps the learner's work
    written[0].write_text("my work")
    write_blanks(tmp_path)
    assert written[0].read_text() == "my work"
