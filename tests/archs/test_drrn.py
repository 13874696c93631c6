"""DRRN: the units of a block share their convolutions, not their batch norms."""

import torch

from srlab.archs import DRRN
from tests.helpers import weights_seen


def test_drrn_units_share_conv_weights_but_not_batch_norm():
    net = DRRN(num_feat=8, num_block=2, num_unit=4)
    x = torch.rand(2, 1, 10, 10)
    for block in net.blocks:
        seen1 = weights_seen(block.conv1, lambda: net(x))
        seen2 = weights_seen(block.conv2, lambda: net(x))
        assert len(seen1) == len(seen2) == 4
        assert all(w is block.conv1.weight for w in seen1) and all(
            w is block.conv2.weight for w in seen2
        )
        bn = [pre[0].weight for pre in block.pre1]
        assert len({id(w) for w in bn}) == 4  # BN/Scale separate per unit
    assert net.blocks[0].conv1.weight is not net.blocks[1].conv1.weight  # blocks do not share
