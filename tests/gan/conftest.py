"""tests/gan run their tiny networks on one CPU thread: on a shared, loaded machine the default
intra-op thread pool spins and makes small convolutions 50x slower."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
