"""Run profiles, device choice and seeding: the first cell of every chapter.

Taught in chapter 00. A chapter never hard-codes a size: it asks the profile, so the same
notebook is a one-minute smoke test in CI, a ten-minute lesson on a laptop CPU and a larger
run on a GPU.

- ``smoke``: CI; every cell runs, on tiny data, in about a minute per chapter.
- ``cpu``: a laptop CPU; each chapter within 10 minutes, with results that show the idea.
- ``gpu``: larger models and data.

The profile is chosen by ``TINYVDM_PROFILE``; when unset, ``gpu`` if CUDA is present, else
``cpu``.
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

PROFILES = ("smoke", "cpu", "gpu")
T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """The active run profile and the device it runs on."""

    name: str
    device: torch.device

    @property
    def is_smoke(self) -> bool:
        return self.name == "smoke"

    def pick(self, *, smoke: T, cpu: T, gpu: T | None = None) -> T:
        """Return the value for this profile; ``gpu`` falls back to ``cpu`` when not given."""
        if self.name == "smoke":
            return smoke
        if self.name == "gpu" and gpu is not None:
            return gpu
        return cpu

    def __repr__(self) -> str:
        return f"Profile(name={self.name!r}, device={str(self.device)!r})"


def get_device(prefer: str | None = None) -> torch.device:
    """The best device here: CUDA, then Apple MPS, then the CPU.

    ``prefer`` (or the ``TINYVDM_DEVICE`` environment variable) forces one, e.g. ``"cpu"`` to
    compare a GPU run with a laptop's.
    """
    prefer = prefer or os.environ.get("TINYVDM_DEVICE")
    if prefer:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {prefer!r} was asked for but CUDA is not available here")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device {prefer!r} was asked for but MPS is not available here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def get_profile(name: str | None = None) -> Profile:
    """The active profile: ``name``, else ``$TINYVDM_PROFILE``, else ``gpu`` on CUDA, else ``cpu``."""
    name = name or os.environ.get("TINYVDM_PROFILE") or None
    device = get_device()
    if name is None:
        name = "gpu" if device.type == "cuda" else "cpu"
    name = name.strip().lower()
    if name not in PROFILES:
        raise ValueError(f"TINYVDM_PROFILE must be one of {PROFILES}, got {name!r}")
    return Profile(name=name, device=device)


def pick(*, smoke: T, cpu: T, gpu: T | None = None) -> T:
    """Shorthand for ``get_profile().pick(...)``: one size per profile, in one place."""
    return get_profile().pick(smoke=smoke, cpu=cpu, gpu=gpu)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) and return a torch generator with that seed."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def autocast(device: torch.device | str | None = None, enabled: bool | None = None):
    """Mixed precision where it pays: bf16 autocast on CUDA (and MPS), full fp32 on the CPU.

    On this course's reference CPU bf16 also speeds up some models, but it changes numerics a
    learner compares against the chapter text, so the CPU default stays fp32; pass
    ``enabled=True`` to try it.
    """
    device = torch.device(device) if device is not None else get_device()
    if enabled is None:
        enabled = device.type in ("cuda", "mps")
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
