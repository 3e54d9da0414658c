"""What every generated dataset shares: item ``i`` comes from ``default_rng([seed, i])``.

Seeding each item by its own index (not by a stream shared across the dataset) makes item ``i``
the same whatever order, batch or ``DataLoader`` worker asks for it, and needs no storage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate


def check_int(name: str, value, low: int, high: int | None = None) -> None:
    """Raise ValueError unless ``value`` is an int in ``low..high`` (``high=None``: no upper bound)."""
    valid = f">= {low}" if high is None else f"in {low}..{high}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int {valid}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {valid}, got {value}")


class SeededClips(Dataset, ABC):
    """Base class: subclasses set ``self.n`` and ``self.seed`` and implement ``_generate(rng)``."""

    n: int
    seed: int

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        if isinstance(index, torch.Tensor):
            index = int(index)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(f"index must be in 0..{self.n - 1}, got {index}")
        return self._generate(np.random.default_rng([self.seed, int(index)]))

    def batch(self, indices: Sequence[int]) -> dict:
        """Items ``indices`` collated into one dict of batched tensors (captions: a list)."""
        return default_collate([self[i] for i in indices])

    @abstractmethod
    def _generate(self, rng: np.random.Generator) -> dict:
        """One item, drawn from ``rng`` alone."""
