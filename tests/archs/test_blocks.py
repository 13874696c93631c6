"""Shared building blocks (srlab.archs.blocks): mean shift, upsampler, residual block."""

import pytest
import torch
from torch import nn

from srlab.archs import EDSR, MeanShift, ResidualBlockNoBN, Upsampler


def test_blocks():
    x = torch.rand(1, 3, 5, 5)
    assert torch.allclose(MeanShift(sign=1)(MeanShift(sign=-1)(x)), x)
    assert MeanShift().mean.flatten().tolist() == pytest.approx([0.4488, 0.4371, 0.4040])
    assert not list(MeanShift().parameters())
    f = torch.rand(1, 4, 5, 6)
    assert Upsampler(4, 4)(f).shape == (1, 4, 20, 24) and len(Upsampler(4, 4)) == 4  # 2 x2 stages
    assert Upsampler(3, 4)(f).shape == (1, 4, 15, 18)
    block = ResidualBlockNoBN(4, res_scale=0.0)
    assert torch.equal(block(f), f)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in EDSR(num_feat=4, num_block=2).modules())
    buffers = dict(EDSR(num_feat=4, num_block=1).named_buffers())
    assert set(buffers) == {
        "sub_mean.mean",
        "add_mean.mean",
    }  # the mean is a buffer, not a parameter
