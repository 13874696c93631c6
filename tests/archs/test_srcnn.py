"""SRCNN: valid (paper) and same padding, parameter counts."""

import pytest
import torch

from srlab.archs import SRCNN
from tests.helpers import n_params


def test_srcnn_valid_border_and_same_padding():
    valid = SRCNN(scale=3)  # 9-1-5
    assert valid.pre_upsample and valid.border == 6
    assert valid(torch.rand(1, 1, 33, 33)).shape == (1, 1, 21, 21)
    same = SRCNN(scale=3, kernel_sizes=(9, 5, 5), padding="same")
    assert same.border == 0 and same(torch.rand(1, 1, 20, 20)).shape == (1, 1, 20, 20)
    assert n_params(valid) == 8129 and n_params(SRCNN(kernel_sizes=(9, 5, 5))) == 57281


def test_bad_padding_is_clear():
    with pytest.raises(ValueError, match="padding"):
        SRCNN(padding="full")
