"""Fixtures for the recommender.ml tests."""
import pytest
import torch


@pytest.fixture
def torch_single_thread():
    """Tiny tensors: on a shared 2-core machine extra intra-op threads only add contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
