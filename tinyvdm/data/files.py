"""The user's own data: video arrays in ``.npy`` files and folders of ``.mp4`` / ``.gif`` files.

Taught in chapter 00 (video as data); any chapter can swap its synthetic data for these, since
the items have the same ``video`` layout: float32 ``(t, c, h, w)`` in ``[-1, 1]``. Nothing is
downloaded: put files in the repository's ``data/`` folder (or anywhere) and point at them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from tinyvdm.data.base import check_int

LAYOUTS = ("n t h w", "t n h w", "n t h w c")
VIDEO_SUFFIXES = (".gif", ".mp4")


def _centre_square(video: torch.Tensor) -> torch.Tensor:
    """Crop ``(t, c, h, w)`` to its central ``min(h, w)`` square."""
    h, w = video.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return video[..., top:top + side, left:left + side]


def _resize(video: torch.Tensor, size: int) -> torch.Tensor:
    """``(t, c, h, w)`` float to ``(t, c, size, size)``: centre square, antialiased bilinear."""
    video = _centre_square(video)
    if video.shape[-1] == size:
        return video.contiguous()
    # antialias=True low-pass filters before shrinking, so fine detail does not alias.
    return F.interpolate(
        video, size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )


class NumpyVideos(Dataset):
    """Clips from a ``.npy`` array, in the Moving MNIST format or one like it.

    The array is memory-mapped, so a file bigger than memory works: each item reads one clip.

    Layouts (``layout=None`` picks by the number of dimensions):

    - ``"n t h w"``: clips of grey frames (4-D arrays);
    - ``"t n h w"``: the same stored time-first, as the original ``mnist_test_seq.npy``
      (shape ``(20, 10000, 64, 64)``) is;
    - ``"n t h w c"``: clips with 1 or 3 channels last (5-D arrays).

    ``uint8`` values map from ``[0, 255]`` to ``[-1, 1]``; float values must lie in ``[0, 1]``.
    ``frames`` keeps the first frames of each clip; ``size`` crops the central square and
    resizes it (antialiased bilinear).

    Items: ``{"video": float32 (t, c, h, w) in [-1, 1]}``.
    """

    def __init__(self, path: str | Path, layout: str | None = None, frames: int | None = None,
                 size: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no .npy file at {str(self.path)!r}")
        if layout is not None and layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS} or None, got {layout!r}")
        array = self._open()
        expected = f"a uint8 or float array laid out {layout or ' or '.join(LAYOUTS[::2])}"
        if layout is None:
            layout = {4: "n t h w", 5: "n t h w c"}.get(array.ndim)
        if layout is None or array.ndim != len(layout.split()):
            raise ValueError(
                f"{self.path} holds an array of shape {array.shape}; expected {expected}"
            )
        if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"{self.path} holds {array.dtype} values; expected {expected}")
        if layout == "n t h w c" and array.shape[-1] not in (1, 3):
            raise ValueError(
                f"{self.path} has {array.shape[-1]} channels (shape {array.shape}); expected 1 "
                f"or 3 channels last, laid out {layout}"
            )
        self.layout = layout
        if layout == "t n h w":
            self.length, self.clips = array.shape[:2]  # frames per clip, clips
        else:
            self.clips, self.length = array.shape[:2]
        if frames is not None:
            check_int("frames", frames, 1, self.length)
        if size is not None:
            check_int("size", size, 1, None)
        self.frames, self.size = frames, size
        self._array = array

    def _open(self) -> np.ndarray:
        expected = f"expected a .npy file holding a uint8 or float array laid out one of {LAYOUTS}"
        try:
            # mmap_mode="r": only the clips asked for are read from disk.
            array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            message = f"could not read {self.path} as a .npy array ({error}); {expected}"
            raise ValueError(message) from error
        if not isinstance(array, np.ndarray):  # an .npz archive opens as a dict of arrays
            raise ValueError(f"{self.path} is an archive of several arrays, not one; {expected}")
        return array

    def __getstate__(self) -> dict:
        # DataLoader workers reopen the memory map rather than receive a pickled copy of the data.
        state = dict(self.__dict__)
        state["_array"] = None
        return state

    def __len__(self) -> int:
        return self.clips

    def __getitem__(self, index: int) -> dict:
        if isinstance(index, torch.Tensor):
            index = int(index)
        if index < 0:
            index += self.clips
        if not 0 <= index < self.clips:
            raise IndexError(f"index must be in 0..{self.clips - 1}, got {index}")
        if self._array is None:
            self._array = self._open()
        t = self.frames or self.length
        if self.layout == "t n h w":
            clip = self._array[:t, index]  # (t, h, w)
        else:
            clip = self._array[index, :t]  # (t, h, w) or (t, h, w, c)
        clip = np.array(clip)  # one clip from disk into memory
        if clip.ndim == 3:
            clip = clip[..., None]
        video = torch.from_numpy(clip).permute(0, 3, 1, 2)  # (t, c, h, w)
        if video.dtype == torch.uint8:
            video = video.float() / 127.5 - 1.0
        else:
            low, high = float(video.min()), float(video.max())
            if low < 0.0 or high > 1.0:
                raise ValueError(
                    f"{self.path}: float clips must lie in [0, 1], clip {index} spans "
                    f"[{low:.3g}, {high:.3g}]"
                )
            video = video.float() * 2.0 - 1.0
        if self.size is not None:
            video = _resize(video, self.size)
        return {"video": video.clamp(-1.0, 1.0).contiguous()}


class VideoFolder(Dataset):
    """Every ``.mp4`` and ``.gif`` under a folder (recursive, sorted by path), as clips.

    Each file gives one clip: its first ``frames`` frames, taking every ``frame_step``-th
    (1: consecutive frames). A file that runs out of frames is padded by repeating its last
    frame, so a short clip reads as a clip that stops moving (``pad=False`` raises instead).
    Frames are cropped to their central square and resized to ``size`` (antialiased bilinear);
    grey becomes RGB and an alpha channel is dropped.

    Files are read (with ``imageio``) only when an item is asked for, and decoding stops once
    enough frames are in, so long videos cost little.

    Items: ``{"video": float32 (t, 3, h, w) in [-1, 1], "path": str}``.
    """

    def __init__(self, root: str | Path, frames: int = 16, size: int = 64, frame_step: int = 1,
                 pad: bool = True):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"no folder at {str(self.root)!r}")
        check_int("frames", frames, 1, None)
        check_int("size", size, 1, None)
        check_int("frame_step", frame_step, 1, None)
        self.paths = sorted(
            p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
        )
        if not self.paths:
            raise ValueError(f"no {' or '.join(VIDEO_SUFFIXES)} files under {str(self.root)!r}")
        self.frames, self.size, self.frame_step, self.pad = frames, size, frame_step, pad

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self, path: Path) -> np.ndarray:
        """Decode the frames this data set needs: ``(t, h, w, c)`` uint8, ``t`` up to frames."""
        # Imported here: imageio loads its plugins on import, and only this reader needs them.
        import imageio.v3 as iio

        # The ffmpeg plugin comes with imageio-ffmpeg, a dependency of tinyvdm; naming it keeps
        # imageio from trying plugins that are not installed. GIFs go through Pillow.
        plugin = "FFMPEG" if path.suffix.lower() == ".mp4" else "pillow"
        needed = (self.frames - 1) * self.frame_step + 1
        kept = []
        try:
            for k, frame in enumerate(iio.imiter(path, plugin=plugin)):
                if k % self.frame_step == 0:
                    kept.append(np.asarray(frame))
                if k + 1 >= needed:
                    break
        # Each imageio plugin fails in its own way (OSError, ValueError, RuntimeError, ...): any
        # error while decoding means the file cannot be used, and the message must say which.
        except Exception as error:
            raise ValueError(f"could not read video file {str(path)!r}: {error}") from error
        if not kept:
            raise ValueError(f"video file {str(path)!r} has no frames")
        return np.stack(kept)

    def __getitem__(self, index: int) -> dict:
        if isinstance(index, torch.Tensor):
            index = int(index)
        if index < 0:
            index += len(self.paths)
        if not 0 <= index < len(self.paths):
            raise IndexError(f"index must be in 0..{len(self.paths) - 1}, got {index}")
        path = self.paths[index]
        clip = self._read(path)
        if clip.ndim == 3:  # grey frames (t, h, w)
            clip = clip[..., None]
        if clip.ndim != 4 or clip.shape[-1] not in (1, 2, 3, 4):
            raise ValueError(
                f"video file {str(path)!r} decoded to shape {clip.shape}; expected (t, h, w, c)"
            )
        if clip.shape[-1] in (2, 4):  # grey + alpha, RGB + alpha: drop the alpha
            clip = clip[..., :-1]
        if clip.shape[-1] == 1:
            clip = np.repeat(clip, 3, axis=-1)
        if len(clip) < self.frames:
            if not self.pad:
                raise ValueError(
                    f"video file {str(path)!r} has {len(clip)} usable frames, fewer than "
                    f"frames={self.frames} (frame_step={self.frame_step})"
                )
            filler = np.repeat(clip[-1:], self.frames - len(clip), axis=0)
            clip = np.concatenate([clip, filler])
        video = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2)  # (t, 3, h, w)
        if video.dtype != torch.uint8:
            raise ValueError(
                f"video file {str(path)!r} decoded to {video.dtype}; expected 8-bit frames"
            )
        video = _resize(video.float() / 127.5 - 1.0, self.size)
        return {"video": video.clamp(-1.0, 1.0), "path": str(path)}
