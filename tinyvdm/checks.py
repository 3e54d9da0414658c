"""What a public function says it received when its input is wrong.

Every input check in the library ends its message with "got ...": the shape of a tensor (with
its dtype where the dtype is part of the contract, e.g. int64 tokens), or the type of anything
else. :func:`describe` writes that part, so the messages read the same everywhere.
"""

from __future__ import annotations

import torch


def describe(x, dtype: bool = True) -> str:
    """``"torch.int64 (2, 3)"`` for a tensor (``"(2, 3)"`` with ``dtype=False``), else the type's name."""
    if isinstance(x, torch.Tensor):
        return f"{x.dtype} {tuple(x.shape)}" if dtype else str(tuple(x.shape))
    return type(x).__name__
