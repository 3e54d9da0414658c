"""Where a chapter's figures and videos go, and how they are written.

Taught in chapter 00. Every chapter saves what it shows under ``outputs/<chapter>/`` so a run
leaves its evidence behind; ``$TINYVDM_OUTPUT`` moves that folder (CI points it at a scratch
directory). Files are written atomically: a reader (a browser tab, a CI artefact upload, a
second kernel) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from matplotlib.figure import Figure

from tinyvdm.io import atomic_path

DPI = 110
_OTHER_FORMATS = {".jpg", ".jpeg", ".pdf", ".svg", ".gif", ".mp4", ".webp", ".tif", ".tiff"}
# A chapter or file name is one path component: no separators, no "..", nothing hidden.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def _repo_root() -> Path | None:
    """The source checkout this file lives in (the folder holding tinyvdm's pyproject.toml)."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    try:
        if pyproject.is_file() and 'name = "tinyvdm"' in pyproject.read_text(encoding="utf-8"):
            return root
    except OSError:  # an unreadable folder: behave as an installed package
        return None
    return None


def _check_name(value: str, what: str) -> None:
    if not isinstance(value, str) or not _SAFE_NAME.match(value) or ".." in value:
        raise ValueError(
            f"{what} must be a plain file name such as '03_vae' (letters, digits, '_', '-', "
            f"'.'), got {value!r}"
        )


def output_dir(chapter: str) -> Path:
    """The folder for a chapter's outputs, created if missing.

    ``$TINYVDM_OUTPUT/<chapter>`` when the variable is set (read now, not at import), else
    ``<repo>/outputs/<chapter>`` when running from the source checkout, else
    ``./outputs/<chapter>``.
    """
    _check_name(chapter, "chapter")
    base = os.environ.get("TINYVDM_OUTPUT")
    if base:
        root = Path(base).expanduser()
    else:
        repo = _repo_root()
        root = repo / "outputs" if repo is not None else Path.cwd() / "outputs"
    folder = root / chapter
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def savefig(fig: Figure, chapter: str, name: str) -> Path:
    """Save ``fig`` as ``<output_dir(chapter)>/<name>.png`` atomically and return the path.

    ``name`` may end in ``.png``; other image or video suffixes are refused (this is the PNG
    writer: use ``save_gif``/``save_mp4`` for animations).
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    _check_name(name, "name")
    if Path(name).suffix.lower() in _OTHER_FORMATS:
        raise ValueError(f"name must be a PNG file name ('samples' or 'samples.png'), got {name!r}")
    if not name.lower().endswith(".png"):
        name += ".png"
    path = output_dir(chapter) / name
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    return path
