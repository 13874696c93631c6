"""SRResNet (the SRGAN generator) follows the paper's structure."""

import torch

from srlab.archs import SRResNet


def test_srresnet_structure_follows_the_paper():
    net = SRResNet()
    assert net.head[0].kernel_size == (9, 9) and net.tail.kernel_size == (9, 9)
    assert isinstance(net.head[1], torch.nn.PReLU)
    assert len(net.body) == 16 and all(
        isinstance(b.body[1], torch.nn.BatchNorm2d) for b in net.body
    )
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in net.upsample) == 2
    assert not any(isinstance(m, torch.nn.Tanh) for m in net.modules())  # linear output
