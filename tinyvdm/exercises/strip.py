"""Make a learner's blank copy of an exercise notebook by stripping its solution blocks.

In ``exercises/NN_topic.py`` every answer sits between two marker lines::

    def frames_to_grid(videos):
        # BEGIN SOLUTION
        return rearrange(videos, "b t c h w -> c (b h) (t w)")
        # END SOLUTION

The blank copy keeps everything else and puts one line, at the marker's indentation, in place
of the block: ``raise NotImplementedError(...)`` by default, or the code given after
``replace:`` on the BEGIN line (``# BEGIN SOLUTION replace: answer = None``) where a raise would
stop the notebook. ``check`` reports a NotImplementedError as "not written yet", so a blank
notebook still runs to the end.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

_BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?:\s+replace:\s*(?P<replace>.+?))?\s*$")
_END = re.compile(r"^\s*# END SOLUTION\s*$")
PLACEHOLDER = 'raise NotImplementedError("exercise: write your code here")'


def strip_solutions(source: str, name: str = "<exercise>") -> str:
    """Return ``source`` with every solution block replaced by its placeholder line."""
    out: list[str] = []
    inside_since: int | None = None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin = _BEGIN.match(line)
        if begin:
            if inside_since is not None:
                raise ValueError(f"{name}:{number}: BEGIN SOLUTION inside the block opened at line {inside_since}")
            inside_since = number
            replacement = begin.group("replace") or PLACEHOLDER
            out.append(f"{begin.group('indent')}{replacement}  # YOUR CODE HERE\n")
        elif _END.match(line):
            if inside_since is None:
                raise ValueError(f"{name}:{number}: END SOLUTION without a BEGIN SOLUTION")
            inside_since = None
        elif inside_since is None:
            out.append(line)
    if inside_since is not None:
        raise ValueError(f"{name}:{inside_since}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "".join(out)


def count_solutions(source: str) -> int:
    return sum(1 for line in source.splitlines() if _BEGIN.match(line))


def exercises_dir() -> Path:
    """The repository's ``exercises/`` folder (this package is installed editable from it)."""
    return Path(__file__).resolve().parents[2] / "exercises"


def write_blanks(out_dir: Path, sources: list[Path] | None = None, force: bool = False) -> list[Path]:
    """Write blank copies of the exercise notebooks into ``out_dir``; never overwrite a learner's
    work unless ``force``. Returns the files written."""
    sources = sources or sorted(exercises_dir().glob("[0-9][0-9]_*.py"))
    if not sources:
        raise FileNotFoundError(f"no exercise notebooks (NN_topic.py) found in {exercises_dir()}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sources:
        if not src.is_file():
            raise FileNotFoundError(f"exercise notebook not found: {src}")
        dest = out_dir / src.name
        if dest.exists() and not force:
            print(f"kept {dest} (it exists; pass --force to overwrite your work)")
            continue
        blank = strip_solutions(src.read_text(encoding="utf-8"), name=str(src))
        tmp = dest.with_suffix(".py.tmp")
        tmp.write_text(blank, encoding="utf-8")
        tmp.replace(dest)
        written.append(dest)
        print(f"wrote {dest}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyvdm.exercises", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    blank = sub.add_parser("blank", help="write blank exercise notebooks for you to fill in")
    blank.add_argument("files", nargs="*", type=Path, help="exercise notebooks (default: all)")
    blank.add_argument("--out", type=Path, default=Path("my_exercises"), help="folder (default: my_exercises)")
    blank.add_argument("--force", action="store_true", help="overwrite existing copies")
    sub.add_parser("list", help="list every graded exercise")
    args = parser.parse_args(argv)
    if args.command == "blank":
        write_blanks(args.out, args.files or None, args.force)
    else:
        from tinyvdm.exercises.registry import EXERCISES, _load_all

        _load_all()
        for ex in sorted(EXERCISES.values(), key=lambda e: e.id):
            print(f"{ex.id:<28} {ex.function:<24} {ex.title}")
    return 0
