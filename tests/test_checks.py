"""The one helper that writes the "got ..." part of every input check."""

import torch

from tinyvdm.checks import describe


def test_describe_names_dtype_and_shape_or_the_type():
    tokens = torch.zeros(2, 3, dtype=torch.long)
    assert describe(tokens) == "torch.int64 (2, 3)"
    assert describe(tokens, dtype=False) == "(2, 3)"
    assert describe([1, 2]) == "list"
    assert describe(None) == "NoneType"
