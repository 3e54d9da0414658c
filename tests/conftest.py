"""Fixtures shared by the unit tests."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one thread, then restore the setting.

    For modules whose tensors are tiny: two threads spend their time synchronising, and on a
    shared machine a busy second core makes every parallel op wait for it.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
