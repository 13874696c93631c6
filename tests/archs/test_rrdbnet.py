"""RRDBNet (the ESRGAN generator) follows the paper's structure."""

import torch

from srlab.archs import RRDBNet


def test_rrdbnet_structure_follows_the_paper():
    net = RRDBNet(num_block=2)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    rdb = net.body[0].rdbs[0]
    assert [c.in_channels for c in rdb.convs] == [64, 96, 128, 160, 192]
    assert [c.out_channels for c in rdb.convs] == [32, 32, 32, 32, 64]
    assert rdb.res_scale == 0.2 and net.body[0].res_scale == 0.2
    assert sum(isinstance(m, torch.nn.Upsample) and m.mode == "nearest" for m in net.upsample) == 2
    # He init scaled by 0.1: std ~ 0.1 * sqrt(2 / fan_in)
    w = rdb.convs[4].weight
    assert abs(w.std().item() / (0.1 * (2 / (192 * 9)) ** 0.5) - 1) < 0.1
