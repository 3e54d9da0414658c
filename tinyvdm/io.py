"""Writing files so that nothing is lost: a crash or Ctrl-C mid-write never leaves half a file.

Used by every writer in the package: figures, GIF and MP4 files, training checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; on success it replaces ``path`` at once.

    The temporary file keeps ``path``'s suffix so writers that pick a format from the name
    (Pillow, ffmpeg) still do; on any error (KeyboardInterrupt included) it is removed and
    ``path`` is left untouched. Parent folders are created. ``fsync=True`` flushes the data to
    disk before the rename, for files worth a power cut (checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target: os.replace is only atomic within one file system. A fresh
    # name rather than mkstemp, so the writer creates the file with the usual permissions.
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
